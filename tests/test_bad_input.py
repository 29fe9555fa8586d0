"""Bad input gets 401 or 400, never 500: malformed signature headers, deeply nested or misshapen
signed bodies, ids that are not Slack's, and a Railway webhook nested 20,000 deep."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

import httpx
import pytest

from bot.common import metrics
from bot.store import audit
from sandbox.emulators.signer import signature
from tests import raw_http
from tests.conftest import SIGNING_SECRET

SERVICES = """
[[services]]
name = "backend"
url = "http://127.0.0.1:9"
"""


def _counter(counter) -> float:
    return counter._value.get()


def _rejected(reason: str) -> float:
    return metrics.REJECTED.labels(reason)._value.get()


async def _post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, content=body, headers=headers)


def _malformed(form: str) -> str:
    """The timestamp text for ``form``, built from the clock when the test runs, so that only
    its form is wrong (a value taken at collection could be minutes stale by then)."""
    now = str(int(time.time()))
    return {
        "400-digits": "9" * 400, "arabic-indic": now.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
        "leading-space": f" {now}", "plus-sign": f"+{now}", "underscore": f"{now[:3]}_{now[3:]}",
        "negative": "-1", "exponent": "1e9", "empty": "",
    }[form]


@pytest.mark.parametrize("form", ["400-digits", "arabic-indic", "leading-space", "plus-sign", "underscore",
                                  "negative", "exponent", "empty"])
async def test_malformed_timestamps_are_unauthenticated_not_errors(make_bot, slack, signer, caplog, form):
    bot = await make_bot(SERVICES)
    timestamp = _malformed(form)
    req = signer.slash_command("/health", "backend", user_id="U1", response_url=slack.response_url())
    # Signed with the very timestamp text sent (when it can be encoded), so only its form is wrong.
    sig = (signature(SIGNING_SECRET, timestamp, req.body) if timestamp.isascii()
           else req.headers["X-Slack-Signature"])
    headers = {**req.headers, "X-Slack-Signature": sig}
    before = _counter(metrics.UNAUTHENTICATED)
    caplog.set_level(logging.DEBUG)
    headers["X-Slack-Request-Timestamp"] = timestamp
    # httpx refuses such header values; a hostile client sends the bytes anyway.
    status, _ = await raw_http.post(bot.slack_url, req.body, headers)
    assert status == 401
    assert _counter(metrics.UNAUTHENTICATED) == before + 1
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert await _rows(bot) == []


async def test_malformed_signature_header_is_unauthenticated(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    req = signer.slash_command("/health", "backend", user_id="U1", response_url=slack.response_url())
    before = _counter(metrics.UNAUTHENTICATED)
    for bad in ("v0=" + "é" * 64, "v0=" + "0" * 63, "v1=" + "0" * 64, "v0=" + "A" * 64):
        status, _ = await raw_http.post(bot.slack_url, req.body, {**req.headers, "X-Slack-Signature": bad})
        assert status == 401
    assert _counter(metrics.UNAUTHENTICATED) == before + 4


def _payload_body(payload: object) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return urlencode({"payload": text}).encode()


def _click(signer, slack, **changes) -> dict:
    req = signer.block_actions("health.recheck", "backend", user_id="U1", channel_id="C1", message_ts="1.0",
                               response_url=slack.response_url(kind="actions"))
    payload = json.loads(dict(_form(req.body))["payload"])
    for path, value in changes.items():
        target = payload
        *parents, last = path.split("__")
        for part in parents:
            target = target[part]
        target[last] = value
    return payload


def _form(body: bytes):
    from urllib.parse import parse_qsl

    return parse_qsl(body.decode())


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"actions": []}, "bad_field"),
        ({"actions": {"action_id": "health.recheck"}}, "bad_field"),
        ({"actions": 7}, "bad_field"),
        ({"actions": ["health.recheck"]}, "bad_field"),
        ({"actions": [{"action_id": 5}]}, "bad_field"),
        ({"user__id": "U" * 60}, "bad_field"),
        ({"user__id": 12345}, "bad_field"),
        ({"user": "U1"}, "bad_field"),
        ({"team": []}, "bad_field"),
        ({"channel__id": "C1; DROP TABLE"}, "bad_field"),
        ({"trigger_id": "t" * 200}, "bad_field"),
        ({"response_url": 5}, "bad_field"),
        ({"type": "shortcut"}, "unsupported_interaction"),
        ({"type": "view_submission"}, "bad_field"),  # a modal's Submit without its view
    ],
    ids=["actions-empty", "actions-object", "actions-number", "actions-strings", "action-id-number",
         "user-id-60", "user-id-number", "user-string", "team-list", "channel-id-junk", "trigger-id-200",
         "response-url-number", "shortcut", "view-submission-without-view"],
)
async def test_misshapen_payloads_get_400_and_a_rejected_row(db_url, make_bot, slack, signer, change, reason):
    bot = await make_bot(SERVICES, database_url=db_url)
    body = _payload_body(_click(signer, slack, **change))
    before = _rejected(reason)
    resp = await _post(bot.slack_url, body, signer.sign(body))
    assert resp.status_code == 400
    assert resp.json()["error"]
    assert _rejected(reason) == before + 1
    rows = await _rows(bot)
    assert [(r.kind, r.outcome) for r in rows] == [("invalid", "rejected")]
    assert rows[0].user_id is None
    assert await _bot_still_answers(bot, signer, slack)


@pytest.mark.parametrize("depth", [65, 10_000])
async def test_deeply_nested_payload_gets_400(make_bot, slack, signer, depth):
    bot = await make_bot(SERVICES)
    payload = _click(signer, slack)
    text = json.dumps(payload)[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
    body = _payload_body(text)
    resp = await _post(bot.slack_url, body, signer.sign(body))
    assert resp.status_code == 400
    assert "nested" in resp.json()["error"]
    assert await _bot_still_answers(bot, signer, slack)


@pytest.mark.parametrize("field", ["user_id", "channel_id", "team_id"])
@pytest.mark.parametrize("value", ["U" * 60, "U1 U2", "Ü1"], ids=["60-chars", "space", "non-ascii"])
async def test_command_with_malformed_ids_gets_400(make_bot, slack, signer, field, value):
    bot = await make_bot(SERVICES)
    fields = dict(_form(signer.slash_command("/health", "backend", user_id="U1",
                                             response_url=slack.response_url()).body))
    fields[field] = value
    body = urlencode(fields).encode()
    resp = await _post(bot.slack_url, body, signer.sign(body))
    assert resp.status_code == 400 and field in resp.json()["error"]
    assert await _bot_still_answers(bot, signer, slack)


async def _rows(bot):
    await bot.rt.audit.flush()
    return await audit.entries(bot.rt.store)


async def _bot_still_answers(bot, signer, slack) -> bool:
    req = signer.slash_command("/health", "nosuchservice", user_id="U1", response_url=slack.response_url())
    resp = await _post(bot.slack_url, req.body, req.headers)
    return resp.status_code == 200 and "nosuchservice" in resp.json()["text"]


async def test_railway_webhook_nested_20000_deep_gets_400(make_bot, slack):
    token = "whk-5f0c2a9e7d1b4c3a8e6f0a1b2c3d4e5f"
    bot = await make_bot(SERVICES, CHATOPS_WEBHOOK_TOKEN=token)
    body = b'{"type": "Deployment.crashed", "details": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(f"{bot.url}/webhooks/railway/{token}", content=body,
                               headers={"Content-Type": "application/json"})
        assert resp.status_code == 400
        for junk in (b"\xff\xfe", b"[]", b"null"):
            resp = await http.post(f"{bot.url}/webhooks/railway/{token}", content=junk,
                                   headers={"Content-Type": "application/json"})
            assert resp.status_code == 400
