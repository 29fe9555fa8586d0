"""Initial schema: audit log, seen requests, probe results, leases, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("team_id", sa.String(32)),
        sa.Column("user_id", sa.String(32)),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("arguments", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("trigger_id", sa.String(128)),
        sa.Column("subject", sa.String(64)),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_user_id", "audit_log", ["user_id"])
    op.create_index("ix_audit_log_correlation_id", "audit_log", ["correlation_id"])
    op.create_index("ix_audit_log_subject", "audit_log", ["subject"])
    op.create_table(
        "seen_requests",
        sa.Column("trigger_id", sa.String(128), primary_key=True),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_seen_requests_at", "seen_requests", ["at"])
    op.create_table(
        "probe_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("latency_ms", sa.Float),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("failure", sa.String(32)),
        sa.Column("source", sa.String(16), nullable=False),
    )
    op.create_index("ix_probe_service_at", "probe_results", ["service", "at"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("subject_type", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("actor", sa.String(64)),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_events_subject", "events", ["subject_type", "subject_id", "at"])


def downgrade() -> None:
    for table in ("events", "leases", "probe_results", "seen_requests", "audit_log"):
        op.drop_table(table)
