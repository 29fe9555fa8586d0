"""Tables. Every change to them comes with an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from sqlalchemy import JSON, DateTime, Float, Index, Integer, String, Text, TypeDecorator, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class AuditEntry(Base):
    """One authenticated request (command or click) or bot action, and what came of it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    team_id: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # command | action | system
    name: Mapped[str] = mapped_column(String(255))  # "/health", "rollback.approve", "railway.rollback"…
    arguments: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(64), default="received")
    detail: Mapped[str] = mapped_column(Text, default="")
    correlation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    trigger_id: Mapped[str | None] = mapped_column(String(128))
    subject: Mapped[str | None] = mapped_column(String(64), index=True)  # e.g. rollback request id


class SeenRequest(Base):
    """Trigger ids already handled: Slack has no nonce, so a replayed body is caught here."""

    __tablename__ = "seen_requests"

    trigger_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ProbeResult(Base):
    __tablename__ = "probe_results"
    __table_args__ = (Index("ix_probe_service_at", "service", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    service: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(255))
    status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(16))
    failure: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), default="command")  # command | monitor | verify


class Lease(Base):
    """Leader lease for work that must run in one replica only (monitor, deploy watch)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Event(Base):
    """Timeline entries of a rollback request or an incident (and every Railway call made for it)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_subject", "subject_type", "subject_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(48))
    actor: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON, default=dict)


class ActionRequest(Base):
    """A change to production (rollback, redeploy, restart…) waiting for, or past, its approval.

    ``status`` moves only through guarded UPDATEs (``… WHERE status = 'pending'``), so the
    database, never an in-memory flag, decides which click wins.
    """

    __tablename__ = "action_requests"
    # And the partial unique index of one pending request per service and action: one_pending_index().
    __table_args__ = (Index("ix_action_requests_status", "status", "expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    action: Mapped[str] = mapped_column(String(32))  # rollback | redeploy | restart | db_backup | …
    service: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(8), default="en")
    source: Mapped[str] = mapped_column(String(16), default="command")  # command | incident | playbook
    incident_id: Mapped[str | None] = mapped_column(String(32))
    current_deployment: Mapped[dict] = mapped_column(JSON, default=dict)
    target_deployment: Mapped[dict] = mapped_column(JSON, default=dict)
    # What a database change acts on (backup id, cleanup table and cutoff…); empty for deployment changes.
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    new_deployment_id: Mapped[str | None] = mapped_column(String(64))
    verdict: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@cache
def one_pending_index() -> Index:
    """``uq_action_requests_one_pending``, partial (``WHERE status = 'pending'``), as migration 0004 creates it.

    Put on the table on demand, by Alembic's env.py (the one reader of these tables' DDL), not in
    ``__table_args__``: naming ``postgresql_where`` loads SQLAlchemy's whole PostgreSQL dialect, and a
    bot serving on SQLite does without its 2.3 MB (#17)."""
    pending = text("status = 'pending'")
    return Index("uq_action_requests_one_pending", ActionRequest.service, ActionRequest.action, unique=True,
                 postgresql_where=pending, sqlite_where=pending)
