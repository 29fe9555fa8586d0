"""The audit log: every command and click received, and every action the bot took."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.common.redact import redact
from bot.store.db import Store
from bot.store.models import AuditEntry, SeenRequest, utcnow

_MAX_ARGUMENTS = 2000
logger = logging.getLogger(__name__)


async def entries(store: Store, *, subject: str | None = None, limit: int = 1000) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id).limit(limit)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    async with store.session() as session:
        return list((await session.scalars(query)).all())


async def claim_trigger(store: Store, trigger_id: str) -> bool:
    """True the first time a trigger id is seen (across replicas); False for a replay."""
    table = SeenRequest.__table__
    insert = sqlite_insert if store.is_sqlite else pg_insert
    stmt = insert(table).values(trigger_id=trigger_id, at=utcnow()).on_conflict_do_nothing()
    async with store.session() as session:
        result = await session.execute(stmt)
        return result.rowcount == 1


async def forget_old_triggers(store: Store, older_than: timedelta = timedelta(minutes=10)) -> None:
    async with store.session() as session:
        await session.execute(delete(SeenRequest).where(SeenRequest.at < utcnow() - older_than))


class AuditWriter:
    """Writes audit rows from a queue, in order, after the ack; keeps them while the database is away.

    The request path only appends to an in-memory queue (no I/O before the ack). Rows are kept
    (bounded) and retried while the database is unreachable, so an outage loses nothing short of
    a process crash with a full buffer.
    """

    def __init__(self, store: Store, *, max_pending: int = 50_000, retry_seconds: float = 1.0) -> None:
        self._store = store
        self._pending: list[tuple] = []
        self._max_pending = max_pending
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._retry_seconds = retry_seconds
        self._task: asyncio.Task | None = None
        self.dropped = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-writer")

    def received(self, **fields) -> None:
        """A request arrived (outcome 'received' until ``outcome`` updates it)."""
        self._push(("insert", fields))

    def outcome(self, correlation_id: str, outcome: str, detail: str = "") -> None:
        self._push(("outcome", correlation_id, outcome, detail))

    def _push(self, item: tuple) -> None:
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            logger.error("audit buffer full; dropping oldest row")
            self._pending.pop(0)
        self._pending.append(item)
        self._idle.clear()
        self._wakeup.set()

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until everything queued so far is written (tests, shutdown)."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    async def stop(self) -> None:
        try:
            await self.flush(timeout=5.0)
        except TimeoutError:
            logger.error("audit writer stopped with %d rows unwritten", len(self._pending))
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[:200]
                try:
                    await self._write(batch)
                except Exception as exc:
                    logger.warning("audit write failed, retrying: %s", exc)
                    await asyncio.sleep(self._retry_seconds)
                    continue
                del self._pending[: len(batch)]
            self._idle.set()

    async def _write(self, batch: list[tuple]) -> None:
        """One multi-row INSERT for the batch; outcomes of rows in the same batch are merged in first."""
        rows: list[dict] = []
        by_cid: dict[str, dict] = {}
        updates: list[tuple[str, str, str]] = []
        for item in batch:
            if item[0] == "insert":
                fields = dict(item[1])
                row = {"at": fields.pop("at", None) or utcnow(), "outcome": "received", "detail": "",
                       "team_id": None, "user_id": None, "channel_id": None, "correlation_id": None,
                       "trigger_id": None, "subject": None, **fields}
                row["arguments"] = redact(row.get("arguments", ""))[:_MAX_ARGUMENTS]
                row["detail"] = redact(row["detail"])[:4000]
                rows.append(row)
                if row["correlation_id"]:
                    by_cid[row["correlation_id"]] = row
            else:
                _, cid, outcome, detail = item
                if cid in by_cid:
                    by_cid[cid].update(outcome=outcome[:64], detail=redact(detail)[:4000])
                else:
                    updates.append((cid, outcome[:64], redact(detail)[:4000]))
        async with self._store.session() as session:
            if rows:
                await session.execute(insert(AuditEntry), rows)
            for cid, outcome, detail in updates:
                await session.execute(update(AuditEntry).where(AuditEntry.correlation_id == cid)
                                      .values(outcome=outcome, detail=detail))
