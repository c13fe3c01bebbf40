"""sign_in_throttles: failed dashboard sign-ins per account and per address

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Backoff and lockout must hold across API processes, so the counts live in the database.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttles",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blocked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sign_in_throttles")
