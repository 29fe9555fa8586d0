"""Answers to a response_url: short timeouts, one retry, a fallback, and never a worker held by a hung URL.

The response_urls here are a small aiohttp server on loopback that hangs, fails or succeeds on demand.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from bot.common.responses import ATTEMPTS, RESPOND_TIMEOUT
from bot.store import audit
from sandbox.emulators.base import LoopbackServer
from tests.conftest import eventually

SERVICES = """
[[services]]
name = "backend"
url = "http://127.0.0.1:9"
"""


class ResponseUrls(LoopbackServer):
    """``/hang/<n>`` never answers (until stopped); ``/status/<code>/<n>`` answers ``code`` the first
    time and 200 after (``/always/<code>/<n>``: every time)."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self.release = asyncio.Event()

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{kind}/{rest:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        self.hits[request.path] += 1
        self.bodies.append(await request.json())
        kind = request.match_info["kind"]
        if kind == "hang":
            await self.release.wait()
            return web.json_response({"ok": True})
        code = int(request.match_info["rest"].split("/")[0])
        if kind == "always" or self.hits[request.path] == 1:
            return web.json_response({"ok": False, "error": "nope"}, status=code)
        return web.json_response({"ok": True})

    async def stop(self) -> None:
        self.release.set()
        await super().stop()


@pytest.fixture
async def urls() -> AsyncIterator[ResponseUrls]:
    server = ResponseUrls()
    await server.start()
    yield server
    await server.stop()


async def _post(bot, req) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(bot.slack_url, content=req.body, headers=req.headers)


async def _failed_rows(bot) -> list:
    await bot.rt.audit.flush()
    return [r for r in await audit.entries(bot.rt.store) if r.name == "response_url"]


async def test_twelve_hanging_response_urls_do_not_delay_another_persons_health(make_bot, slack, signer, urls):
    bot = await make_bot(SERVICES, CHATOPS_WORKERS=2)
    for i in range(12):
        req = signer.slash_command("/health", "backend", user_id=f"U0H{i:02d}", channel_id="C0GENERAL",
                                   response_url=f"{urls.url}/hang/{i}")
        assert (await _post(bot, req)).status_code == 200
    await eventually(lambda: sum(urls.hits.values()) >= 12)  # every report reached its (hung) URL

    other = signer.slash_command("/health", "backend", user_id="U0OTHER", channel_id="C0GENERAL",
                                 response_url=slack.response_url(channel="C0GENERAL"))
    assert (await _post(bot, other)).status_code == 200

    def reported() -> tuple[list, int] | None:
        """The other person's report, and how many posts the hung URLs had had when it arrived."""
        found = [r for r in slack.responses if r.payload.get("response_type") == "in_channel"]
        return (found, sum(urls.hits.values())) if found else None

    report, hits = await slack.wait_for(reported, timeout=30)
    # Still 12: not one hung answer had reached its 3 s timeout and been retried, so nothing waited for them.
    assert hits == 12, "a hung response_url delayed someone else's /health"
    assert "backend" in json.dumps(report[0].payload)
    assert await _failed_rows(bot) == []  # the hung ones had not even timed out yet: no worker waited for them

    # Each hung answer is tried twice, then posted in the channel instead, and audited as failed.
    rows = await eventually(lambda: _twelve(bot), timeout=ATTEMPTS * RESPOND_TIMEOUT + 30)
    assert {r.user_id for r in rows} == {f"U0H{i:02d}" for i in range(12)}
    assert all("no answer within" in r.detail and "chat.postMessage C0GENERAL" in r.detail for r in rows)
    assert set(urls.hits.values()) == {ATTEMPTS}
    fallbacks = [c for c in slack.calls_to("chat.postMessage") if c.ok]
    assert len(fallbacks) == 12 and all("backend" in c.params["text"] for c in fallbacks)


async def _twelve(bot):
    rows = await _failed_rows(bot)
    return rows if len(rows) == 12 else None


async def test_a_5xx_is_retried_once(make_bot, slack, signer, urls):
    bot = await make_bot(SERVICES)
    req = signer.slash_command("/health", "backend", user_id="U0ANA", channel_id="C0GENERAL",
                               response_url=f"{urls.url}/status/500/a")
    await _post(bot, req)
    await eventually(lambda: urls.hits["/status/500/a"] == 2)
    await bot.rt.jobs.join()
    await bot.rt.responses.drain(10)
    assert await _failed_rows(bot) == []
    assert slack.calls_to("chat.postMessage") == []


async def test_an_expired_url_is_not_retried_and_the_person_gets_an_ephemeral(make_bot, slack, signer, urls):
    bot = await make_bot(SERVICES)
    click = signer.block_actions("no.such.button", "x", user_id="U0ANA", channel_id="C0GENERAL", message_ts="1.0",
                                 response_url=f"{urls.url}/always/404/b")
    assert (await _post(bot, click)).status_code == 200
    [row] = await eventually(lambda: _failed_rows(bot))
    assert urls.hits["/always/404/b"] == 1  # a 4xx (expired_url, used_url) cannot get better by retrying
    assert "HTTP 404" in row.detail and "chat.postEphemeral C0GENERAL" in row.detail
    [call] = slack.calls_to("chat.postEphemeral")
    assert call.params["user"] == "U0ANA" and "no longer handled" in call.params["text"]


async def test_when_the_ephemeral_fails_too_the_person_gets_a_dm(make_bot, slack, signer, urls):
    bot = await make_bot(SERVICES)
    slack.fail("chat.postEphemeral", "user_not_in_channel")
    click = signer.block_actions("no.such.button", "x", user_id="U0ANA", channel_id="C0GENERAL", message_ts="1.0",
                                 response_url=f"{urls.url}/always/500/c")
    await _post(bot, click)
    [row] = await eventually(lambda: _failed_rows(bot), timeout=30)
    assert urls.hits["/always/500/c"] == ATTEMPTS
    assert "chat.postMessage U0ANA" in row.detail
    [dm] = [c for c in slack.calls_to("chat.postMessage") if c.ok]
    assert dm.response["channel"].startswith("D") and "no longer handled" in dm.params["text"]


async def test_answers_to_one_request_keep_their_order(make_bot, slack, signer, urls):
    bot = await make_bot(SERVICES)
    from bot.common.responses import Origin

    respond = bot.rt.responses.responder(Origin(f"{urls.url}/status/503/d", "U0ANA", "C0GENERAL"))
    for i in range(3):
        await respond(text=f"answer {i}")
    await bot.rt.responses.drain(10)
    assert [b["text"] for b in urls.bodies] == ["answer 0", "answer 0", "answer 1", "answer 2"]
