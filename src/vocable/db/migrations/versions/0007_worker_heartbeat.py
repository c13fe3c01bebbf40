"""sessions: the worker's last heartbeat during a call

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

A worker that is killed says nothing, and LiveKit keeps its participant in the room for
up to half a minute: the API ends a call whose worker stopped sending heartbeats.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sessions", sa.Column("worker_seen_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("sessions", "worker_seen_at")
