"""Public updates for the status page (drafted, then published by a second person).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "public_updates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("drafted_by", sa.String(32), nullable=False),
        sa.Column("drafted_at", UTCDateTime, nullable=False),
        sa.Column("decided_by", sa.String(32)),
        sa.Column("decided_at", UTCDateTime),
        sa.Column("published_at", UTCDateTime),
        sa.Column("channel_id", sa.String(32)),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("lang", sa.String(8), nullable=False),
    )
    op.create_index("ix_public_updates_incident", "public_updates", ["incident_id", "status"])
    op.create_index("ix_public_updates_published", "public_updates", ["status", "published_at"])


def downgrade() -> None:
    op.drop_index("ix_public_updates_published", table_name="public_updates")
    op.drop_index("ix_public_updates_incident", table_name="public_updates")
    op.drop_table("public_updates")
