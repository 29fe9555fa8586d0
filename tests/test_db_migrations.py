"""/db <service> migrations against a real PostgreSQL ``_prisma_migrations`` table, read-only."""

from __future__ import annotations

import json

import asyncpg
import pytest

from bot.common import pgconnect
from bot.dbops.connect import DbUnreachable, connect
from sandbox.emulators.railway import RailwayEmulator
from tests import db_env

SECRET = "Zx8-secret-in-a-failed-log"
# Prisma's own DDL for the table (prisma/migrate, postgres).
PRISMA_TABLE = """
CREATE TABLE "_prisma_migrations" (
    "id" VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum" VARCHAR(64) NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "migration_name" VARCHAR(255) NOT NULL,
    "logs" TEXT,
    "rolled_back_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
);
"""


def _ago(days: int) -> str:
    return f"now() - interval '{days} days'"


async def _prisma(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(PRISMA_TABLE)
        rows = [("1", "20260101000000_init", _ago(30), _ago(30), "NULL", "NULL"),
                ("2", "20260201000000_orders", _ago(20), _ago(20), "NULL", "NULL"),
                ("3", "20260301000000_jobs", _ago(10), _ago(10), "NULL", "NULL"),
                ("4", "20261101000000_bad_index", "NULL", "now() - interval '1 day'",
                 f"'Migration failed: ERROR: could not create unique index DATABASE_URL=postgres://u:{SECRET}@h/db\n"
                 "more detail'", "NULL"),
                ("5", "20261001000000_dropped", "now() - interval '5 days'", "now() - interval '5 days'", "NULL",
                 "now() - interval '4 days'")]
        for id_, name, finished, started, logs, rolled in rows:
            await conn.execute(f"""INSERT INTO "_prisma_migrations"
                (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
                VALUES ('{id_}', 'c', {finished}, '{name}', {logs}, {rolled}, {started}, 1)""")
    finally:
        await conn.close()


def _world(database_url: str) -> dict:
    world = db_env.world(database_url=database_url)
    world["deployments"][0]["logs"] = [
        {"timestamp": "+1s", "message": "Prisma schema loaded from prisma/schema.prisma"},
        {"timestamp": "+2s", "message": "6 migrations found in prisma/migrations"},
        {"timestamp": "+3s", "message": "No pending migrations to apply."}]
    return world


async def _ask(make_bot, slack, signer, railway) -> dict:
    bot = await make_bot(db_env.services(), **db_env.settings(railway))
    before = len(slack.responses)
    resp = await db_env.command(bot, slack, signer, "backend migrations")
    assert "Reading the migrations" in resp.json()["text"]
    return (await db_env.responses_after(slack, before))[0].payload


async def test_migrations_applied_failed_rolled_back_and_pending(make_bot, slack, signer, pg_url):
    await _prisma(pg_url)
    railway = RailwayEmulator(_world(pg_url))
    await railway.start()
    try:
        payload = await _ask(make_bot, slack, signer, railway)
    finally:
        await railway.stop()
    text = json.dumps(payload, ensure_ascii=False)
    assert payload["response_type"] == "ephemeral"
    assert "*3* applied · *1* failed · *1* rolled back" in text
    assert "*3* pending (the latest deployment `d-1` found 6)" in text
    assert "❌ `20261101000000_bad_index`" in text and "could not create unique index" in text
    assert SECRET not in text and "more detail" not in text
    assert text.index("20260101000000_init") < text.index("20260301000000_jobs")  # in the order they ran
    assert "read-only" in text and "prisma migrate resolve" in text


async def test_without_deployment_logs_pending_is_unknown_and_an_empty_database_says_so(make_bot, slack, signer,
                                                                                         pg_url):
    railway = RailwayEmulator(db_env.world(database_url=pg_url))
    await railway.start()
    try:
        payload = await _ask(make_bot, slack, signer, railway)
        assert "no `_prisma_migrations` table" in payload["text"]
        await _prisma(pg_url)
        payload = await _ask(make_bot, slack, signer, railway)
    finally:
        await railway.stop()
    assert "pending: unknown" in json.dumps(payload, ensure_ascii=False)


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql://app:pw@127.0.0.1:1/app", "not reachable from the bot: connection refused"),
    ("postgresql://app:pw@postgres.railway.internal:5432/railway", "Railway's private network"),
    ("", "has no database URL variable")])
async def test_an_unreachable_database_is_said_with_the_reason(make_bot, slack, signer, url, expected):
    railway = RailwayEmulator(db_env.world(database_url=url))
    await railway.start()
    try:
        payload = await _ask(make_bot, slack, signer, railway)
    finally:
        await railway.stop()
    assert expected in payload["text"] and ":pw@" not in payload["text"]


async def test_the_migrations_connection_refuses_writes(pg_url):
    async with connect(pgconnect.parse(pg_url), read_only=True, purpose="migrations") as conn:
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await conn.execute("CREATE TABLE should_not_exist (id int)")
    with pytest.raises(DbUnreachable):
        async with connect(pgconnect.parse("postgresql://a:b@127.0.0.1:1/x"), read_only=True, purpose="t"):
            pass
