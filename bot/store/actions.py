"""Approval-gated action requests: every state change is one guarded UPDATE.

pending ──approve──▶ approved ──start──▶ running ──finish──▶ succeeded | failed
   │                    └──────────────── interrupt ───────▶ interrupted
   ├──reject──▶ rejected
   ├──expire──▶ expired
   └──cancel──▶ cancelled (it could not be posted anywhere for approval)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from bot.store.db import Store
from bot.store.leases import take_or_renew
from bot.store.models import ActionRequest, Event, utcnow

PENDING, APPROVED, RUNNING = "pending", "approved", "running"
REJECTED, EXPIRED, CANCELLED = "rejected", "expired", "cancelled"
SUCCEEDED, FAILED, INTERRUPTED = "succeeded", "failed", "interrupted"
FINAL = {REJECTED, EXPIRED, CANCELLED, SUCCEEDED, FAILED, INTERRUPTED}


@dataclass(frozen=True)
class Decision:
    """What a click achieved: ``won`` is True only for the one click that changed the state."""

    won: bool
    request: ActionRequest | None


class AlreadyPending(Exception):
    """A pending request for the same service and change exists (a partial unique index says so)."""


@dataclass(frozen=True)
class Fence:
    """The lease a running change is held under: ``update_params(fence=…)`` records only while
    ``holder`` still holds it (renewing it), in the same transaction."""

    lease: str
    holder: str
    ttl: float


class LeaseLost(Exception):
    """Another replica holds the change's lease now (this one stalled past it): it carries the change on,
    and this one must not record or send anything more for it."""


async def create(store: Store, *, action: str, service: str, requested_by: str, ttl: timedelta,
                 reason: str = "", channel_id: str | None = None, lang: str = "en", source: str = "command",
                 incident_id: str | None = None, current_deployment: dict | None = None,
                 target_deployment: dict | None = None, params: dict | None = None) -> ActionRequest:
    now = utcnow()
    request = ActionRequest(
        id=uuid.uuid4().hex[:16], action=action, service=service, status=PENDING, requested_by=requested_by,
        reason=reason, channel_id=channel_id, lang=lang, source=source, incident_id=incident_id,
        current_deployment=current_deployment or {}, target_deployment=target_deployment or {},
        params=params or {}, created_at=now, expires_at=now + ttl, decision_note="", detail="", updated_at=now,
    )
    for stale in await due_for_expiry(store, service=service):
        await expire(store, stale.id)
    try:
        async with store.session() as session:
            session.add(request)
            await session.flush()
            session.add(Event(subject_type="action", subject_id=request.id, kind="requested", actor=requested_by,
                              data={"action": action, "service": service, "reason": reason}, at=now))
    except IntegrityError:
        raise AlreadyPending(service) from None
    return request


async def get(store: Store, request_id: str) -> ActionRequest | None:
    async with store.session() as session:
        return await session.get(ActionRequest, request_id)


async def set_message(store: Store, request_id: str, channel_id: str, message_ts: str) -> None:
    async with store.session() as session:
        await session.execute(update(ActionRequest).where(ActionRequest.id == request_id)
                              .values(channel_id=channel_id, message_ts=message_ts))


async def _transition(store: Store, request_id: str, frm: set[str], to: str, *, actor: str | None,
                      now: datetime | None = None, require_unexpired: bool = False, event: str | None = None,
                      data: dict | None = None, **values) -> Decision:
    now = now or utcnow()
    stmt = (update(ActionRequest)
            .where(ActionRequest.id == request_id, ActionRequest.status.in_(frm))
            .values(status=to, updated_at=now, **values))
    if require_unexpired:
        stmt = stmt.where(ActionRequest.expires_at > now)
    async with store.session() as session:
        won = (await session.execute(stmt)).rowcount == 1
        if won:
            session.add(Event(subject_type="action", subject_id=request_id, kind=event or to, actor=actor,
                              data=data or {}, at=now))
        request = await session.get(ActionRequest, request_id, populate_existing=True)
    return Decision(won=won, request=request)


async def approve(store: Store, request_id: str, user_id: str) -> Decision:
    now = utcnow()
    return await _transition(store, request_id, {PENDING}, APPROVED, actor=user_id, now=now,
                             require_unexpired=True, decided_by=user_id, decided_at=now)


async def reject(store: Store, request_id: str, user_id: str, note: str = "", *, withdrawn: bool = False) -> Decision:
    """``withdrawn``: the requester took their own request back (recorded as a ``withdrawn`` event)."""
    now = utcnow()
    return await _transition(store, request_id, {PENDING}, REJECTED, actor=user_id, now=now,
                             require_unexpired=True, decided_by=user_id, decided_at=now, decision_note=note,
                             event="withdrawn" if withdrawn else None, data={"note": note})


async def expire(store: Store, request_id: str) -> Decision:
    return await _transition(store, request_id, {PENDING}, EXPIRED, actor=None)


async def cancel(store: Store, request_id: str, error: str) -> Decision:
    """A pending request nobody can see (its message could not be posted) is withdrawn by the bot, so it
    neither locks the service until it expires nor waits for a click that cannot come."""
    return await _transition(store, request_id, {PENDING}, CANCELLED, actor=None, detail=error,
                             data={"error": error})


async def start(store: Store, request_id: str) -> Decision:
    return await _transition(store, request_id, {APPROVED}, RUNNING, actor=None)


async def set_new_deployment(store: Store, request_id: str, deployment_id: str) -> None:
    async with store.session() as session:
        await session.execute(update(ActionRequest).where(ActionRequest.id == request_id)
                              .values(new_deployment_id=deployment_id, updated_at=utcnow()))


async def update_params(store: Store, request_id: str, *, fence: Fence | None = None,
                        event: tuple[str, dict] | None = None, **values) -> ActionRequest | None:
    """Merge ``values`` into the request's params (what a running change learned: a backup's id…), and
    add ``event`` (kind, data) to its timeline in the same transaction: both are recorded, or neither.

    With ``fence``, only while its holder holds the lease (renewed in the same transaction, whose row
    lock makes a replica taking the lease over wait for this record): raises LeaseLost otherwise. A
    step recorded so before it is sent is therefore seen by whoever carries the change on next."""
    async with store.session() as session:
        await _within(session, store, fence)
        request = await session.get(ActionRequest, request_id, with_for_update=not store.is_sqlite)
        if request is None:
            return None
        request.params = {**(request.params or {}), **values}
        request.updated_at = utcnow()
        if event is not None:
            session.add(_timeline_event(request_id, event[0], event[1]))
    return await get(store, request_id)


async def finish(store: Store, request_id: str, *, succeeded: bool, verdict: str, detail: str = "") -> Decision:
    return await _transition(store, request_id, {RUNNING}, SUCCEEDED if succeeded else FAILED, actor=None,
                             verdict=verdict, detail=detail, data={"verdict": verdict, "detail": detail})


async def interrupt(store: Store, request_id: str, detail: str) -> Decision:
    return await _transition(store, request_id, {APPROVED, RUNNING}, INTERRUPTED, actor=None,
                             verdict="interrupted", detail=detail, data={"detail": detail})


async def _within(session, store: Store, fence: Fence | None) -> None:
    """Renew ``fence``'s lease in ``session``'s transaction, or raise LeaseLost: another holds it."""
    if fence is not None:
        renewed = await session.execute(take_or_renew(store, fence.lease, fence.holder, fence.ttl))
        if renewed.rowcount != 1:
            raise LeaseLost(fence.lease)


async def log_event(store: Store, request_id: str, kind: str, actor: str | None = None,
                    data: dict | None = None, *, fence: Fence | None = None) -> None:
    """Add an event to the request's timeline; with ``fence``, as ``update_params`` records (see there)."""
    async with store.session() as session:
        await _within(session, store, fence)
        session.add(_timeline_event(request_id, kind, data or {}, actor))


