"""Which schema the database is at, and bringing it to head, without importing Alembic here.

``chatops serve`` must not import Alembic (with Mako and Pygments it is 11 MB of the serving process's
memory, #17): the head it expects is written here (``tests/test_schema_head.py`` keeps it equal to the
newest migration), the current revision is Alembic's own ``alembic_version`` row read with SQL, and an
upgrade runs ``python -m bot.store.migrate`` in a child process."""

from __future__ import annotations

import asyncio
import os
import sys

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.common.redact import redact
from bot.store.db import Store

HEAD_REVISION = "0008"


async def current_revision(store: Store) -> str | None:
    """The revision recorded by the last migration; None for a database never migrated."""
    async with store.engine.connect() as conn:
        try:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
        except DBAPIError as exc:
            if _no_such_table(exc):
                return None
            raise


def _no_such_table(exc: DBAPIError) -> bool:
    message = str(exc.orig).lower()
    return "no such table" in message or "does not exist" in message


class MigrationFailed(RuntimeError):
    """The child process could not bring the schema to head; the message is its last line, redacted."""


async def upgrade_in_child(database_url: str) -> None:
    """Run the migrations in a child process, so their libraries never load into the caller."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.store.migrate",
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, stderr = await proc.communicate()
    if proc.returncode != 0:
        lines = stderr.decode(errors="replace").strip().splitlines() or [f"exit status {proc.returncode}"]
        raise MigrationFailed(redact(lines[-1]))
