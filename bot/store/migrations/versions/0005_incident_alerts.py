"""Alerts that joined an incident (one row per incident and fingerprint).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("fingerprint", sa.String(80), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("event_id", sa.Integer),
        sa.Column("first_at", UTCDateTime, nullable=False),
        sa.Column("last_at", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime),
    )
    op.create_index("uq_incident_alerts_fingerprint", "incident_alerts", ["incident_id", "fingerprint"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_incident_alerts_fingerprint", table_name="incident_alerts")
    op.drop_table("incident_alerts")
