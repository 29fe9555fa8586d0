"""The request signer: Slack's published test vector, slack_sdk's verifier, and Slack-shaped bodies."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, parse_qsl

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.payload_utils import is_block_actions, is_slash_command
from slack_sdk.signature import SignatureVerifier

from sandbox.emulators.signer import SlackRequestSigner

# Slack's documented example ("Verifying requests from Slack"; slack-platform.md §1).
VECTOR_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VECTOR_TS = 1531420618
VECTOR_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
VECTOR_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
SECRET = "unit-test-signing-secret"
RESPONSE_URL = "http://127.0.0.1:9/commands/T0EMULATOR/1/abc"
SLASH_FIELDS = ["token", "team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name", "command",
                "text", "api_app_id", "is_enterprise_install", "response_url", "trigger_id"]


class PinnedClock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def test_published_vector():
    headers = SlackRequestSigner(VECTOR_SECRET).sign(VECTOR_BODY, timestamp=VECTOR_TS)
    assert headers["X-Slack-Signature"] == VECTOR_SIGNATURE
    assert headers["X-Slack-Request-Timestamp"] == str(VECTOR_TS)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    verifier = SignatureVerifier(VECTOR_SECRET, clock=PinnedClock(VECTOR_TS))
    assert verifier.is_valid_request(VECTOR_BODY, headers)


@pytest.mark.parametrize(("shift", "accepted"), [(0, True), (300, True), (-300, True), (301, False), (-301, False)])
def test_five_minute_window(shift, accepted):
    headers = SlackRequestSigner(VECTOR_SECRET).sign(VECTOR_BODY, timestamp=VECTOR_TS)
    verifier = SignatureVerifier(VECTOR_SECRET, clock=PinnedClock(VECTOR_TS + shift))
    assert verifier.is_valid_request(VECTOR_BODY, headers) is accepted


def test_wrong_secret_or_altered_body_is_rejected():
    req = SlackRequestSigner(SECRET).slash_command("/health", "backend", user_id="U1", response_url=RESPONSE_URL)
    assert SignatureVerifier(SECRET).is_valid_request(req.body, req.headers)
    assert not SignatureVerifier("another-secret").is_valid_request(req.body, req.headers)
    assert not SignatureVerifier(SECRET).is_valid_request(req.body.replace(b"backend", b"frontend"), req.headers)


def test_slash_command_carries_every_field_slack_sends():
    signer = SlackRequestSigner(SECRET)
    req = signer.slash_command("/rollback", "backend bad deploy", user_id="U0ALICE", channel_id="C0OPS",
                               channel_name="ops", response_url=RESPONSE_URL, timestamp=1700000000)
    pairs = parse_qsl(req.body.decode(), keep_blank_values=True)
    assert [k for k, _ in pairs] == SLASH_FIELDS
    fields = dict(pairs)
    assert fields["command"] == "/rollback"
    assert fields["text"] == "backend bad deploy"
    assert fields["response_url"] == RESPONSE_URL
    assert (fields["team_id"], fields["api_app_id"], fields["is_enterprise_install"]) == ("T0EMULATOR", "A0CHATOPS",
                                                                                         "false")
    assert req.headers["X-Slack-Request-Timestamp"] == "1700000000"
    assert SignatureVerifier(SECRET, clock=PinnedClock(1700000000)).is_valid_request(req.body, req.headers)
    bolt = AsyncBoltRequest(body=req.body.decode(), headers=req.headers)
    assert is_slash_command(bolt.body)
    assert bolt.context.user_id == "U0ALICE" and bolt.context.channel_id == "C0OPS"


def test_empty_text_is_sent_as_an_empty_field():
    req = SlackRequestSigner(SECRET).slash_command("/health", user_id="U1", response_url=RESPONSE_URL)
    assert b"&text=&" in req.body


def test_trigger_ids_are_unique_and_slack_shaped():
    signer = SlackRequestSigner(SECRET)
    ids = [parse_qs(signer.slash_command("/health", user_id="U1", response_url=RESPONSE_URL).body.decode())
           ["trigger_id"][0] for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(len(i.split(".")) == 3 and len(i.split(".")[2]) == 32 for i in ids)


def test_block_actions_payload():
    signer = SlackRequestSigner(SECRET)
    message = {"type": "message", "ts": "1700000000.000100", "text": "Rollback requested", "bot_id": "B0BOT",
               "blocks": [{"type": "actions", "block_id": "decision", "elements": [
                   {"type": "button", "action_id": "rollback.approve", "value": "r-1", "style": "danger",
                    "text": {"type": "plain_text", "text": "Approve"}}]}]}
    req = signer.block_actions("rollback.approve", "r-1", user_id="U0BOB", user_name="bob", channel_id="C0OPS",
                               message_ts=message["ts"], response_url=RESPONSE_URL, message=message)
    form = parse_qs(req.body.decode())
    assert list(form) == ["payload"]
    payload = json.loads(form["payload"][0])
    assert payload["type"] == "block_actions"
    assert payload["user"] == {"id": "U0BOB", "username": "bob", "name": "bob", "team_id": "T0EMULATOR"}
    assert payload["container"] == {"type": "message", "message_ts": message["ts"], "channel_id": "C0OPS",
                                    "is_ephemeral": False}
    assert payload["team"] == {"id": "T0EMULATOR", "domain": "emulator"}
    assert payload["channel"]["id"] == "C0OPS"
    assert payload["message"] == message
    assert payload["response_url"] == RESPONSE_URL
    assert payload["state"] == {"values": {}}
    assert payload["api_app_id"] == "A0CHATOPS" and payload["token"] and payload["trigger_id"]
    [action] = payload["actions"]
    assert action["action_id"] == "rollback.approve" and action["value"] == "r-1"
    assert action["block_id"] == "decision"  # taken from the message, as Slack does
    assert action["text"] == {"type": "plain_text", "text": "Approve"}
    assert action["style"] == "danger" and action["type"] == "button" and float(action["action_ts"]) > 0
    assert SignatureVerifier(SECRET).is_valid_request(req.body, req.headers)
    bolt = AsyncBoltRequest(body=req.body.decode(), headers=req.headers)
    assert is_block_actions(bolt.body)
    assert bolt.context.user_id == "U0BOB" and bolt.context.channel_id == "C0OPS"


def test_block_actions_without_a_message_uses_defaults():
    req = SlackRequestSigner(SECRET).block_actions("health.recheck", "backend", user_id="U1", channel_id="C1",
                                                   message_ts="1.000100", response_url=RESPONSE_URL)
    payload = json.loads(parse_qs(req.body.decode())["payload"][0])
    assert payload["message"]["ts"] == "1.000100"
    assert payload["actions"][0]["block_id"] == "b1"


def test_repr_hides_the_secret():
    assert SECRET not in repr(SlackRequestSigner(SECRET))
