"""/db <service> cleanup on a real PostgreSQL table: dry run, approval, batches, a restart in the middle."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import asyncpg
import pytest

from bot.slack.action_ids import ActionId
from bot.store import actions, audit
from bot.store.db import Store
from sandbox.emulators.railway import RailwayEmulator
from sandbox.runner import migrate_with_cli, start_server_process
from tests import db_env
from tests.conftest import BOT_TOKEN, SIGNING_SECRET, eventually

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
    assert story.count(("system", "db.cleanup", "done")) == 1


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


async def _deleted_at_least(bot, request_id: str, rows: int):
    req = await actions.get(bot.rt.store, request_id)
    return req if req.params.get("deleted", 0) >= rows else None


async def test_a_batch_past_statement_timeout_stops_cleanly_says_why_and_a_retry_stays_within_its_dry_run(
        make_bot, slack, signer, railway, target_db):
    config = db_env.services("cleanup = { pause_seconds = 0.2, statement_timeout_ms = 1000, "
                             "lock_timeout_ms = 60000 }")
    bot = await make_bot(config, **db_env.settings(railway))
    message = await db_env.request_message(bot, slack, signer, "backend cleanup logs")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    await eventually(lambda: _deleted_at_least(bot, request_id, 10_000), timeout=60)
    # Another session takes a lock that conflicts with DELETE (after the batch in flight commits), and
    # keeps it: the next batch waits for it until statement_timeout (1 s, below lock_timeout) cancels it.
    holder = await asyncpg.connect(target_db)
    tx = holder.transaction()
    await tx.start()
    await holder.execute("LOCK TABLE logs IN SHARE MODE")
    try:
        done = await eventually(lambda: _finished(bot, request_id), timeout=60)
    finally:
        await tx.rollback()
        await holder.close()
    assert done.status == actions.FAILED and done.verdict == "statement_timeout", (done.verdict, done.detail)
    old, recent = await _counts(target_db)
    deleted = OLD - old
    assert 10_000 <= deleted < OLD and recent == RECENT
    assert done.params["deleted"] == deleted and sum(await _batches(bot, request_id)) == deleted
    events = await actions.events(bot.rt.store, request_id)
    assert [(e.kind, e.data.get("error")) for e in events[-4:-1]] == [
        ("cleanup.batch_timeout", "QueryCanceledError")] * 3 and events[-1].kind == "failed"
    said = await eventually(lambda: (m := slack.message(db_env.CHANNEL, message["ts"]))
                            and "statement_timeout" in (t := json.dumps(m["blocks"], ensure_ascii=False)) and t)
    assert f"{deleted:,} of at most {OLD:,} rows were deleted" in said and "after 3 attempts" in said
    await bot.rt.audit.flush()
    rows = [r for r in await audit.entries(bot.rt.store) if r.kind == "system" and r.subject == request_id]
    assert [(r.name, r.outcome) for r in rows] == [("db.cleanup", "statement_timeout")]
    assert f"deleted {deleted} of at most {OLD}" in rows[0].detail and 'DELETE FROM "logs"' in rows[0].arguments

    # Asking again: a new dry run counts what is left, and the new cleanup deletes exactly that.
    message = await db_env.request_message(bot, slack, signer, "backend cleanup logs")
    assert f"would delete *{OLD - deleted:,}* rows" in json.dumps(message["blocks"], ensure_ascii=False)
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(bot.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0MAY"))
    again = await eventually(lambda: _finished(bot, request_id), timeout=60)
    assert again.status == actions.SUCCEEDED and again.params["deleted"] == OLD - deleted
    assert await _counts(target_db) == (0, RECENT)


# A commit that takes 4 s (as one waiting on a synchronous standby does): the batch is recorded as in
# flight, then its COMMIT sleeps in a deferred trigger, once per transaction.
SLOW_COMMIT = """
CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('test.slow_commit', true) IS DISTINCT FROM 'done' THEN
    PERFORM set_config('test.slow_commit', 'done', true);
    PERFORM pg_sleep(4);
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER DELETE ON logs DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION slow_commit();
"""
LATE_OLD = 7_000


async def _commit_sleeping(dsn: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        # This test's database only: another test run on the same server may be sleeping in its own commit.
        return bool(await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                        "'chatops-cleanup' AND wait_event = 'PgSleep' "
                                        "AND datname = current_database()"))
    finally:
        await conn.close()


async def _slow_commits(dsn: str, on: bool) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SLOW_COMMIT if on else "DROP TRIGGER slow_commit ON logs")
    finally:
        await conn.close()


async def _late_old_rows(dsn: str) -> None:
    """Rows older than the cutoff that arrive after the dry run (a backfill): the dry run's count caps them."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"""INSERT INTO logs (created_at, message)
            SELECT (now() AT TIME ZONE 'UTC') - interval '50 days', 'late ' || i
            FROM generate_series(1, {LATE_OLD}) i""")
    finally:
        await conn.close()


async def _left(dsn: str) -> tuple[int, int]:
    """(rows older than 30 days, recent rows) in the table now."""
    conn = await asyncpg.connect(dsn)
    try:
        return (await conn.fetchval("SELECT count(*) FROM logs WHERE created_at < (now() AT TIME ZONE 'UTC') "
                                    "- interval '30 days'"),
                await conn.fetchval("SELECT count(*) FROM logs WHERE message LIKE 'recent %'"))
    finally:
        await conn.close()


async def test_a_cleanup_killed_while_a_batch_commits_counts_that_batch_and_never_passes_its_bound(
        slack, signer, railway, target_db, tmp_path):
    """`chatops serve` is killed (SIGKILL) while a batch's COMMIT is under way: the batch commits after the
    bot is gone and before it could count it. The next process waits out the dead one's lease, asks
    PostgreSQL whether that transaction committed, and deletes exactly the dry run's count in all,
    although more rows older than the cutoff arrived meanwhile."""
    config = tmp_path / "chatops.toml"
    config.write_text(db_env.services("cleanup = { pause_seconds = 0.2 }")
                      + "\n[monitor]\nenabled = false\nlease_seconds = 10\n")
    store_url = f"sqlite:///{tmp_path / 'chatops.db'}"
    env = {**os.environ, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_URL": slack.api_url, "DATABASE_URL": store_url, "CHATOPS_CONFIG": str(config),
           **{k: str(v) for k, v in db_env.settings(railway).items()}}
    await migrate_with_cli(env, tmp_path)
    store = Store(store_url)
    processes = [await start_server_process(env, tmp_path)]
    try:
        message = await db_env.request_message(processes[0], slack, signer, "backend cleanup logs")
        request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
        await db_env.post(processes[0].slack_url,
                          db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
        await eventually(lambda: _deleted_in(store, request_id, 10_000), timeout=60)
        await _slow_commits(target_db, on=True)
        await eventually(lambda: _commit_sleeping(target_db), timeout=30)
        in_flight = (await actions.get(store, request_id)).params["in_flight"]
        assert in_flight["rows"] == 5000
        os.kill(processes[0].proc.pid, signal.SIGKILL)
        await processes[0].proc.wait()
        await _slow_commits(target_db, on=False)  # waits for the orphaned COMMIT to end: it commits
        await _late_old_rows(target_db)

        processes.append(await start_server_process(env, tmp_path))
        done = await eventually(lambda: _ended(store, request_id), timeout=120)
        assert done.status == actions.SUCCEEDED, (done.verdict, done.detail)
        assert done.params["deleted"] == OLD
        assert await _left(target_db) == (LATE_OLD, RECENT)  # exactly the dry run's count went, in all
        settled = [e.data for e in await actions.events(store, request_id) if e.kind == "cleanup.batch_settled"]
        assert settled == [{"rows": 5000, "xid": "committed"}]
        assert await eventually(lambda: "Deleted 100,000 rows" in json.dumps(
            slack.message(db_env.CHANNEL, message["ts"])["blocks"]), timeout=30)
    finally:
        for process in processes:
            await process.stop()
        await store.dispose()


async def test_a_cleanup_crashing_while_a_batch_commits_does_not_count_the_batch_that_rolled_back(
        make_bot, slack, signer, railway, target_db, sqlite_url):
    """In-process crash: the task is cancelled during the COMMIT, so asyncpg cancels it and it rolls back."""
    first = await make_bot(_config(pause=0.2), **db_env.settings(railway))
    message = await db_env.request_message(first, slack, signer, "backend cleanup logs")
    request_id = db_env.button(message, ActionId.ROLLBACK_APPROVE)["value"]
    await db_env.post(first.slack_url, db_env.click(signer, slack, message, ActionId.ROLLBACK_APPROVE, "U0LEO"))
    await eventually(lambda: _deleted_in(first.rt.store, request_id, 10_000), timeout=60)
    await _slow_commits(target_db, on=True)
    await eventually(lambda: _commit_sleeping(target_db), timeout=30)
    before = (await actions.get(first.rt.store, request_id)).params
    await first.crash()
    await _slow_commits(target_db, on=False)
    assert await _left(target_db) == (OLD - before["deleted"], RECENT)  # the batch in flight rolled back

    second = await make_bot(_config(), database_url=sqlite_url, **db_env.settings(railway))
    done = await eventually(lambda: _finished(second, request_id), timeout=60)
    assert done.status == actions.SUCCEEDED and done.params["deleted"] == OLD
    assert await _left(target_db) == (0, RECENT)
    settled = [e.data for e in await actions.events(second.rt.store, request_id) if e.kind == "cleanup.batch_settled"]
    assert settled == [{"rows": 0, "xid": "aborted"}]


async def _deleted_in(store, request_id: str, rows: int):
    req = await actions.get(store, request_id)
    return req if req.params.get("deleted", 0) >= rows else None


async def _ended(store, request_id: str):
    req = await actions.get(store, request_id)
    return req if req.status in actions.FINAL else None
