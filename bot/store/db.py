"""Engine and sessions; identical behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.common.redact import redact
from bot.config.settings import database_url_for_sqlalchemy
from bot.i18n import CatalogueError

logger = logging.getLogger(__name__)

# SQLSTATE classes that mean the server is away or gave up, not that the statement was wrong: 08
# connection exception, 57 operator intervention (57014: statement_timeout), 53 insufficient resources.
_AWAY_SQLSTATES = ("08", "57", "53")


class StoreUnavailable(CatalogueError):
    """The bot's database did not answer (unreachable, or nothing back within the statement timeout):
    what the session was for was not recorded, or may not have been if it failed at the commit."""

    def __init__(self) -> None:
        super().__init__("common.store_unavailable")


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database is away or hung rather than that a statement was refused."""
    if isinstance(error, OSError | exc.TimeoutError):  # refused, reset, no answer in time, no free connection
        return True
    if isinstance(error, exc.DBAPIError):
        # Not InterfaceError as such: asyncpg's DataError (a value of the wrong type) is one.
        return error.connection_invalidated or str(getattr(error.orig, "sqlstate", None) or "").startswith(
            _AWAY_SQLSTATES)
    return False


class Store:
    """Owns the engine; repositories (``bot.store.audit`` …) take a Store.

    On PostgreSQL every wait is bounded by ``statement_timeout`` seconds: a statement (PostgreSQL's own
    ``statement_timeout`` cancels it on a live server; asyncpg's ``command_timeout``, a second later,
    gives up on a server that accepts connections but never answers) and the wait for a pooled
    connection. Without the client-side bound a hung server would hold every caller, and their
    tasks, forever."""

    def __init__(self, database_url: str, *, ping_timeout: float = 2.0, statement_timeout: float = 10.0) -> None:
        url, connect_args = database_url_for_sqlalchemy(database_url)
        self.is_sqlite = url.startswith("sqlite")
        self.url = url
        kwargs: dict = {"connect_args": dict(connect_args)}
        if self.is_sqlite:
            kwargs["connect_args"]["timeout"] = 30
        else:
            kwargs["pool_pre_ping"] = True  # a replaced or restarted PostgreSQL drops pooled connections
            kwargs["connect_args"].setdefault("timeout", ping_timeout)
            kwargs["connect_args"]["command_timeout"] = statement_timeout + 1.0
            kwargs["connect_args"]["server_settings"] = {"statement_timeout": str(round(statement_timeout * 1000))}
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 10
            kwargs["pool_timeout"] = statement_timeout
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine.pool, "invalidate", _sqlite_release_locks)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._ping_timeout = ping_timeout

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back when it raises.

        A database that is away or does not answer in time raises ``StoreUnavailable`` (its cause
        chained), so callers can tell the person it could not be recorded.

        Ending it (commit or rollback, then the connection back to the pool) is shielded from
        cancellation: a task cancelled at shutdown right then would otherwise leave the pool to reset
        the connection mid-way and log a ``CancelledError`` traceback (the demo printed one after
        "Demo finished"). The cancellation still reaches the task once its session has ended."""
        try:
            session = self.sessions()
            try:
                await session.begin()
                yield session
            except BaseException:
                await _ended(session, commit=False)
                raise
            await _ended(session, commit=True)
        except Exception as error:
            if isinstance(error, StoreUnavailable) or not unavailable(error):
                raise
            logger.warning("the database did not answer: %s", redact(f"{type(error).__name__}: {error}")[:300])
            raise StoreUnavailable() from error

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


def _sqlite_release_locks(dbapi_conn, _record, _error) -> None:
    """Roll back a SQLite connection the pool is discarding, before it is closed.

    A task cancelled mid-statement makes SQLAlchemy invalidate the connection; closing it leaves
    SQLite's ``close_v2`` a zombie while the cancelled statement is unfinalized (until the garbage
    collector reaches the cursor), and the zombie keeps the transaction's write lock: every other
    writer then waited the 30 s busy timeout and failed with "database is locked". The rollback is
    queued on the connection's own thread after the statement, so it runs even if this task is
    cancelled again."""
    try:
        dbapi_conn.rollback()
    except BaseException as error:  # outside a greenlet (garbage collection) there is nothing to await
        logger.debug("could not roll back a discarded SQLite connection: %r", error)
        if isinstance(error, asyncio.CancelledError):
            raise


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