def _timeline_event(request_id: str, kind: str, data: dict, actor: str | None = None) -> Event:
    return Event(subject_type="action", subject_id=request_id, kind=kind, actor=actor, data=data, at=utcnow())


async def events(store: Store, request_id: str) -> list[Event]:
    query = (select(Event).where(Event.subject_type == "action", Event.subject_id == request_id)
             .order_by(Event.id))
    async with store.session() as session:
        return list((await session.scalars(query)).all())


async def unfinished(store: Store) -> list[ActionRequest]:
    """Requests that were approved or running when the process stopped."""
    query = select(ActionRequest).where(ActionRequest.status.in_([APPROVED, RUNNING]))
    async with store.session() as session:
        return list((await session.scalars(query)).all())


async def pending_for(store: Store, service: str, action: str) -> ActionRequest | None:
    """The unexpired pending request for this change, if any (one at a time per service and action)."""
    query = (select(ActionRequest)
             .where(ActionRequest.service == service, ActionRequest.action == action,
                    ActionRequest.status == PENDING, ActionRequest.expires_at > utcnow())
             .order_by(ActionRequest.created_at.desc()).limit(1))
    async with store.session() as session:
        return (await session.scalars(query)).first()


async def due_for_expiry(store: Store, service: str | None = None) -> list[ActionRequest]:
    query = select(ActionRequest).where(ActionRequest.status == PENDING, ActionRequest.expires_at <= utcnow())
    if service is not None:
        query = query.where(ActionRequest.service == service)
    async with store.session() as session:
        return list((await session.scalars(query)).all())


