"""The runbook's two cleanups (old logs, old failed jobs) as approval-gated, batched deletes.

Table and column names come from the services file (``[services.cleanup]``, runbook defaults), never
from command text; they are validated identifiers, double-quoted. The dry run fixes the cutoff (now
minus ``--older-than``) and counts the rows; the approved run deletes only rows older than that same
cutoff, at most as many as the dry run counted, ``batch_rows`` per transaction with
``statement_timeout`` and ``lock_timeout`` set, pausing between batches. Because the cutoff is fixed,
running it again (after a restart) can only delete what the dry run meant: a row written after the
dry run is never old enough.

The count of rows deleted is exact across a crash: before a batch commits, its transaction id and row
count are recorded as the batch in flight; after a restart PostgreSQL says whether that transaction
committed (``txid_status``), so a batch that committed just before the bot died is counted, and the
bound holds even when rows older than the cutoff were inserted meanwhile. One replica runs it at a time
(``bot.changes.holding``), and a batch starts only while that replica still holds the change's lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.changes.holding import fence
from bot.common.redact import redact
from bot.config.services import CleanupTarget, ServiceConfig
from bot.dbops.claim import claim
from bot.dbops.command import older_than
from bot.dbops.connect import connect, database_url
from bot.dbops.render import change_message
from bot.dbops.target import DbUnavailable, db_service
from bot.runtime import Runtime
from bot.store import actions
from bot.store.leases import LeaseRow

if TYPE_CHECKING:
    import asyncpg

logger = logging.getLogger(__name__)
Report = Callable[[Any], Awaitable[None]]
TARGETS = ("logs", "jobs")
REPORT_EVERY = 2.0  # seconds between progress edits of the request message (Slack's update rate)
ATTEMPTS = 3  # a batch that hits lock_timeout or statement_timeout is tried this many times
COUNT_TIMEOUT_MS = 30_000
# A batch's session dies on the server if it sits in its open transaction this long (the bot died between
# the DELETE and the COMMIT and the connection lingers): how long a restart may wait to learn its fate.
IDLE_IN_TRANSACTION_MS = 60_000
Record = Callable[[int, int], Awaitable[None]]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Plan:
    """What one cleanup deletes: the statement's parts, fixed when the dry run is made."""

    target: str
    table: str
    column: str
    cutoff: datetime
    status_column: str | None = None
    status_value: str | None = None

    @property
    def where(self) -> str:
        cond = f"{_ident(self.column)} < $1::timestamptz"
        if self.status_column:
            cond = f"{_ident(self.status_column)} = $2 AND {cond}"
        return cond

    @property
    def args(self) -> list:
        return [self.cutoff] + ([self.status_value] if self.status_column else [])

    def shown(self) -> str:
        """The statement as a person reads it, values inlined."""
        cond = f"{_ident(self.column)} < '{self.cutoff.strftime('%Y-%m-%d %H:%M:%S')}+00'"
        if self.status_column:
            value = (self.status_value or "").replace("'", "''")
            cond = f"{_ident(self.status_column)} = '{value}' AND {cond}"
        return f"DELETE FROM {_ident(self.table)} WHERE {cond}"

    @classmethod
    def from_params(cls, p: dict) -> Plan:
        return cls(p["target"], p["table"], p["column"], datetime.fromisoformat(p["cutoff"]), p.get("status_column"),
                   p.get("status_value"))


def plan_for(service: ServiceConfig, target: str, age: str | None, now: datetime | None = None) -> Plan:
    if target not in TARGETS:
        raise DbUnavailable("db.usage")
    spec: CleanupTarget = getattr(service.cleanup, target)
    cutoff = (now or datetime.now(UTC)) - older_than(age or spec.older_than)
    return Plan(target, spec.table, spec.column, cutoff.replace(microsecond=0), spec.status_column,
                spec.status_value)


async def dry_run(conn: asyncpg.Connection, plan: Plan) -> tuple[int, str]:
    """(rows the statement would delete, the table's total size), read in a read-only transaction."""
    async with conn.transaction(readonly=True):
        if await conn.fetchval("SELECT to_regclass($1)", _ident(plan.table)) is None:
            raise DbUnavailable("db.cleanup.no_table", table=plan.table)
        columns = {plan.column, *([plan.status_column] if plan.status_column else [])}
        found = {r["attname"] for r in await conn.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped",
            _ident(plan.table))}
        missing = sorted(columns - found)
        if missing:
            raise DbUnavailable("db.cleanup.no_column", table=plan.table, column=", ".join(missing))
        await conn.execute(f"SET LOCAL statement_timeout = {COUNT_TIMEOUT_MS}")
        rows = await conn.fetchval(f"SELECT count(*) FROM {_ident(plan.table)} WHERE {plan.where}", *plan.args)
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size(to_regclass($1)))",
                                   _ident(plan.table))
    return int(rows), str(size)


