"""Incidents and the deployments the deploy watch has seen: every state change is one guarded statement.

investigating ──mitigate──▶ mitigated ──resolve──▶ resolved
      ▲                        │
      └────────relapse─────────┘      (resolve is allowed from either open state)

At most one open incident per service: a partial unique index (``WHERE status != 'resolved'``) makes
the database refuse a second one, so two replicas (or the monitor and the deploy watch at once)
cannot open two.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.db import Store
from bot.store.models import Base, Event, UTCDateTime, utcnow

INVESTIGATING, MITIGATED, RESOLVED = "investigating", "mitigated", "resolved"
OPEN = (INVESTIGATING, MITIGATED)
SUBJECT = "incident"


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        # uq_incidents_open_service (the partial unique index of the docstring) is migration 0003's: declared
        # here, its postgresql_where would load SQLAlchemy's PostgreSQL dialect into a bot on SQLite (#17).
        Index("ix_incidents_channel", "channel_id"),
        Index("ix_incidents_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=INVESTIGATING)
    severity: Mapped[str] = mapped_column(String(8))  # sev1 | sev2 | sev3
    source: Mapped[str] = mapped_column(String(16))  # monitor | deploy | manual
    lang: Mapped[str] = mapped_column(String(8), default="en")
    symptom: Mapped[str | None] = mapped_column(String(64))
    # Language-neutral facts, rendered at display time: what failed, and the latest probe.
    impact: Mapped[dict] = mapped_column(JSON, default=dict)
    health: Mapped[dict] = mapped_column(JSON, default=dict)
    deployment: Mapped[dict] = mapped_column(JSON, default=dict)  # the one serving when it was declared
    # What serves since a change or a fix went live (a rollback's new deployment, who approved it).
    current_deployment: Mapped[dict | None] = mapped_column(JSON)
    rollback: Mapped[dict] = mapped_column(JSON, default=dict)  # {"target": {...}} or {"none": why}
    # The rollback request offered for this incident ("pending" while it is being created): at most one.
    rollback_request_id: Mapped[str | None] = mapped_column(String(32))
    findings: Mapped[list] = mapped_column(JSON, default=list)
    # True once a probe has seen the service failing while this incident was open: only then may the
    # monitor call it mitigated or propose resolving it (a customer-reported bug is not the probe's).
    probe_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_by: Mapped[str | None] = mapped_column(String(32))
    commander: Mapped[str | None] = mapped_column(String(32))
    # Escalation: how many on-call people were paged because nobody acknowledged, and when last.
    pages_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_paged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    summary_ts: Mapped[str | None] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))  # set when the incident lives in a thread
    announce_channel: Mapped[str | None] = mapped_column(String(80))
    announce_ts: Mapped[str | None] = mapped_column(String(32))
    impact_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    impact_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(32))
    cause: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def ref(self) -> str:
        return f"INC-{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status != RESOLVED


class WatchedDeployment(Base):
    """A Railway deployment the deploy watch has seen, and the last status it acted on."""

    __tablename__ = "watched_deployments"
    __table_args__ = (Index("ix_watched_deployments_service", "service"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    announce_channel: Mapped[str | None] = mapped_column(String(80))
    announce_ts: Mapped[str | None] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclass(frozen=True)
class Opened:
    incident: Incident
    created: bool  # False: the service already had an open incident, which is returned


@dataclass(frozen=True)
class Change:
    """What a guarded transition achieved: ``won`` only for the call that changed the row."""

    won: bool
    incident: Incident | None


# ---- incidents --------------------------------------------------------------------------------------


async def open_incident(store: Store, *, service: str, title: str, severity: str, source: str, lang: str,
                        impact: dict, impact_started_at: datetime, detected_at: datetime,
                        symptom: str | None = None, opened_by: str | None = None, health: dict | None = None,
                        deployment: dict | None = None, probe_failed: bool = False,
                        actor: str | None = None, event_data: dict | None = None) -> Opened:
    """Insert the incident, or return the one already open for ``service``."""
    now = utcnow()
    incident = Incident(
        service=service, title=title[:200], status=INVESTIGATING, severity=severity, source=source, lang=lang,
        symptom=symptom, impact=impact, health=health or {}, deployment=deployment or {}, rollback={},
        findings=[], probe_failed=probe_failed, opened_by=opened_by, commander=opened_by,
        impact_started_at=min(impact_started_at, now), detected_at=min(detected_at, now), declared_at=now,
        acknowledged_at=now if opened_by else None, cause="", updated_at=now)
    try:
        async with store.session() as session:
            session.add(incident)
            await session.flush()
            session.add(Event(subject_type=SUBJECT, subject_id=str(incident.id), kind="declared",
                              actor=actor or opened_by, at=now,
                              data={"source": source, "severity": severity, "title": title[:200],
                                    **(event_data or {})}))
    except IntegrityError:
        existing = await open_for_service(store, service)
        if existing is None:  # resolved between the two statements: try once more
            return await open_incident(store, service=service, title=title, severity=severity, source=source,
                                       lang=lang, impact=impact, impact_started_at=impact_started_at,
                                       detected_at=detected_at, symptom=symptom, opened_by=opened_by,
                                       health=health, deployment=deployment, probe_failed=probe_failed,
                                       actor=actor, event_data=event_data)
        return Opened(existing, created=False)
    return Opened(incident, created=True)


async def get(store: Store, incident_id: int) -> Incident | None:
    async with store.session() as session:
        return await session.get(Incident, incident_id)


async def open_for_service(store: Store, service: str) -> Incident | None:
    query = select(Incident).where(Incident.service == service, Incident.status != RESOLVED)
    async with store.session() as session:
        return (await session.scalars(query)).first()


async def open_incidents(store: Store) -> list[Incident]:
    query = select(Incident).where(Incident.status != RESOLVED).order_by(Incident.id)
    async with store.session() as session:
        return list((await session.scalars(query)).all())


async def last_change(store: Store) -> tuple[int, datetime | None]:
    """(how many incidents, when one last changed): differs as soon as one opens or moves."""
    async with store.session() as session:
        row = (await session.execute(select(func.count(), func.max(Incident.updated_at)))).one()
    return row[0], row[1]


async def for_channel(store: Store, channel_id: str) -> Incident | None:
    """The incident whose own channel this is (newest first, open or not)."""
    query = (select(Incident).where(Incident.channel_id == channel_id, Incident.thread_ts.is_(None))
             .order_by(Incident.id.desc()))
    async with store.session() as session:
        return (await session.scalars(query)).first()


async def set_fields(store: Store, incident_id: int, *, touch: bool = True, **values) -> Incident | None:
    """Plain updates (Slack ids, findings, latest health): no state change, so no guard needed."""
    if touch:
        values["updated_at"] = utcnow()
    async with store.session() as session:
        await session.execute(update(Incident).where(Incident.id == incident_id).values(**values))
        return await session.get(Incident, incident_id, populate_existing=True)


async def _transition(store: Store, incident_id: int, where, *, event: str, actor: str | None,
                      data: dict | None = None, at: datetime | None = None, **values) -> Change:
    now = utcnow()
    stmt = (update(Incident).where(Incident.id == incident_id, *where)
            .values(updated_at=now, **values))
    async with store.session() as session:
        won = (await session.execute(stmt)).rowcount == 1
        if won:
            session.add(Event(subject_type=SUBJECT, subject_id=str(incident_id), kind=event, actor=actor,
                              data=data or {}, at=at or now))
        incident = await session.get(Incident, incident_id, populate_existing=True)
    return Change(won, incident)


async def mitigate(store: Store, incident_id: int, *, at: datetime, actor: str | None, impact_ended_at: datetime,
                   data: dict | None = None) -> Change:
    return await _transition(store, incident_id, [Incident.status == INVESTIGATING], event="mitigated",
                             actor=actor, data=data, at=at, status=MITIGATED, mitigated_at=at,
                             impact_ended_at=impact_ended_at)


async def credit_change(store: Store, incident_id: int, *, since: datetime, at: datetime, actor: str | None,
                        data: dict) -> Change:
    """The probes saw the service recover after a change was approved, a moment before the change's own
    verification reported: the mitigation is the change's. Its event gets the change's words and the
    mitigation moment (TTM) becomes the verification's; impact still ended when the probes saw it."""
    stmt = (update(Incident).where(Incident.id == incident_id, Incident.status == MITIGATED,
                                   Incident.mitigated_at >= since)
            .values(mitigated_at=at, updated_at=utcnow()))
    async with store.session() as session:
        won = (await session.execute(stmt)).rowcount == 1
        if won:
            latest = (await session.scalars(
                select(Event).where(Event.subject_type == SUBJECT, Event.subject_id == str(incident_id),
                                    Event.kind == "mitigated").order_by(Event.at.desc(), Event.id.desc()).limit(1)
            )).first()
            if latest is not None:
                latest.data, latest.actor, latest.at = {**(latest.data or {}), **data}, actor, at
        incident = await session.get(Incident, incident_id, populate_existing=True)
    return Change(won, incident)


