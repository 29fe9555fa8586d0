"""Alerts that joined an incident: one row per (incident, fingerprint), one timeline entry per row.

A repeat of an alert already on the incident only counts: ``UPDATE … SET count = count + 1`` locks the
row until the transaction ends, and the timeline entry's count is rewritten in that same transaction,
so concurrent repeats (or two replicas) never lose a count or add an entry. ``firing → resolved`` is
one guarded UPDATE, so a resolved alert delivered twice goes on the timeline once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Index, Integer, String, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.db import Store
from bot.store.incidents import SUBJECT, Incident
from bot.store.models import Base, Event, UTCDateTime, utcnow

FIRING, RESOLVED = "firing", "resolved"


class AlertRecord(Base):
    __tablename__ = "incident_alerts"
    __table_args__ = (Index("uq_incident_alerts_fingerprint", "incident_id", "fingerprint", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=FIRING)
    count: Mapped[int] = mapped_column(Integer, default=1)
    event_id: Mapped[int | None] = mapped_column(Integer)  # its entry on the incident's timeline
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Counted:
    """A repeat: the alert's row after counting it (``refired``: it had resolved and fires again)."""

    record: AlertRecord
    refired: bool


async def join(store: Store, incident_id: int, *, fingerprint: str, source: str, event_data: dict) -> bool:
    """The alert's first delivery to this incident: its row and its timeline entry. False when it is
    already on the incident (the caller counts it instead)."""
    now = utcnow()
    try:
        async with store.session() as session:
            event = Event(subject_type=SUBJECT, subject_id=str(incident_id), kind="alert", actor=None, at=now,
                          data={**event_data, "count": 1})
            session.add(event)
            await session.flush()
            session.add(AlertRecord(incident_id=incident_id, fingerprint=fingerprint, source=source, status=FIRING,
                                    count=1, event_id=event.id, first_at=now, last_at=now))
            await session.flush()
            await session.execute(update(Incident).where(Incident.id == incident_id).values(updated_at=now))
    except IntegrityError:
        return False
    return True


async def count_repeat(store: Store, incident_id: int, fingerprint: str, n: int = 1) -> Counted | None:
    """Count ``n`` more deliveries of an alert already on the incident; None when it is not there."""
    now = utcnow()
    where = (AlertRecord.incident_id == incident_id, AlertRecord.fingerprint == fingerprint)
    async with store.session() as session:  # writes first: the row stays locked until the entry is rewritten
        refired = (await session.execute(update(AlertRecord).where(*where, AlertRecord.status == RESOLVED)
                                         .values(status=FIRING, resolved_at=None))).rowcount == 1
        counted = await session.execute(update(AlertRecord).where(*where)
                                        .values(count=AlertRecord.count + n, last_at=now))
        if counted.rowcount != 1:
            return None
        record = (await session.scalars(select(AlertRecord).where(*where)
                                        .execution_options(populate_existing=True))).one()
        if record.event_id is not None:
            event = await session.get(Event, record.event_id)
            if event is not None:
                event.data = {**(event.data or {}), "count": record.count}
    return Counted(record, refired=refired)


async def firing(store: Store, incident_id: int, fingerprint: str) -> AlertRecord | None:
    query = select(AlertRecord).where(AlertRecord.incident_id == incident_id, AlertRecord.fingerprint == fingerprint)
    async with store.session() as session:
        return (await session.scalars(query)).first()


async def resolve(store: Store, record_id: int) -> bool:
    """``firing → resolved`` once; False when it already was."""
    stmt = (update(AlertRecord).where(AlertRecord.id == record_id, AlertRecord.status == FIRING)
            .values(status=RESOLVED, resolved_at=utcnow()))
    async with store.session() as session:
        return (await session.execute(stmt)).rowcount == 1


async def still_firing(store: Store, incident_id: int) -> int:
    query = select(func.count()).select_from(AlertRecord).where(AlertRecord.incident_id == incident_id,
                                                                AlertRecord.status == FIRING)
    async with store.session() as session:
        return int((await session.execute(query)).scalar_one())


async def for_incident(store: Store, incident_id: int) -> list[AlertRecord]:
    query = select(AlertRecord).where(AlertRecord.incident_id == incident_id).order_by(AlertRecord.id)
    async with store.session() as session:
        return list((await session.scalars(query)).all())
