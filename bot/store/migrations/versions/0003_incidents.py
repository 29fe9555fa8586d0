"""Incidents (at most one open per service) and the deployments the deploy watch has seen.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OPEN_ONLY = sa.text("status != 'resolved'")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("lang", sa.String(8), nullable=False),
        sa.Column("symptom", sa.String(64)),
        sa.Column("impact", sa.JSON, nullable=False),
        sa.Column("health", sa.JSON, nullable=False),
        sa.Column("deployment", sa.JSON, nullable=False),
        sa.Column("rollback", sa.JSON, nullable=False),
        sa.Column("rollback_request_id", sa.String(32)),
        sa.Column("findings", sa.JSON, nullable=False),
        sa.Column("probe_failed", sa.Boolean, nullable=False),
        sa.Column("opened_by", sa.String(32)),
        sa.Column("commander", sa.String(32)),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("summary_ts", sa.String(32)),
        sa.Column("thread_ts", sa.String(32)),
        sa.Column("announce_channel", sa.String(80)),
        sa.Column("announce_ts", sa.String(32)),
        sa.Column("impact_started_at", UTCDateTime, nullable=False),
        sa.Column("detected_at", UTCDateTime, nullable=False),
        sa.Column("declared_at", UTCDateTime, nullable=False),
        sa.Column("acknowledged_at", UTCDateTime),
        sa.Column("mitigated_at", UTCDateTime),
        sa.Column("impact_ended_at", UTCDateTime),
        sa.Column("resolve_proposed_at", UTCDateTime),
        sa.Column("resolved_at", UTCDateTime),
        sa.Column("resolved_by", sa.String(32)),
        sa.Column("cause", sa.Text, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("uq_incidents_open_service", "incidents", ["service"], unique=True,
                    sqlite_where=_OPEN_ONLY, postgresql_where=_OPEN_ONLY)
    op.create_index("ix_incidents_channel", "incidents", ["channel_id"])
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_table(
        "watched_deployments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("announce_channel", sa.String(80)),
        sa.Column("announce_ts", sa.String(32)),
        sa.Column("incident_id", sa.Integer),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_watched_deployments_service", "watched_deployments", ["service"])


def downgrade() -> None:
    op.drop_table("watched_deployments")
    op.drop_index("uq_incidents_open_service", "incidents")
    op.drop_table("incidents")