async def relapse(store: Store, incident_id: int, *, data: dict | None = None) -> Change:
    """The service fails again while mitigated: impact did not stop, so both moments are cleared."""
    return await _transition(store, incident_id, [Incident.status == MITIGATED], event="relapsed", actor=None,
                             data=data, status=INVESTIGATING, mitigated_at=None, impact_ended_at=None,
                             resolve_proposed_at=None)


async def claim_rollback(store: Store, incident_id: int, finished_request: str | None = None) -> bool:
    """Reserve the incident's rollback offer; False when one is in flight (or the incident is closed).

    ``finished_request``: the incident's previous request, which has ended, so a new offer may replace it.
    """
    free = (Incident.rollback_request_id.is_(None) if finished_request is None
            else Incident.rollback_request_id == finished_request)
    stmt = (update(Incident).where(Incident.id == incident_id, free, Incident.status != RESOLVED)
            .values(rollback_request_id="pending"))
    async with store.session() as session:
        return (await session.execute(stmt)).rowcount == 1


async def set_severity(store: Store, incident_id: int, severity: str, *, actor: str) -> Change:
    """A person changes the severity (the timeline says from what to what)."""
    current = await get(store, incident_id)
    if current is None or current.severity == severity:
        return Change(False, current)
    return await _transition(store, incident_id, [Incident.status != RESOLVED, Incident.severity == current.severity],
                             event="severity", actor=actor, data={"before": current.severity, "after": severity},
                             severity=severity)


