"""The audit log cannot be poisoned or silently lost (SQLite and PostgreSQL): a row the database
refuses is isolated and repaired or spilled while the rest are written, the backlog and failures are
in /metrics, /ready reports a stuck writer, and rows still queued at shutdown reach the spill file."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import asyncpg
import httpx

from bot.common import metrics
from bot.store import audit
from bot.store.audit import AuditWriter
from bot.store.db import Store
from bot.store.migrate import upgrade_async
from tests.conftest import eventually

SERVICES = """
[[services]]
name = "backend"
url = "http://127.0.0.1:9"
"""


def _value(counter) -> float:
    return counter._value.get()


async def _writer(db_url: str, tmp_path, **kwargs) -> tuple[Store, AuditWriter]:
    await upgrade_async(db_url)
    store = Store(db_url)
    writer = AuditWriter(store, spill_path=tmp_path / "spill.jsonl", retry_seconds=0.05, **kwargs)
    writer.start()
    return store, writer


async def test_a_refused_row_is_repaired_and_the_rest_are_written(db_url, tmp_path, caplog):
    store, writer = await _writer(db_url, tmp_path)
    repaired_before = _value(metrics.AUDIT_REPAIRED)
    try:
        writer.received(kind="command", name="/health", user_id="U1", correlation_id="c1")
        writer.received(kind="command", name="/health", user_id="U" * 60, correlation_id="c2")  # too long
        writer.received(kind="command", name="/health", user_id=12345, correlation_id="c3")  # not text
        writer.received(kind="command", name="/health", arguments="a\x00b", correlation_id="c4")  # NUL
        writer.outcome("c2", "ok")
        writer.received(kind="command", name="/health", user_id="U2", correlation_id="c5")
        await writer.flush()
        # The writer is not stuck: later rows keep being written.
        writer.received(kind="command", name="/rollback", user_id="U3", correlation_id="c6")
        await writer.flush()
        rows = {r.correlation_id: r for r in await audit.entries(store)}
    finally:
        await writer.stop()
        await store.dispose()
    assert sorted(rows) == ["c1", "c2", "c3", "c4", "c5", "c6"]
    assert (rows["c1"].user_id, rows["c5"].user_id, rows["c6"].user_id) == ("U1", "U2", "U3")
    assert rows["c2"].outcome == "ok"
    assert writer.spilled == 0 and not (tmp_path / "spill.jsonl").exists()
    if store.is_sqlite:  # SQLite checks neither length nor type: nothing to repair
        assert writer.repaired == 0
    else:
        assert writer.repaired == 3
        assert _value(metrics.AUDIT_REPAIRED) == repaired_before + 3
        assert rows["c2"].user_id == "U" * 32 and "repaired user_id" in rows["c2"].detail
        assert rows["c3"].user_id == "12345"
        assert rows["c4"].arguments == "ab" and "repaired arguments" in rows["c4"].detail
        assert "audit row refused by the database was repaired" in caplog.text


async def test_a_row_beyond_repair_goes_to_the_spill_file(db_url, tmp_path, caplog):
    store, writer = await _writer(db_url, tmp_path)
    spilled_before = _value(metrics.AUDIT_SPILLED)
    caplog.set_level(logging.WARNING)
    try:
        writer.received(kind="command", name="/health", user_id="U1", correlation_id="c1")
        writer.received(kind=None, name="/health", user_id="U9", correlation_id="c2",
                        arguments="DATABASE_URL=postgres://app:hunter2@db/app")  # kind is NOT NULL
        writer.outcome("c2", "ok")
        writer.received(kind="command", name="/health", user_id="U2", correlation_id="c3")
        await writer.flush()
        rows = await audit.entries(store)
    finally:
        await writer.stop()
        await store.dispose()
    assert [r.correlation_id for r in rows] == ["c1", "c3"]
    spill = tmp_path / "spill.jsonl"
    lines = [json.loads(line) for line in spill.read_text().splitlines()]
    assert [line.get("row", line.get("outcome"))["correlation_id"] for line in lines] == ["c2", "c2"]
    assert lines[0]["row"]["user_id"] == "U9"
    assert "hunter2" not in spill.read_text()
    assert writer.spilled == 2 and _value(metrics.AUDIT_SPILLED) == spilled_before + 2
    assert str(spill) in caplog.text


async def test_rows_queued_while_the_database_is_away_are_written_or_spilled(pg_url, tmp_path):
    from urllib.parse import urlsplit

    from tests.tcp_proxy import TcpProxy

    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    port = await proxy.start()
    await upgrade_async(pg_url)
    proxied = pg_url.replace(f"{parts.hostname}:{parts.port}", f"127.0.0.1:{port}")
    store, writer = await _writer(proxied, tmp_path)
    failures_before = _value(metrics.AUDIT_WRITE_FAILURES)
    try:
        writer.received(kind="command", name="/health", correlation_id="before")
        await writer.flush()
        await proxy.cut()
        writer.received(kind="command", name="/health", correlation_id="during")
        await eventually(lambda: _value(metrics.AUDIT_WRITE_FAILURES) > failures_before, timeout=30)
        assert writer.backlog == 1 and writer.spilled == 0  # kept, not isolated as a bad row
        await proxy.restore()
        await writer.flush(timeout=15)
        assert [r.correlation_id for r in await audit.entries(store)] == ["before", "during"]
        # Shutdown during an outage spills what is still queued instead of dropping it.
        await proxy.cut()
        writer.received(kind="command", name="/health", correlation_id="at-shutdown")
        await writer.stop()
    finally:
        await proxy.restore()
        await store.dispose()
    lines = (tmp_path / "spill.jsonl").read_text().splitlines()
    assert [json.loads(line)["row"]["correlation_id"] for line in lines] == ["at-shutdown"]


async def test_ready_reports_a_stuck_audit_writer(pg_url, make_bot, slack, signer):
    bot = await make_bot(SERVICES, database_url=pg_url)
    bot.rt.audit.stuck_seconds = 0.2
    locker = await asyncpg.connect(pg_url)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.get(bot.url + "/ready")).status_code == 200
            tx = locker.transaction()
            await tx.start()
            await locker.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")  # inserts wait; pings don't
            req = signer.slash_command("/health", "nosuchservice", user_id="U1", response_url=slack.response_url())
            assert (await http.post(bot.slack_url, content=req.body, headers=req.headers)).status_code == 200
            stuck = await eventually(lambda: _ready_answer(http, bot.url, 503), timeout=30)
            assert stuck["reason"] == "audit writer stuck" and stuck["backlog"] >= 1
            metrics_text = (await http.get(bot.url + "/metrics")).text
            assert "chatops_audit_backlog" in metrics_text
            await tx.rollback()
            await bot.rt.audit.flush()
            assert (await http.get(bot.url + "/ready")).status_code == 200
    finally:
        await locker.close()
    assert [r.user_id for r in await audit.entries(bot.rt.store)] == ["U1"]


async def _ready_answer(http, url, status):
    resp = await http.get(url + "/ready")
    return resp.json() if resp.status_code == status else None


async def test_malformed_ids_then_three_commands_each_audited_on_postgres(pg_url, make_bot, slack, signer):
    """Issue #16's acceptance: a 60-character user id and a numeric user id, then three commands."""
    bot = await make_bot(SERVICES, database_url=pg_url)
    rejected_before = metrics.REJECTED.labels("bad_field")._value.get()
    repaired_before = _value(metrics.AUDIT_REPAIRED)
    async with httpx.AsyncClient(timeout=10) as http:
        long_id = signer.slash_command("/health", "backend", user_id="U" * 60, response_url=slack.response_url())
        assert (await http.post(bot.slack_url, content=long_id.body, headers=long_id.headers)).status_code == 400
        click = signer.block_actions("health.recheck", "backend", user_id="U1", channel_id="C1", message_ts="1.0",
                                     response_url=slack.response_url(kind="actions"))
        payload = json.loads(dict(_pairs(click.body))["payload"])
        payload["user"]["id"] = 12345
        body = urlencode({"payload": json.dumps(payload)}).encode()
        assert (await http.post(bot.slack_url, content=body, headers=signer.sign(body))).status_code == 400
        # A NUL in the text is Slack-valid but PostgreSQL refuses it: that row is repaired, not lost.
        nul = signer.slash_command("/health", "nosuch\x00service", user_id="U0NUL", response_url=slack.response_url())
        assert (await http.post(bot.slack_url, content=nul.body, headers=nul.headers)).status_code == 200
        for user in ("U0A", "U0B", "U0C"):
            req = signer.slash_command("/health", "nosuchservice", user_id=user, response_url=slack.response_url())
            assert (await http.post(bot.slack_url, content=req.body, headers=req.headers)).status_code == 200
        await bot.rt.audit.flush()
        metrics_text = (await http.get(bot.url + "/metrics")).text
    rows = await audit.entries(bot.rt.store)
    assert [(r.kind, r.outcome) for r in rows[:2]] == [("invalid", "rejected"), ("invalid", "rejected")]
    assert [(r.user_id, r.outcome) for r in rows[3:]] == [("U0A", "usage"), ("U0B", "usage"), ("U0C", "usage")]
    assert rows[2].user_id == "U0NUL" and rows[2].arguments == "nosuchservice" and rows[2].outcome == "usage"
    assert "repaired arguments" in rows[2].detail and "repaired outcome" in rows[2].detail
    assert metrics.REJECTED.labels("bad_field")._value.get() == rejected_before + 2
    assert _value(metrics.AUDIT_REPAIRED) == repaired_before + 2  # the row, then its outcome's detail
    assert 'chatops_rejected_requests_total{reason="bad_field"}' in metrics_text
    assert "chatops_audit_rows_repaired_total" in metrics_text


def _pairs(body: bytes):
    from urllib.parse import parse_qsl

    return parse_qsl(body.decode())
