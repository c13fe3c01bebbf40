"""reference voices: one record per organisation and clip, agents point at one

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Clips stored before this revision were raw uploads named by the hash of their bytes,
never decoded; nothing vouches for them, so agents forget them (their sha256 is cleared)
and show no clip until one is uploaded or fetched again. The old files stay on disk.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voices",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_url", sa.String(length=2048), nullable=True),
        sa.Column("source_format", sa.String(length=40), nullable=False),
        sa.Column("created_by_kind", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ux_voices_org_sha256", "voices", ["org_id", "sha256"], unique=True)
    op.create_index("ix_voices_sha256", "voices", ["sha256"])
    bind = op.get_bind()
    columns = {c["name"] for c in sa.inspect(bind).get_columns("agents")}
    if bind.dialect.name == "sqlite" and "voice_id" in columns:
        pass  # left by a downgrade on SQLite (see there), with its REFERENCES clause
    elif bind.dialect.name == "sqlite":
        # SQLite takes an inline REFERENCES in ADD COLUMN; Alembic's batch rebuild would
        # drop ``agents`` and, with foreign keys on, cascade into sessions and documents.
        op.execute(
            "ALTER TABLE agents ADD COLUMN voice_id VARCHAR(40) "
            "REFERENCES voices (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("agents", sa.Column("voice_id", sa.String(length=40), nullable=True))
        op.create_foreign_key(
            "fk_agents_voice_id", "agents", "voices", ["voice_id"], ["id"], ondelete="SET NULL"
        )
    op.execute("UPDATE agents SET reference_audio_sha256 = NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a column that carries a foreign key without a table rebuild
        # (see upgrade): the column stays, emptied, and a later upgrade reuses it.
        op.execute("UPDATE agents SET voice_id = NULL")
    else:
        op.drop_constraint("fk_agents_voice_id", "agents", type_="foreignkey")
        op.drop_column("agents", "voice_id")
    op.drop_index("ix_voices_sha256", table_name="voices")
    op.drop_index("ux_voices_org_sha256", table_name="voices")
    op.drop_table("voices")
