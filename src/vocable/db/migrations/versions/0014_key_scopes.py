"""api keys: scopes and an optional list of agents

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08

Every existing key becomes a full-access key (``["admin"]``, limited to no agent), so
nothing that worked stops working. Plain ``ADD COLUMN`` as in 0005: a batch rebuild of
``api_keys`` on SQLite would null every session's ``api_key_id``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "api_keys",
        sa.Column("scopes", sa.JSON(), nullable=False, server_default=sa.text("'[\"admin\"]'")),
    )
    op.add_column(
        "api_keys",
        sa.Column("agent_ids", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    op.drop_column("api_keys", "agent_ids")
    op.drop_column("api_keys", "scopes")
