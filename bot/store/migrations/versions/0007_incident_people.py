"""Incidents: the deployment serving now (after a rollback or a fix) and the escalation's pages.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from bot.store.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("current_deployment", sa.JSON, nullable=True))
        batch.add_column(sa.Column("pages_sent", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_paged_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("last_paged_at")
        batch.drop_column("pages_sent")
        batch.drop_column("current_deployment")