async def set_commander(store: Store, incident_id: int, user: str, *, actor: str) -> Change:
    """``user`` leads the incident from now on; naming a commander acknowledges it too."""
    current = await get(store, incident_id)
    if current is None:
        return Change(False, None)
    now = utcnow()
    return await _transition(store, incident_id, [Incident.status != RESOLVED], event="commander", actor=actor,
                             data={"user": user, "previous": current.commander or ""}, at=now, commander=user,
                             acknowledged_at=current.acknowledged_at or now)


async def claim_reminder(store: Store, incident_id: int, *, severity: str, quiet_since: datetime) -> Change:
    """The update reminder for an incident quiet since before ``quiet_since``: one caller wins (the
    reminder is itself an update, so the next one is due a whole cadence later)."""
    return await _transition(store, incident_id, [Incident.status != RESOLVED, Incident.severity == severity,
                                                  Incident.updated_at <= quiet_since],
                             event="update_reminder", actor=None)


async def claim_page(store: Store, incident_id: int, *, sent: int, user: str) -> Change:
    """Page the next on-call person (the ``sent``-th): only while nobody has acknowledged, once per step."""
    now = utcnow()
    return await _transition(store, incident_id, [Incident.status != RESOLVED, Incident.acknowledged_at.is_(None),
                                                  Incident.pages_sent == sent],
                             event="paged", actor=None, data={"user": user, "n": sent + 1, "escalation": True},
                             at=now, pages_sent=sent + 1, last_paged_at=now)


