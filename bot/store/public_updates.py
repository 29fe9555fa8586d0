"""Public updates for the status page: drafted by one person, published once a second person approves.

pending ──approve (someone else)──▶ published
   └──────reject / withdraw─────────▶ rejected

Each decision is one guarded ``UPDATE … WHERE status = 'pending'`` (and, to publish, ``drafted_by !=``
the approver), so twenty clicks publish exactly once and nobody approves their own words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.db import Store
from bot.store.incidents import SUBJECT, Incident
from bot.store.models import Base, Event, UTCDateTime, utcnow

PENDING, PUBLISHED, REJECTED = "pending", "published", "rejected"
PHASES = ("investigating", "monitoring", "resolved")


class PublicUpdate(Base):
    __tablename__ = "public_updates"
    __table_args__ = (Index("ix_public_updates_incident", "incident_id", "status"),
                      Index("ix_public_updates_published", "status", "published_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    service: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(16))  # investigating | monitoring | resolved, when drafted
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    drafted_by: Mapped[str] = mapped_column(String(32))
    drafted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(8), default="en")


@dataclass(frozen=True)
class Decision:
    won: bool  # only the one click that changed the row
    update: PublicUpdate | None


async def draft(store: Store, inc: Incident, *, text: str, user: str, lang: str) -> PublicUpdate:
    now = utcnow()
    phase = "resolved" if not inc.is_open else ("monitoring" if inc.status == "mitigated" else "investigating")
    row = PublicUpdate(incident_id=inc.id, service=inc.service, phase=phase, text=text, status=PENDING,
                       drafted_by=user, drafted_at=now, lang=lang)
    async with store.session() as session:
        session.add(row)
        await session.flush()
        session.add(Event(subject_type=SUBJECT, subject_id=str(inc.id), kind="public_update_drafted", actor=user,
                          at=now, data={"update": row.id}))
    return row


async def get(store: Store, update_id: int) -> PublicUpdate | None:
    async with store.session() as session:
        return await session.get(PublicUpdate, update_id)


async def set_message(store: Store, update_id: int, channel_id: str, message_ts: str) -> None:
    async with store.session() as session:
        await session.execute(update(PublicUpdate).where(PublicUpdate.id == update_id)
                              .values(channel_id=channel_id, message_ts=message_ts))


async def _decide(store: Store, update_id: int, user: str, where: list, event: str, **values) -> Decision:
    now = utcnow()
    stmt = (update(PublicUpdate).where(PublicUpdate.id == update_id, PublicUpdate.status == PENDING, *where)
            .values(decided_by=user, decided_at=now, **values))
    async with store.session() as session:
        won = (await session.execute(stmt)).rowcount == 1
        row = await session.get(PublicUpdate, update_id, populate_existing=True)
        if won:
            session.add(Event(subject_type=SUBJECT, subject_id=str(row.incident_id), kind=event, actor=user, at=now,
                              data={"update": update_id}))
            await session.execute(update(Incident).where(Incident.id == row.incident_id).values(updated_at=now))
    return Decision(won, row)


async def publish(store: Store, update_id: int, approver: str) -> Decision:
    """Publish once, and never by the person who drafted it."""
    return await _decide(store, update_id, approver, [PublicUpdate.drafted_by != approver],
                         "public_update_published", status=PUBLISHED, published_at=utcnow())


async def reject(store: Store, update_id: int, user: str) -> Decision:
    return await _decide(store, update_id, user, [], "public_update_rejected", status=REJECTED)


async def published_since(store: Store, since: datetime, services: list[str]) -> list[PublicUpdate]:
    """Every published update of these services since ``since``, oldest first."""
    query = (select(PublicUpdate)
             .where(PublicUpdate.status == PUBLISHED, PublicUpdate.published_at >= since,
                    PublicUpdate.service.in_(services))
             .order_by(PublicUpdate.published_at, PublicUpdate.id))
    async with store.session() as session:
        return list((await session.scalars(query)).all())
