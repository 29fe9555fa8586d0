"""/db <service> cleanup on a real PostgreSQL table: dry run, approval, batches, a restart in the middle."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from bot.slack.action_ids import ActionId
from bot.store import actions, audit
from sandbox.emulators.railway import RailwayEmulator
from tests import db_env
from tests.conftest import eventually

USAGE = "Usage: `/db backend backups`"

OLD, RECENT = 100_000, 10_000


async def _fill(dsn: str) -> None:
    """The backend's tables as Prisma makes them: timestamp(3) without time zone, in UTC."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("""
            CREATE TABLE logs (id serial PRIMARY KEY, created_at timestamp(3) NOT NULL, message text NOT NULL);
            CREATE TABLE job (id serial PRIMARY KEY, status text NOT NULL, updated_at timestamp(3) NOT NULL);
        """)
        await conn.execute(f"""
            INSERT INTO logs (created_at, message)
            SELECT (now() AT TIME ZONE 'UTC') - interval '40 days' - i * interval '1 second', 'old ' || i
            FROM generate_series(1, {OLD}) i;
            INSERT INTO logs (created_at, message)
            SELECT (now() AT TIME ZONE 'UTC') - interval '1 day' + i * interval '1 second', 'recent ' || i
            FROM generate_series(1, {RECENT}) i;
            INSERT INTO job (status, updated_at)
            SELECT CASE WHEN i % 2 = 0 THEN 'failed' ELSE 'done' END,
                   (now() AT TIME ZONE 'UTC') - interval '10 days'
            FROM generate_series(1, 30) i;
        """)
    finally:
        await conn.close()


async def _counts(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        old = await conn.fetchval("SELECT count(*) FROM logs WHERE message LIKE 'old %'")
        recent = await conn.fetchval("SELECT count(*) FROM logs WHERE message LIKE 'recent %'")
        return old, recent
    finally:
        await conn.close()


@pytest.fixture
async def target_db(pg_url):
    await _fill(pg_url)
    return pg_url


@pytest.fixture
async def railway(target_db):
    emu = RailwayEmulator(db_env.world(database_url=target_db), stage_seconds=0.05)
    await emu.start()
    yield emu
    await emu.stop()


def _config(pause: float = 0.0, lock_timeout_ms: int = 2000) -> str:
    return db_env.services(f"cleanup = {{ pause_seconds = {pause}, lock_timeout_ms = {lock_timeout_ms} }}")


async def _finished(bot, request_id):
    req = await actions.get(bot.rt.store, request_id)
    return req if req.status in actions.FINAL else None


async def _batches(bot, request_id) -> list[int]:
    return [e.data["rows"] for e in await actions.events(bot.rt.store, request_id) if e.kind == "cleanup.batch"]


async def test_dry_run_then_approved_batches_delete_exactly_the_old_rows(make_bot, slack, signer, railway,
                                                                         target_db):
    bot = await make_bot(_config(), **db_env.settings(railway))
    message = await db_env.request_message(bot, slack, signer, "backend cleanup logs")
    text = json.dumps(message["blocks"], ensure_ascii=False)
    assert "would delete *100,000* rows" in text and 'DELETE FROM \\"logs\\" WHERE \\"created_at\\" &lt; ' in text
    assert "table size" in text and "in batches of 5,000" in text
    assert await _counts(target_db) == (OLD, RECENT)  # the dry run deleted nothing
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]

    clicks = [db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, db_env.APPROVERS[i % 4])
              for i in range(10)]
    await asyncio.gather(*(db_env.post(bot.slack_url, c) for c in clicks))
    done = await eventually(lambda: _finished(bot, request_id), timeout=60)
    assert done.status == actions.SUCCEEDED, done.detail
    assert await _counts(target_db) == (0, RECENT)
    batches = await _batches(bot, request_id)
    assert batches == [5000] * 20 and done.params["deleted"] == OLD
    assert await eventually(lambda: "Deleted 100,000 rows in 20 batches" in json.dumps(
        slack.message(db_env.CHANNEL, message["ts"])["blocks"]))
    await bot.rt.audit.flush()
    story = [(r.kind, r.name, r.outcome) for r in await audit.entries(bot.rt.store)]
    assert ("command", "/db", "requested") in story
    assert sum(1 for s in story if s == ("action", ActionId.ROLLBACK_APPROVE.value, "approved")) == 1


async def test_a_restart_in_the_middle_resumes_and_deletes_nothing_else(make_bot, slack, signer, railway,
                                                                         target_db, sqlite_url):
    first = await make_bot(_config(pause=0.3), **db_env.settings(railway))
    message = await db_env.request_message(first, slack, signer, "backend cleanup logs --older-than 30d")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(first.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))

    async def some_done():
        req = await actions.get(first.rt.store, request_id)
        return req if req.params.get("deleted", 0) >= 15_000 else None

    await eventually(some_done, timeout=30)
    await first.stop()
    old, recent = await _counts(target_db)
    assert 0 < old < OLD and recent == RECENT  # stopped part-way
    conn = await asyncpg.connect(target_db)  # rows written meanwhile are never old enough
    await conn.execute("INSERT INTO logs (created_at, message) VALUES (now() AT TIME ZONE 'UTC', 'recent new')")
    await conn.close()

    second = await make_bot(_config(pause=0.0), database_url=sqlite_url, **db_env.settings(railway))
    done = await eventually(lambda: _finished(second, request_id), timeout=60)
    assert done.status == actions.SUCCEEDED, done.detail
    assert await _counts(target_db) == (0, RECENT + 1)
    assert done.params["deleted"] == OLD
    assert all(n <= 5000 for n in await _batches(second, request_id))
    kinds = [e.kind for e in await actions.events(second.rt.store, request_id)]
    assert "cleanup.resumed" in kinds


async def test_jobs_cleanup_deletes_only_failed_ones_and_a_held_lock_stops_it_cleanly(make_bot, slack, signer,
                                                                                       railway, target_db):
    bot = await make_bot(_config(lock_timeout_ms=100), **db_env.settings(railway))
    message = await db_env.request_message(bot, slack, signer, "backend cleanup jobs")
    text = json.dumps(message["blocks"], ensure_ascii=False)
    assert "would delete *15* rows" in text and "\\\"status\\\" = 'failed'" in text
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    holder = await asyncpg.connect(target_db)
    tx = holder.transaction()
    await tx.start()
    await holder.execute("LOCK TABLE job IN ACCESS EXCLUSIVE MODE")
    try:
        await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
        done = await eventually(lambda: _finished(bot, request_id), timeout=30)
    finally:
        await tx.rollback()
        await holder.close()
    assert done.status == actions.FAILED and done.verdict == "lock_timeout"
    assert await eventually(lambda: "lock" in json.dumps(slack.message(db_env.CHANNEL, message["ts"])["blocks"]))
    conn = await asyncpg.connect(target_db)
    assert await conn.fetchval("SELECT count(*) FROM job") == 30
    await conn.close()

    message = await db_env.request_message(bot, slack, signer, "backend cleanup jobs")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    done = await eventually(lambda: _finished(bot, request_id), timeout=30)
    assert done.status == actions.SUCCEEDED
    conn = await asyncpg.connect(target_db)
    assert await conn.fetchval("SELECT count(*) FROM job WHERE status = 'failed'") == 0
    assert await conn.fetchval("SELECT count(*) FROM job") == 15
    await conn.close()


@pytest.mark.parametrize(("text", "expected"), [
    ("backend cleanup users", USAGE), ("backend cleanup logs --older-than soon", "is not an age"),
    ("backend cleanup logs; DROP TABLE logs", USAGE)])
async def test_cleanup_usage_errors_never_reach_the_database(make_bot, slack, signer, railway, target_db, text,
                                                             expected):
    bot = await make_bot(_config(), **db_env.settings(railway))
    assert expected in (await db_env.command(bot, slack, signer, text)).json()["text"]
    assert await _counts(target_db) == (OLD, RECENT)


async def test_a_table_named_in_the_services_file_that_does_not_exist_is_said(make_bot, slack, signer, railway):
    config = db_env.services('cleanup = { logs = { table = "Log", column = "createdAt" } }')
    bot = await make_bot(config, **db_env.settings(railway))
    before = len(slack.responses)
    await db_env.command(bot, slack, signer, "backend cleanup logs")
    said = (await db_env.responses_after(slack, before))[0].payload["text"]
    assert "There is no table `Log`" in said