async def propose_resolution(store: Store, incident_id: int, *, data: dict | None = None) -> Change:
    return await _transition(store, incident_id, [Incident.status != RESOLVED,
                                                  Incident.resolve_proposed_at.is_(None)],
                             event="resolution_proposed", actor=None, data=data, resolve_proposed_at=utcnow())


async def acknowledge(store: Store, incident_id: int, user: str) -> Change:
    """The first person to act on an incident acknowledges it and, if it has none, becomes its commander
    (in the same UPDATE, so nobody sees it acknowledged without one)."""
    return await _transition(store, incident_id, [Incident.status != RESOLVED, Incident.acknowledged_at.is_(None)],
                             event="acknowledged", actor=user, acknowledged_at=utcnow(),
                             commander=func.coalesce(Incident.commander, user))


async def resolve(store: Store, incident_id: int, *, user: str | None, cause: str = "") -> Change:
    """Close the incident once; impact ends now unless the monitor saw it end earlier."""
    now = utcnow()
    current = await get(store, incident_id)
    if current is None:
        return Change(False, None)
    ended = current.impact_ended_at or now
    return await _transition(store, incident_id, [Incident.status != RESOLVED], event="resolved", actor=user,
                             data={"cause": cause}, at=now, status=RESOLVED, resolved_at=now, resolved_by=user,
                             cause=cause, impact_ended_at=ended, mitigated_at=current.mitigated_at or ended)


# ---- the timeline -----------------------------------------------------------------------------------


async def add_event(store: Store, incident_id: int, kind: str, *, actor: str | None = None,
                    data: dict | None = None, at: datetime | None = None) -> None:
    async with store.session() as session:
        session.add(Event(subject_type=SUBJECT, subject_id=str(incident_id), kind=kind, actor=actor,
                          data=data or {}, at=at or utcnow()))
        await session.execute(update(Incident).where(Incident.id == incident_id).values(updated_at=utcnow()))


async def timeline(store: Store, incident_id: int) -> list[Event]:
    """Every event of the incident, oldest first (by time, then by insertion)."""
    query = (select(Event).where(Event.subject_type == SUBJECT, Event.subject_id == str(incident_id))
             .order_by(Event.at, Event.id))
    async with store.session() as session:
        return list((await session.scalars(query)).all())


# ---- deployments seen by the deploy watch ------------------------------------------------------------


async def watched(store: Store, deployment_id: str) -> WatchedDeployment | None:
    async with store.session() as session:
        return await session.get(WatchedDeployment, deployment_id)


async def any_watched(store: Store, service: str) -> bool:
    query = select(WatchedDeployment.id).where(WatchedDeployment.service == service).limit(1)
    async with store.session() as session:
        return (await session.scalars(query)).first() is not None


async def claim_new_deployment(store: Store, deployment_id: str, service: str, status: str) -> bool:
    """Record a deployment the first time it is seen; False when another caller already did."""
    now = utcnow()
    try:
        async with store.session() as session:
            session.add(WatchedDeployment(id=deployment_id, service=service, status=status, created_at=now,
                                          updated_at=now))
    except IntegrityError:
        return False
    return True


async def advance_deployment(store: Store, deployment_id: str, frm: str, to: str) -> bool:
    """Move the recorded status from ``frm`` to ``to``; only one caller wins each step."""
    stmt = (update(WatchedDeployment)
            .where(WatchedDeployment.id == deployment_id, WatchedDeployment.status == frm)
            .values(status=to, updated_at=utcnow()))
    async with store.session() as session:
        return (await session.execute(stmt)).rowcount == 1


async def set_deployment_fields(store: Store, deployment_id: str, **values) -> None:
    async with store.session() as session:
        await session.execute(update(WatchedDeployment).where(WatchedDeployment.id == deployment_id)
                              .values(updated_at=utcnow(), **values))
