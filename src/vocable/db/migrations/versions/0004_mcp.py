"""MCP servers: the tool servers an agent's calls may use

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

Static headers are stored sealed (Fernet, the platform key); their names are kept in
the clear so the API can show which headers are set without decrypting them.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mcp_servers",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("agent_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("transport", sa.String(length=20), nullable=False),
        sa.Column("headers_encrypted", sa.Text(), nullable=True),
        sa.Column("header_names", sa.JSON(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("allowed_tools", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mcp_servers_org_id", "mcp_servers", ["org_id"])
    op.create_index("ix_mcp_servers_agent", "mcp_servers", ["agent_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_mcp_servers_agent", table_name="mcp_servers")
    op.drop_index("ix_mcp_servers_org_id", table_name="mcp_servers")
    op.drop_table("mcp_servers")
