"""The example payloads of Slack's own documentation, replayed through the bot (tests/fixtures/slack_docs).

Each is signed as Slack signs it; only the response_url is swapped for the emulator's, so no traffic
leaves loopback. What the bot does with each: a slash command it does not own is answered "unknown
command", one it owns is run; a click on a button it did not build is answered by response_url; the
submission of a modal it did not open is acknowledged with an empty 200 (Slack closes the modal);
an Events API delivery is acknowledged.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import httpx

from bot.store import audit
from sandbox.emulators.signer import SignedRequest
from tests.conftest import eventually

DOCS = Path(__file__).resolve().parent / "fixtures" / "slack_docs"
SERVICES = """
[[services]]
name = "backend"
url = "http://127.0.0.1:9"
"""


def _form(signer, fields: dict[str, str]) -> SignedRequest:
    body = urlencode(fields).encode()
    return SignedRequest(body, signer.sign(body))


def _interaction(signer, payload: dict) -> SignedRequest:
    return _form(signer, {"payload": json.dumps(payload)})


async def _post(bot, req: SignedRequest) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(bot.slack_url, content=req.body, headers=req.headers)


async def _rows(bot):
    await bot.rt.audit.flush()
    return await audit.entries(bot.rt.store)


def _slash_command(slack) -> dict[str, str]:
    fields = dict(parse_qsl((DOCS / "slash_command.txt").read_text(encoding="utf-8").strip()))
    fields["response_url"] = slack.response_url(channel=fields["channel_id"])
    return fields


async def test_the_documented_slash_command(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    fields = _slash_command(slack)
    assert (fields["command"], fields["text"], fields["enterprise_id"]) == ("/weather", "94070", "E0001")
    resp = await _post(bot, _form(signer, fields))
    assert resp.status_code == 200 and "/weather" in resp.json()["text"]  # not one of this bot's commands
    resp = await _post(bot, _form(signer, {**fields, "command": "/health", "text": "nosuch",
                                           "trigger_id": fields["trigger_id"] + "1"}))
    assert resp.status_code == 200 and "nosuch" in resp.json()["text"] and "backend" in resp.json()["text"]
    rows = await _rows(bot)
    assert [(r.name, r.team_id, r.user_id, r.channel_id, r.outcome) for r in rows] == [
        ("/weather", "T0001", "U2147483697", "C2147483705", "unhandled"),
        ("/health", "T0001", "U2147483697", "C2147483705", "usage")]


async def test_the_documented_block_actions_click(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    payload = json.loads((DOCS / "block_actions.json").read_text(encoding="utf-8"))
    payload["response_url"] = slack.response_url("actions", channel=payload["channel"]["id"],
                                                 message_ts=payload["container"]["message_ts"])
    resp = await _post(bot, _interaction(signer, payload))
    assert resp.status_code == 200
    [answer] = await slack.wait_for(lambda: slack.responses or None)
    assert answer.status == 200 and "no longer handled" in answer.payload["text"]
    assert answer.payload["response_type"] == "ephemeral"
    [row] = await _rows(bot)
    assert (row.kind, row.name, row.user_id, row.channel_id, row.outcome) == (
        "action", "WaXA", "UA8RXUSPL", "CBR2V3XEX", "unhandled")


async def test_the_documented_view_submission_of_a_modal_the_bot_did_not_open(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    payload = json.loads((DOCS / "view_submission.json").read_text(encoding="utf-8"))
    resp = await _post(bot, _interaction(signer, payload))
    assert resp.status_code == 200 and resp.content == b""  # no response_action: Slack closes the modal
    [row] = await _rows(bot)
    assert (row.kind, row.name, row.user_id, row.outcome) == ("view", "modal-with-inputs", "U0MJRG1AL",
                                                              "unhandled")
    # Nothing is said or opened (users.info is the person's language, looked up for every request).
    assert [c.method for c in slack.calls if c.method not in ("auth.test", "users.info")] == []
    assert slack.responses == []


async def test_the_documented_app_home_opened_event_and_its_retry(make_bot, slack, signer):
    """The Home tab is published once for that person (tests/test_home.py has the rest); the retry is
    acknowledged without publishing again."""
    bot = await make_bot(SERVICES)
    body = (DOCS / "app_home_opened.json").read_bytes()
    first = SignedRequest(body, {**signer.sign(body), "Content-Type": "application/json"})
    assert (await _post(bot, first)).status_code == 200
    await eventually(lambda: slack.calls_to("views.publish"), timeout=30)
    assert (await _post(bot, signer.retried(first, 1, "http_timeout"))).status_code == 200
    await bot.rt.jobs.join()
    rows = await _rows(bot)
    assert [(r.kind, r.name, r.outcome, r.detail) for r in rows] == [
        ("event", "app_home_opened", "published", ""), ("event", "app_home_opened", "ignored", "retry 1")]
    assert [c.params["user_id"] for c in slack.calls_to("views.publish")] == ["U061F7AUR"]
    assert slack.responses == []
