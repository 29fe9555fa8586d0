"""A task cancelled in the middle of a SQLite statement leaves no lock behind for the next writer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from sqlalchemy import event, text

from bot.store import Store


async def test_a_statement_cancelled_midway_leaves_the_file_writable(tmp_path):
    path = tmp_path / "chatops.db"
    store = Store(f"sqlite:///{path}")
    started, release = threading.Event(), threading.Event()

    def hold() -> int:
        """Runs on the connection's thread: the statement is under way until the test releases it."""
        started.set()
        release.wait(30)
        return 1

    event.listen(store.engine.sync_engine, "connect",
                 lambda dbapi_conn, _record: dbapi_conn.create_function("hold", 0, hold))
    try:
        async with store.session() as session:
            await session.execute(text("CREATE TABLE notes (body TEXT)"))

        async def write_then_hang() -> None:
            async with store.session() as session:
                await session.execute(text("INSERT INTO notes VALUES ('from the cancelled task')"))
                await session.execute(text("SELECT hold()"))

        writer = asyncio.create_task(write_then_hang())
        assert await asyncio.to_thread(started.wait, 30), "the statement never started"
        writer.cancel()
        release.set()
        try:
            await writer
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the writer finished although it was cancelled mid-statement")

        # Another writer, as another replica or process would: a held lock shows as "database is locked".
        other = sqlite3.connect(path, timeout=2)
        try:
            other.execute("INSERT INTO notes VALUES ('from another writer')")
            other.commit()
            assert [row[0] for row in other.execute("SELECT body FROM notes")] == ["from another writer"]
        finally:
            other.close()
    finally:
        release.set()
        await store.dispose()
