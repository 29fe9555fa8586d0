"""What Slack sends besides commands and clicks, and how it sends them, through the real HTTP path.

Slack escapes ``&``, ``<`` and ``>`` in a slash command's text; it checks a command URL with
``ssl_check=1``; it delivers Events API payloads as JSON and retries those that get no 2xx with
``X-Slack-Retry-Num`` (slack-platform.md §2).
"""

from __future__ import annotations

import json

import httpx

from bot.store import audit
from sandbox.emulators.signer import SignedRequest

SERVICES = """
[[services]]
name = "backend"
url = "http://127.0.0.1:9"
"""


async def _post(bot, req: SignedRequest) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(bot.slack_url, content=req.body, headers=req.headers)


async def _rows(bot):
    await bot.rt.audit.flush()
    return await audit.entries(bot.rt.store)


async def test_command_text_is_unescaped_once_and_escaped_once_on_the_way_out(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    req = signer.slash_command("/health", "a&b<c>", user_id="U1", response_url=slack.response_url())
    assert b"text=a%26amp%3Bb%26lt%3Bc%26gt%3B" in req.body  # as Slack sends it
    resp = await _post(bot, req)
    text = resp.json()["text"]
    assert "`a&amp;b&lt;c&gt;`" in text
    assert "&amp;amp;" not in text and "&amp;lt;" not in text
    [row] = await _rows(bot)
    assert row.arguments == "a&b<c>"  # what the person typed


async def test_ssl_check_gets_200_and_runs_nothing(make_bot, signer):
    bot = await make_bot(SERVICES)
    resp = await _post(bot, signer.ssl_check())
    assert resp.status_code == 200
    unsigned = SignedRequest(b"ssl_check=1&token=x", {"Content-Type": "application/x-www-form-urlencoded"})
    assert (await _post(bot, unsigned)).status_code == 200
    assert await _rows(bot) == []


async def test_an_ssl_check_body_with_a_command_still_needs_a_signature(make_bot):
    bot = await make_bot(SERVICES)
    forged = SignedRequest(b"ssl_check=1&command=%2Fhealth&user_id=U1",
                           {"Content-Type": "application/x-www-form-urlencoded"})
    assert (await _post(bot, forged)).status_code == 401


def _event(signer, event: dict) -> SignedRequest:
    body = json.dumps({"type": "event_callback", "team_id": signer.team_id, "api_app_id": signer.api_app_id,
                       "event": event, "event_id": "Ev0TEST", "event_time": 1}).encode()
    return SignedRequest(body, {**signer.sign(body), "Content-Type": "application/json"})


async def test_events_and_their_retries_are_acknowledged_not_acted_on(make_bot, slack, signer):
    """Events the app does not subscribe to (app_home_opened is the one it handles: tests/test_home.py)."""
    bot = await make_bot(SERVICES)
    first = _event(signer, {"type": "member_joined_channel", "user": "U1", "channel": "C0OPS"})
    assert (await _post(bot, first)).status_code == 200
    retry = signer.retried(first, 1)
    assert retry.headers["X-Slack-Retry-Num"] == "1"
    assert (await _post(bot, retry)).status_code == 200
    rows = await _rows(bot)
    assert [(r.kind, r.name, r.outcome, r.detail) for r in rows] == [
        ("event", "member_joined_channel", "ignored", ""), ("event", "member_joined_channel", "ignored", "retry 1")]
    assert [c.method for c in slack.calls if c.method != "auth.test"] == []


async def test_a_retried_home_opening_is_acknowledged_without_publishing_again(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    first = _event(signer, {"type": "app_home_opened", "user": "U1", "channel": "D0BOTDM", "tab": "home"})
    assert (await _post(bot, signer.retried(first, 1))).status_code == 200
    rows = await _rows(bot)
    assert [(r.kind, r.name, r.outcome, r.detail) for r in rows] == [
        ("event", "app_home_opened", "ignored", "retry 1")]
    assert slack.calls_to("views.publish") == []


async def test_url_verification_gets_its_challenge_back(make_bot, signer):
    bot = await make_bot(SERVICES)
    body = json.dumps({"type": "url_verification", "token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV"}).encode()
    resp = await _post(bot, SignedRequest(body, {**signer.sign(body), "Content-Type": "application/json"}))
    assert resp.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


async def test_unsigned_events_get_401(make_bot, signer):
    bot = await make_bot(SERVICES)
    body = b'{"type": "url_verification", "challenge": "x"}'
    assert (await _post(bot, SignedRequest(body, {"Content-Type": "application/json"}))).status_code == 401
