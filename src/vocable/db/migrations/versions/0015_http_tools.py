"""HTTP tools: business endpoints an agent's calls may call as function tools

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

A new table only: existing agents have no HTTP tools and keep working as before.
Headers are stored sealed (Fernet, the platform key) with their names in the clear, as
for MCP servers.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "http_tools",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("headers_encrypted", sa.Text(), nullable=True),
        sa.Column("header_names", sa.JSON(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_id", "name", name="uq_http_tools_agent_name"),
    )
    op.create_index("ix_http_tools_org_id", "http_tools", ["org_id"])
    op.create_index("ix_http_tools_agent", "http_tools", ["agent_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_http_tools_agent", table_name="http_tools")
    op.drop_index("ix_http_tools_org_id", table_name="http_tools")
    op.drop_table("http_tools")
