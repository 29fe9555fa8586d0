"""The audit log: every command and click received, and every action the bot took."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, delete, insert, select, update

from bot.common import metrics
from bot.common.redact import redact
from bot.store.db import Store
from bot.store.models import AuditEntry, SeenRequest, utcnow

_MAX_ARGUMENTS = 2000
_MAX_DETAIL = 4000
_BATCH = 200
# The audit_log columns a row may set, and the longest text each holds (None: unbounded Text).
_COLUMNS: dict[str, int | None] = {
    "team_id": 32, "user_id": 32, "channel_id": 32, "kind": 16, "name": 255, "arguments": _MAX_ARGUMENTS,
    "outcome": 64, "detail": _MAX_DETAIL, "correlation_id": 64, "trigger_id": 128, "subject": 64,
}
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
    if store.is_sqlite:  # each dialect's module is loaded only by a bot on that database (#17)
        from sqlalchemy.dialects.sqlite import insert
    else:
        from sqlalchemy.dialects.postgresql import insert
    stmt = insert(table).values(trigger_id=trigger_id, at=utcnow()).on_conflict_do_nothing()
    async with store.session() as session:
        result = await session.execute(stmt)
        return result.rowcount == 1


async def forget_old_triggers(store: Store, older_than: timedelta = timedelta(minutes=10)) -> None:
    async with store.session() as session:
        await session.execute(delete(SeenRequest).where(SeenRequest.at < utcnow() - older_than))


class AuditWriter:
    """Writes audit rows from a queue, in order, after the ack; keeps them while the database is away.

    The request path only appends to an in-memory queue (no I/O before the ack). While the database
    is unreachable, rows are kept (bounded) and retried. When the database answers but refuses a batch,
    the batch is written row by row: a row refused on its own is repaired (coerced to its columns'
    types and lengths, NUL characters removed) and written with a note, and a row refused even then
    goes to the spill file (JSON lines, named in the log). Rows still queued at shutdown, or pushed
    out of a full buffer, are spilled too: nothing is dropped silently.
    """

    def __init__(self, store: Store, *, max_pending: int = 50_000, retry_seconds: float = 1.0,
                 spill_path: Path | str | None = None, stuck_seconds: float = 30.0) -> None:
        self._store = store
        self._pending: list[tuple] = []
        self._max_pending = max_pending
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._retry_seconds = retry_seconds
        self._task: asyncio.Task | None = None
        self._spilled_cids: deque[str] = deque(maxlen=1000)
        self.spill_path = Path(spill_path) if spill_path else Path("chatops-audit-spill.jsonl")
        self.stuck_seconds = stuck_seconds
        self._last_progress = time.monotonic()
        self.written = self.repaired = self.spilled = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-writer")

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def stuck(self) -> str | None:
        """Why the writer is not keeping up (for /ready), or None when it is."""
        if self._task is not None and self._task.done():
            return "audit writer stopped"
        if self._pending and time.monotonic() - self._last_progress > self.stuck_seconds:
            return f"audit writer has written nothing for {self.stuck_seconds:g}s ({len(self._pending)} rows queued)"
        return None

    def received(self, **fields) -> None:
        """A request arrived (outcome 'received' until ``outcome`` updates it)."""
        self._push(("insert", fields))

    def outcome(self, correlation_id: str, outcome: str, detail: str = "") -> None:
        self._push(("outcome", correlation_id, outcome, detail))

    def _push(self, item: tuple) -> None:
        if len(self._pending) >= self._max_pending:
            logger.error("audit buffer full; spilling the oldest row to %s", self.spill_path)
            self._spill([self._pending.pop(0)], "buffer full")
        if not self._pending:
            self._last_progress = time.monotonic()  # the clock for stuck() starts with the first queued row
        self._pending.append(item)
        metrics.AUDIT_BACKLOG.set(len(self._pending))
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
            logger.error("audit writer stopping with %d rows unwritten; spilling them to %s",
                         len(self._pending), self.spill_path)
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pending:  # queued while the writer stopped, or the database is away: one last try
            pending, self._pending = self._pending, []
            try:
                async with asyncio.timeout(2.0):
                    await self._write(pending)
                self._count_written(len(pending))
            except Exception:
                self._spill(pending, "unwritten at shutdown")
            metrics.AUDIT_BACKLOG.set(0)

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[:_BATCH]
                try:
                    await self._write(batch)
                    done = len(batch)
                except Exception as exc:
                    done = await self._isolate(batch) if await self._reachable() else 0
                    if not done:
                        metrics.AUDIT_WRITE_FAILURES.inc()
                        logger.warning("audit write failed, retrying: %s", redact(_describe(exc)))
                        await asyncio.sleep(self._retry_seconds)
                        continue
                else:
                    self._count_written(done)
                del self._pending[:done]
                self._last_progress = time.monotonic()
                metrics.AUDIT_BACKLOG.set(len(self._pending))
            self._idle.set()

    async def _reachable(self) -> bool:
        try:
            await self._store.ping()
        except Exception:
            return False
        return True

    async def _isolate(self, batch: list[tuple]) -> int:
        """The database answers but refused the batch: write it row by row. Returns how many items were
        dealt with (written, repaired or spilled); stops early if the database goes away meanwhile."""
        for done, item in enumerate(batch):
            try:
                await self._write([item])
                self._count_written(1)
                continue
            except Exception as exc:
                refusal = redact(_describe(exc))[:500]
            try:
                await self._write([_repaired(item, refusal)])
            except Exception:
                if not await self._reachable():
                    return done
                logger.error("audit row refused even after repair; spilled to %s: %s", self.spill_path, refusal)
                self._spill([item], refusal)
                continue
            self.repaired += 1
            metrics.AUDIT_REPAIRED.inc()
            logger.warning("audit row refused by the database was repaired and written: %s", refusal)
        return len(batch)

    def _count_written(self, count: int) -> None:
        self.written += count
        metrics.AUDIT_WRITTEN.inc(count)

    def _spill(self, items: list[tuple], reason: str) -> None:
        """Append rows to the spill file (redacted JSON lines); if even that fails, log them."""
        lines = []
        for item in items:
            if item[0] == "insert":
                record = {"row": _jsonable(item[1])}
                if item[1].get("correlation_id"):
                    self._spilled_cids.append(str(item[1]["correlation_id"]))
            else:
                record = {"outcome": {"correlation_id": item[1], "outcome": item[2], "detail": item[3]}}
            record["reason"] = reason
            lines.append(redact(json.dumps(record, ensure_ascii=False, default=str)))
        self.spilled += len(items)
        metrics.AUDIT_SPILLED.inc(len(items))
        try:
            with self.spill_path.open("a", encoding="utf-8") as spill:
                spill.write("".join(line + "\n" for line in lines))
        except OSError as exc:
            logger.error("audit spill file %s unwritable (%s); the rows: %s", self.spill_path, exc, lines)

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
                row["detail"] = redact(row["detail"])[:_MAX_DETAIL]
                rows.append(row)
                if row["correlation_id"]:
                    by_cid[row["correlation_id"]] = row
            else:
                _, cid, outcome, detail = item
                if cid in by_cid:
                    by_cid[cid].update(outcome=outcome[:64], detail=redact(detail)[:_MAX_DETAIL])
                elif cid in self._spilled_cids:
                    self._spill([item], "its row was spilled")
                else:
                    updates.append((cid, outcome[:64], redact(detail)[:_MAX_DETAIL]))
        async with self._store.session() as session:
            if rows:
                await session.execute(insert(AuditEntry), rows)
            for cid, outcome, detail in updates:
                # The detail is added to what is there (a repaired row keeps its note).
                values = {"outcome": outcome}
                if detail:
                    values["detail"] = case((AuditEntry.detail == "", detail), else_=AuditEntry.detail + " " + detail)
                await session.execute(update(AuditEntry).where(AuditEntry.correlation_id == cid).values(**values))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__


def _fit(value: Any, limit: int | None) -> str:
    text = (value if isinstance(value, str) else json.dumps(value, default=str)).replace("\x00", "")
    return text[:limit] if limit else text


def _repaired(item: tuple, refusal: str) -> tuple:
    """The item with every field coerced to its column (text, bounded, no NUL) and a note of the repair."""
    if item[0] != "insert":
        _, cid, outcome, detail = item
        note = f"[repaired outcome: {refusal}]"
        return ("outcome", _fit(cid, 64), _fit(outcome, 64), _fit(f"{_fit(detail, None)} {note}", _MAX_DETAIL))
    fields = item[1]
    row: dict[str, Any] = {}
    changed = []
    for name, value in fields.items():
        if name == "at":
            row["at"] = value if isinstance(value, datetime) else utcnow()
        elif name in _COLUMNS:
            row[name] = None if value is None else _fit(value, _COLUMNS[name])
            if row[name] != value:
                changed.append(name)
        else:
            changed.append(name)
    row.setdefault("kind", "system")
    row.setdefault("name", "?")
    note = f"[repaired {', '.join(changed) or 'row'}: {refusal}]"
    row["detail"] = _fit(f"{row.get('detail') or ''} {note}".strip(), _MAX_DETAIL)
    return ("insert", row)


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in fields.items()}
