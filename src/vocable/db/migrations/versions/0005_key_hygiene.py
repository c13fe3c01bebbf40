"""key hygiene: expiry and rotation, per-key allow-lists, the audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Columns are added to ``api_keys`` with plain ``ADD COLUMN`` (no batch rebuild): on
SQLite a rebuild drops the table, and with foreign keys on that would null every
session's ``api_key_id``. ``audit_events`` refuses UPDATE at the database (a trigger on
both backends); rows go away only with their organisation.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_NEW_KEY_COLUMNS = (
    "expires_at",
    "rotated_from",
    "allowed_origins",
    "allowed_ips",
    "refused_count",
    "last_refused_at",
)


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_keys", sa.Column("rotated_from", sa.String(length=40), nullable=True))
    op.add_column(
        "api_keys",
        sa.Column("allowed_origins", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    op.add_column(
        "api_keys",
        sa.Column("allowed_ips", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    op.add_column(
        "api_keys",
        sa.Column("refused_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column(
        "api_keys", sa.Column("last_refused_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_api_keys_rotated_from", "api_keys", ["rotated_from"])

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=40), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_events_org", "audit_events", ["org_id", "id"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
        )
    else:
        op.execute(
            "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    op.drop_index("ix_audit_events_org", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index("ix_api_keys_rotated_from", table_name="api_keys")
    for column in _NEW_KEY_COLUMNS:
        # plain DROP COLUMN (SQLite >= 3.35): none of these has a constraint or an index
        op.drop_column("api_keys", column)
