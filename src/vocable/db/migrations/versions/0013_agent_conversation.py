"""agents: conversation settings, built-in call tools and which fields a session may override

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# what the guide lets a session override: existing agents keep allowing all of it
ALL_OVERRIDES = '["system_prompt", "greeting", "language", "voice", "variables"]'


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("conversation", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("call_tools", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("session_overrides", sa.JSON(), nullable=False, server_default=ALL_OVERRIDES)
        )


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("session_overrides")
        batch.drop_column("call_tools")
        batch.drop_column("conversation")