async def delete_batch(conn: asyncpg.Connection, plan: Plan, limit: int, statement_timeout_ms: int,
                       lock_timeout_ms: int, record: Record) -> int:
    """Delete at most ``limit`` matching rows in one transaction; returns how many went. ``record`` is
    given the transaction's id and row count before it commits (the batch in flight)."""
    table = _ident(plan.table)
    async with conn.transaction():
        await conn.execute(f"SET LOCAL statement_timeout = {int(statement_timeout_ms)}")
        await conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        await conn.execute(f"SET LOCAL idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}")
        status = await conn.execute(
            f"DELETE FROM {table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {table} WHERE {plan.where} "
            f"LIMIT {int(limit)}))", *plan.args)
        rows = int(status.split()[-1])
        if rows:
            await record(int(await conn.fetchval("SELECT txid_current()")), rows)
    return rows


async def settled_rows(conn: asyncpg.Connection, flight: dict, wait: float) -> tuple[int, str]:
    """How many rows the batch in flight when the bot stopped deleted: all of them if its transaction
    committed, none if it aborted. A transaction still open (its session not yet ended by the server)
    is waited for; one PostgreSQL no longer remembers counts as committed, so the bound still holds."""
    deadline = time.monotonic() + wait
    while True:
        status = await conn.fetchval("SELECT txid_status($1)", int(flight["xid"]))
        if status == "aborted":
            return 0, status
        if status != "in progress" or time.monotonic() > deadline:
            return int(flight["rows"]), status or "unknown"
        await asyncio.sleep(1.0)


@dataclass(frozen=True)
class CleanupProgress:
    stage: str  # deleting | retrying
    detail: dict = field(default_factory=dict)


