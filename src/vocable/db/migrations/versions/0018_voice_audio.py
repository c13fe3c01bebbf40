"""voice_audio: reference clips in the database, so every API process serves every voice

Clips stored as files by earlier versions are moved in when first read
(``vocable.voices.audio``): a migration does not know the data directory.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voice_audio",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("wav", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("voice_audio")