async def link_incident(store: Store, request_id: str, incident_id: str) -> bool:
    """Tie a request to the incident open for its service (once: a linked request keeps its incident)."""
    stmt = (update(ActionRequest).where(ActionRequest.id == request_id, ActionRequest.incident_id.is_(None))
            .values(incident_id=incident_id))
    async with store.session() as session:
        return (await session.execute(stmt)).rowcount == 1


async def for_incident(store: Store, incident_id: str) -> list[ActionRequest]:
    """The requests tied to an incident, oldest first."""
    query = (select(ActionRequest).where(ActionRequest.incident_id == incident_id)
             .order_by(ActionRequest.created_at, ActionRequest.id))
    async with store.session() as session:
        return list((await session.scalars(query)).all())


async def running_for(store: Store, service: str) -> list[ActionRequest]:
    """Approved or running changes of a service: what happens to it next is theirs to tell."""
    query = select(ActionRequest).where(ActionRequest.service == service,
                                        ActionRequest.status.in_([APPROVED, RUNNING]))
    async with store.session() as session:
        return list((await session.scalars(query)).all())


async def in_flight_for(store: Store, service: str) -> list[ActionRequest]:
    """A service's changes not yet over: waiting for a decision (unexpired), approved, or running."""
    query = select(ActionRequest).where(
        ActionRequest.service == service,
        ((ActionRequest.status == PENDING) & (ActionRequest.expires_at > utcnow()))
        | ActionRequest.status.in_([APPROVED, RUNNING]))
    async with store.session() as session:
        return list((await session.scalars(query)).all())


async def pending(store: Store) -> list[ActionRequest]:
    """Every unexpired pending request, oldest first (what approvers are waited on for)."""
    query = (select(ActionRequest).where(ActionRequest.status == PENDING, ActionRequest.expires_at > utcnow())
             .order_by(ActionRequest.created_at))
    async with store.session() as session:
        return list((await session.scalars(query)).all())


async def requested_by(store: Store, user_id: str, limit: int = 5) -> list[ActionRequest]:
    """This person's newest requests, whatever became of them."""
    query = (select(ActionRequest).where(ActionRequest.requested_by == user_id)
             .order_by(ActionRequest.created_at.desc()).limit(limit))
    async with store.session() as session:
        return list((await session.scalars(query)).all())


async def last_change(store: Store) -> tuple[int, datetime | None]:
    """(how many requests, when one last changed): differs as soon as any request is made or moves."""
    async with store.session() as session:
        row = (await session.execute(select(func.count(), func.max(ActionRequest.updated_at)))).one()
    return row[0], row[1]
