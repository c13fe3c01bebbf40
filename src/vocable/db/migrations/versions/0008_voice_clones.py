"""agents.voice_model and voice_clones: cloning engines for reference voices

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25

An agent names how its reference voice is applied (embedded matching or a cloning
engine); a cloning engine's voice id is kept per (voice, engine, endpoint), so the clip
is uploaded to an engine once, not once per call.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("voice_model", sa.String(80), nullable=True))
    op.create_table(
        "voice_clones",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "org_id",
            sa.String(40),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "voice_id",
            sa.String(40),
            sa.ForeignKey("voices.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("engine", sa.String(40), nullable=False),
        sa.Column("target", sa.String(2048), nullable=False),
        sa.Column("provider_voice_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ux_voice_clones_voice_engine",
        "voice_clones",
        ["voice_id", "engine", "target"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_voice_clones_voice_engine", table_name="voice_clones")
    op.drop_table("voice_clones")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("voice_model")