class CleanupKind:
    """``db_cleanup``: the approved batched delete."""

    action = "db_cleanup"
    typed_confirmation = False

    def __init__(self, rt: Runtime, holder: str) -> None:
        self.rt = rt
        self.holder = holder

    def message(self, req: actions.ActionRequest, lang: str, progress: Any) -> tuple[str, list[dict]]:
        return change_message(req, lang, progress)

    async def run(self, req: actions.ActionRequest, report: Report) -> None:
        await self._delete(req, report, resumed=False)

    async def resume(self, req: actions.ActionRequest, report: Report, *, announce: bool = True) -> None:
        await self._delete(req, report, resumed=True, announce=announce)

    async def _delete(self, req: actions.ActionRequest, report: Report, *, resumed: bool,
                      announce: bool = False) -> None:
        async with claim(self.rt, req.id, self.holder, resumed=announce) as held:
            if held is None:
                return
            try:
                await self._batches(held.request, report, held.lease, resumed)
            except Exception as exc:  # the flow fails the request; the audit says how far it got
                latest = await actions.get(self.rt.store, req.id)
                self._audit(latest, "error", int(latest.params.get("deleted", 0)),
                            int(latest.params.get("batches", 0)), redact(f"{type(exc).__name__}: {exc}"))
                raise

    async def _batches(self, req: actions.ActionRequest, report: Report, lease: LeaseRow, resumed: bool) -> None:
        store, p = self.rt.store, req.params
        plan = Plan.from_params(p)
        bound = int(p["rows"])
        deleted, batches = int(p.get("deleted", 0)), int(p.get("batches", 0))
        url = await database_url(self.rt.railway, db_service(self.rt.config, req.service))
        async with connect(url, read_only=False, purpose="cleanup") as conn:
            flight = p.get("in_flight")
            if flight:  # a batch was about to commit when the bot stopped: did it?
                rows, status = await settled_rows(conn, flight, IDLE_IN_TRANSACTION_MS / 1000 + 5)
                deleted, batches = deleted + rows, batches + (1 if rows else 0)
                await actions.update_params(store, req.id, deleted=deleted, batches=batches, in_flight=None,
                                            event=("cleanup.batch_settled", {"rows": rows, "xid": status}))
            if resumed:
                await actions.log_event(store, req.id, "cleanup.resumed", data={"deleted": deleted})

            async def record(xid: int, rows: int) -> None:
                await actions.update_params(store, req.id, fence=fence(), in_flight={"xid": xid, "rows": rows})

            last_report = 0.0
            while deleted < bound:
                if not await lease.acquire():
                    await actions.log_event(store, req.id, "cleanup.lease_lost", data={"deleted": deleted})
                    return
                limit = min(int(p["batch_rows"]), bound - deleted)
                n = await self._one_batch(req, conn, plan, limit, report, deleted, record)
                if n is None:
                    self._audit(req, (await actions.get(store, req.id)).verdict or "error", deleted, batches)
                    return
                deleted += n
                batches += 1 if n else 0
                await actions.update_params(store, req.id, deleted=deleted, batches=batches, in_flight=None,
                                            event=("cleanup.batch", {"rows": n, "deleted": deleted}))
                if n == 0:  # nothing older than the cutoff is left (another process deleted some)
                    break
                if time.monotonic() - last_report >= REPORT_EVERY:
                    last_report = time.monotonic()
                    await report(CleanupProgress("deleting", {"deleted": deleted, "rows": bound, "batches": batches}))
                if deleted < bound:
                    await asyncio.sleep(float(p["pause_seconds"]))
        await actions.finish(store, req.id, succeeded=True, verdict="done", detail=str(deleted))
        self._audit(req, "done", deleted, batches)

    async def _one_batch(self, req: actions.ActionRequest, conn: asyncpg.Connection, plan: Plan, limit: int,
                         report: Report, deleted: int, record: Record) -> int | None:
        """One batch, tried up to ATTEMPTS times past a timeout; None after finishing the request as stopped."""
        from asyncpg import LockNotAvailableError, QueryCanceledError  # loaded by connect() already

        p = req.params
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await delete_batch(conn, plan, limit, p["statement_timeout_ms"], p["lock_timeout_ms"], record)
            except (LockNotAvailableError, QueryCanceledError) as exc:
                await actions.log_event(self.rt.store, req.id, "cleanup.batch_timeout",
                                        data={"attempt": attempt, "error": type(exc).__name__})
                if attempt == ATTEMPTS:
                    kind = "lock_timeout" if isinstance(exc, LockNotAvailableError) else "statement_timeout"
                    await actions.finish(self.rt.store, req.id, succeeded=False, verdict=kind, detail=str(deleted))
                    return None
                await report(CleanupProgress("retrying", {"deleted": deleted, "attempt": attempt}))
                await asyncio.sleep(float(p["pause_seconds"]) * attempt + 0.5)
        return None

    def _audit(self, req: actions.ActionRequest, outcome: str, deleted: int, batches: int, why: str = "") -> None:
        """The cleanup's own audit row: how it ended, how many rows went, within which bound."""
        detail = f"deleted {deleted} of at most {req.params['rows']} rows in {batches} batches"
        self.rt.audit.received(kind="system", name="db.cleanup", outcome=outcome, subject=req.id,
                               arguments=req.params.get("statement", ""), detail=f"{detail}; {why}" if why else detail)


async def request_cleanup(rt: Runtime, flow, service_name: str, target: str, age: str | None, *, user: str,
                          channel: str, lang: str, reason: str, tell=None) -> actions.ActionRequest:
    """The dry run (exact statement, row count, table size), then the request to approve."""
    service = db_service(rt.config, service_name)
    await flow.refuse_if_pending(service.name, CleanupKind.action)
    plan = plan_for(service, target, age)
    url = await database_url(rt.railway, service)
    async with connect(url, read_only=True, purpose="cleanup-dry-run") as conn:
        rows, size = await dry_run(conn, plan)
    if rows == 0:
        raise DbUnavailable("db.cleanup.nothing", statement=plan.shown(), size=size)
    settings = service.cleanup
    return await flow.request_change(CleanupKind.action, service.name, user=user, channel=channel, lang=lang,
                                     reason=reason, tell=tell, params={
                                         "target": target, "table": plan.table, "column": plan.column,
                                         "status_column": plan.status_column, "status_value": plan.status_value,
                                         "cutoff": plan.cutoff.isoformat(), "statement": plan.shown(), "rows": rows,
                                         "table_size": size, "batch_rows": settings.batch_rows,
                                         "pause_seconds": settings.pause_seconds,
                                         "statement_timeout_ms": settings.statement_timeout_ms,
                                         "lock_timeout_ms": settings.lock_timeout_ms, "deleted": 0, "batches": 0})
