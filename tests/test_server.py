"""The foundation through the real HTTP path: signatures, acks, audit, readiness, bad input."""

from __future__ import annotations

import io
import json
import logging
import time
from urllib.parse import urlsplit

import httpx
import pytest

from bot.common import metrics
from bot.common.log import setup_logging
from bot.store import audit
from sandbox.emulators.target import Gate, TargetEmulator
from tests.conftest import SIGNING_SECRET, eventually
from tests.tcp_proxy import TcpProxy

SERVICES = """
[[services]]
name = "backend"
url = "http://127.0.0.1:9"
"""


def _counter(counter) -> float:
    return counter._value.get()


async def _post(bot, req) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(bot.slack_url, content=req.body, headers=req.headers)


async def _audit_rows(bot):
    await bot.rt.audit.flush()
    return await audit.entries(bot.rt.store)


async def test_valid_signature_is_acknowledged_and_audited(db_url, make_bot, slack, signer):
    bot = await make_bot(SERVICES, database_url=db_url)
    req = signer.slash_command("/health", "nosuchservice", user_id="U1", channel_id="C0GENERAL",
                               response_url=slack.response_url())
    resp = await _post(bot, req)
    assert resp.status_code == 200
    assert "nosuchservice" in resp.json()["text"] and "backend" in resp.json()["text"]
    rows = await _audit_rows(bot)
    assert [(r.kind, r.name, r.user_id, r.channel_id, r.arguments) for r in rows] == [
        ("command", "/health", "U1", "C0GENERAL", "nosuchservice")]
    assert rows[0].outcome == "usage"


async def test_the_ack_does_not_wait_for_the_work(make_bot, slack, signer):
    """Slack gives a command 3 s to be acknowledged: the bot acknowledges first and works after. Every
    request to the backend is held at the target's gate until the test opens it, after the ack: a bot
    that probed before acknowledging could not acknowledge at all."""
    target = TargetEmulator()
    await target.start()
    try:
        target.set_gate(Gate(None))
        bot = await make_bot(f'[[services]]\nname = "backend"\nurl = "{target.url}"\n',
                             CHATOPS_PROBE_TIMEOUT_SECONDS=60, CHATOPS_PROBE_BUDGET_SECONDS=60)
        resp = await _post(bot, signer.slash_command("/health", "backend", user_id="U1", channel_id="C0GENERAL",
                                                     response_url=slack.response_url(channel="C0GENERAL")))
        assert resp.status_code == 200 and "Checking backend" in resp.json()["text"]
        assert not target.gate.is_open and slack.responses == []  # acknowledged while the work waits
        target.gate.open()
        posted = await eventually(lambda: [r.payload for r in slack.responses
                                           if r.payload.get("response_type") == "in_channel"], timeout=30)
        assert posted[0]["text"].startswith("backend: healthy") and target.gate.arrived
    finally:
        await target.stop()


@pytest.mark.parametrize("case", ["bad_secret", "stale", "missing", "future"])
async def test_bad_signatures_get_401_and_leave_no_row(make_bot, slack, signer, case):
    from sandbox.emulators.signer import SlackRequestSigner

    bot = await make_bot(SERVICES)
    before = _counter(metrics.UNAUTHENTICATED)
    if case == "bad_secret":
        req = SlackRequestSigner("not-the-secret").slash_command("/health", "", user_id="U1",
                                                                 response_url=slack.response_url())
        headers = req.headers
    else:
        req = signer.slash_command("/health", "", user_id="U1", response_url=slack.response_url())
        headers = dict(req.headers)
        if case == "missing":
            headers.pop("X-Slack-Signature")
        else:
            # Well past the 300 s window: a 301 s shift sits on the edge, and a request that
            # crosses a second boundary on its way in is then 300 s off and rightly accepted.
            # The exact edge is tested with a fixed clock in test_signing.py.
            shift = -600 if case == "stale" else 600
            headers = signer.sign(req.body, timestamp=int(time.time()) + shift)
    async with httpx.AsyncClient() as http:
        resp = await http.post(bot.slack_url, content=req.body, headers=headers)
    assert resp.status_code == 401
    assert _counter(metrics.UNAUTHENTICATED) == before + 1
    assert await _audit_rows(bot) == []
    assert slack.responses == []


async def test_replayed_request_runs_once(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    req = signer.slash_command("/health", "backend", user_id="U1", response_url=slack.response_url())
    first = await _post(bot, req)
    second = await _post(bot, req)
    assert first.status_code == second.status_code == 200
    assert "already handled" in second.json()["text"]
    rows = await eventually(lambda: _finished(bot, 2))
    assert sorted(r.outcome for r in rows) == ["ok", "replay"]
    await bot.rt.jobs.join()
    await bot.rt.responses.drain(10)  # the answers leave after the job, outside the pool
    in_channel = [r for r in slack.responses if r.payload.get("response_type") == "in_channel"]
    assert len(in_channel) == 1


async def _finished(bot, count):
    rows = await _audit_rows(bot)
    done = [r for r in rows if r.outcome != "received"]
    return rows if len(done) >= count else None


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"command=%2Fhealth&text=\xff\xfe", "application/x-www-form-urlencoded", "UTF-8"),
        (b'{"command": "/health"}', "application/json", "neither"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded", "JSON"),
        (b"hello=world", "application/x-www-form-urlencoded", "neither"),
    ],
    ids=["invalid-utf8", "json-body", "payload-not-json", "form-without-command"],
)
async def test_malformed_signed_bodies_get_a_clear_400(make_bot, signer, body, content_type, expected):
    bot = await make_bot(SERVICES)
    headers = signer.sign(body)
    headers["Content-Type"] = content_type
    async with httpx.AsyncClient() as http:
        resp = await http.post(bot.slack_url, content=body, headers=headers)
    assert resp.status_code == 400
    assert expected in resp.json()["error"]
    rows = await _audit_rows(bot)
    assert [(r.kind, r.outcome) for r in rows] == [("invalid", "rejected")]


