"""The serving process reads and brings its schema to head without loading Alembic (#17: idle memory)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from bot.store import Store
from bot.store.migrate import head_revision, upgrade_async
from bot.store.schema import HEAD_REVISION, MigrationFailed, current_revision, upgrade_in_child

# What a bot on SQLite loads only when it needs it: migrations (a child process) and PostgreSQL's driver.
HEAVY = ("alembic", "mako", "pygments", "asyncpg")
# Nor SQLAlchemy's PostgreSQL dialect (its DBAPI modules with it: 2.3 MB, #17).
PG_DIALECT = "sqlalchemy.dialects.postgresql"


def test_the_written_head_is_the_newest_migration() -> None:
    assert HEAD_REVISION == head_revision(), "a new migration was added: set bot.store.schema.HEAD_REVISION to it"


async def test_current_revision_reads_alembics_row(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    store = Store(url)
    try:
        assert await current_revision(store) is None  # never migrated: no alembic_version table
        await upgrade_async(url)
        assert await current_revision(store) == HEAD_REVISION
    finally:
        await store.dispose()


async def test_current_revision_on_postgresql(pg_url) -> None:
    store = Store(pg_url)
    try:
        assert await current_revision(store) is None
        await upgrade_async(pg_url)
        assert await current_revision(store) == HEAD_REVISION
    finally:
        await store.dispose()


def test_serving_migrates_a_new_sqlite_database_without_loading_alembic_or_postgresql(tmp_path) -> None:
    """What ``chatops serve`` does before its first request, in a fresh interpreter."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    script = textwrap.dedent(f"""
        import asyncio, json, sys
        from bot.config.services import parse_services
        from bot.config.settings import load_settings
        from bot.main import build
        from bot.serve import prepare_database
        from bot.store.schema import current_revision

        async def main():
            settings = load_settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test",
                                     SLACK_SIGNING_SECRET="0123456789abcdef0123456789abcdef", DATABASE_URL={url!r})
            chatops = build(settings, parse_services(""))
            try:
                await prepare_database(chatops.rt)
                await prepare_database(chatops.rt)  # at head: nothing to do the second time
                revision = await current_revision(chatops.rt.store)
            finally:
                await chatops.close()
            heavy = sorted(m for m in sys.modules
                           if m.split(".")[0] in {HEAVY!r} or m.startswith({PG_DIALECT!r}))
            print(json.dumps({{"revision": revision, "heavy": heavy}}))

        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"revision": HEAD_REVISION, "heavy": []}


async def test_a_failed_migration_says_why_without_the_password() -> None:
    with pytest.raises(MigrationFailed) as failed:
        await upgrade_in_child("postgresql://app:hunter2-secret@127.0.0.1:9/app")
    assert "hunter2-secret" not in str(failed.value)
    assert str(failed.value).strip()
