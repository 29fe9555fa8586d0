"""Engine and sessions; identical behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.config.settings import database_url_for_sqlalchemy


class Store:
    """Owns the engine; repositories (``bot.store.audit`` …) take a Store."""

    def __init__(self, database_url: str, *, ping_timeout: float = 2.0) -> None:
        url, connect_args = database_url_for_sqlalchemy(database_url)
        self.is_sqlite = url.startswith("sqlite")
        self.url = url
        kwargs: dict = {"connect_args": dict(connect_args)}
        if self.is_sqlite:
            kwargs["connect_args"]["timeout"] = 30
        else:
            kwargs["pool_pre_ping"] = True  # a replaced or restarted PostgreSQL drops pooled connections
            kwargs["connect_args"].setdefault("timeout", ping_timeout)
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 10
            kwargs["pool_timeout"] = 5
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._ping_timeout = ping_timeout

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back when it raises.

        Ending it (commit or rollback, then the connection back to the pool) is shielded from
        cancellation: a task cancelled at shutdown right then would otherwise leave the pool to reset
        the connection mid-way and log a ``CancelledError`` traceback (the demo printed one after
        "Demo finished"). The cancellation still reaches the task once its session has ended."""
        session = self.sessions()
        try:
            await session.begin()
            yield session
        except BaseException:
            await _ended(session, commit=False)
            raise
        await _ended(session, commit=True)

    async def ping(self) -> None:
        """Raise when the database does not answer within the ping timeout."""
        async with asyncio.timeout(self._ping_timeout), self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def _ended(session: AsyncSession, *, commit: bool) -> None:
    """End the session even if the task is cancelled meanwhile: the cancellation is re-raised only once
    the session has ended, so no half-returned connection (and no task) outlives it."""
    end = asyncio.ensure_future(_end(session, commit=commit))
    try:
        await asyncio.shield(end)
    except asyncio.CancelledError:
        await end
        raise


async def _end(session: AsyncSession, *, commit: bool) -> None:
    try:
        await (session.commit() if commit else session.rollback())
    finally:
        await session.close()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