async def test_unknown_command_and_overlong_text(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    resp = await _post(bot, signer.slash_command("/frobnicate", "x", user_id="U1",
                                                 response_url=slack.response_url()))
    assert resp.status_code == 200 and "/frobnicate" in resp.json()["text"]
    resp = await _post(bot, signer.slash_command("/health", "a" * 10_000, user_id="U1",
                                                 response_url=slack.response_url()))
    assert resp.status_code == 200 and "too long" in resp.json()["text"]
    rows = await eventually(lambda: _finished(bot, 2))
    assert {r.outcome for r in rows} == {"unhandled", "usage"}


async def test_unknown_action_answers_on_the_response_url(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    url = slack.response_url(kind="actions")
    req = signer.block_actions("no.such.action", "v", user_id="U1", channel_id="C0GENERAL", message_ts="1.0",
                               response_url=url)
    resp = await _post(bot, req)
    assert resp.status_code == 200
    posted = await slack.wait_for(lambda: slack.responses or None)
    assert "no longer handled" in json.dumps([r.payload for r in posted])


async def test_ready_follows_the_database(pg_url, make_bot):
    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    port = await proxy.start()
    proxied = pg_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{port}")
    bot = await make_bot(SERVICES, database_url=proxied)
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(bot.url + "/ready")).status_code == 200
        assert (await http.get(bot.url + "/health")).status_code == 200
        await proxy.cut()
        resp = await http.get(bot.url + "/ready")
        assert resp.status_code == 503
        assert resp.json()["reason"] == "database unreachable"
        assert "postgres@" not in resp.text or "[redacted]" in resp.text
        assert (await http.get(bot.url + "/health")).status_code == 200
        await proxy.restore()
        assert (await eventually(lambda: _ready(http, bot.url), timeout=30)) == 200
    await proxy.cut()
    await proxy.restore()


async def _ready(http, url):
    resp = await http.get(url + "/ready")
    return resp.status_code if resp.status_code == 200 else None


async def test_metrics_expose_acks_and_unauthenticated(make_bot, slack, signer):
    bot = await make_bot(SERVICES)
    await _post(bot, signer.slash_command("/health", "x", user_id="U1", response_url=slack.response_url()))
    async with httpx.AsyncClient() as http:
        text = (await http.get(bot.url + "/metrics")).text
    assert 'chatops_requests_total{kind="command",name="/health"}' in text
    assert 'chatops_acks_total{kind="command",name="/health"}' in text
    assert "chatops_ack_seconds_bucket" in text
    assert "chatops_unauthenticated_requests_total" in text


async def test_no_secret_reaches_the_logs(make_bot, slack, signer):
    stream = io.StringIO()
    setup_logging("DEBUG", stream=stream)
    try:
        bot = await make_bot(SERVICES)
        secret_text = "backend xoxb-1111-2222-abcdefabcdef postgres://u:hunter2@db/x"
        await _post(bot, signer.slash_command("/health", secret_text, user_id="U1",
                                              response_url=slack.response_url()))
        await eventually(lambda: _finished(bot, 1))
        rows = await _audit_rows(bot)
    finally:
        logging.getLogger().handlers.clear()
    logged = stream.getvalue()
    assert "request" in logged
    for secret in ("xoxb-1111-2222-abcdefabcdef", "hunter2", SIGNING_SECRET, "xoxb-emulator-token"):
        assert secret not in logged
        assert all(secret not in r.arguments for r in rows)


async def test_follow_ups_accepted_before_a_shutdown_still_finish(slack, signer, sqlite_url, tmp_path):
    from bot.config.services import parse_services
    from bot.store.migrate import upgrade_async
    from sandbox.emulators.target import TargetEmulator
    from sandbox.runner import start_bot
    from tests.conftest import bot_settings

    target = TargetEmulator()
    url = await target.start()
    target.set_fault("/ready", "slow", ms=500)  # the probe is still running when the stop comes
    settings = bot_settings(slack.url, sqlite_url, CHATOPS_AUDIT_SPILL_PATH=str(tmp_path / "audit-spill.jsonl"))
    await upgrade_async(settings.DATABASE_URL)
    bot = await start_bot(settings, parse_services(f'[[services]]\nname = "backend"\nurl = "{url}"\n'))
    try:
        resp = await _post(bot, signer.slash_command("/health", "backend", user_id="U1",
                                                     response_url=slack.response_url()))
        assert resp.status_code == 200
    finally:
        await bot.stop()
        await target.stop()
    assert [r.payload["response_type"] for r in slack.responses] == ["in_channel"]
