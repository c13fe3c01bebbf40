"""session_slots: each organisation's concurrent-call places; a key's session-rate bucket

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_slots",
        sa.Column(
            "org_id",
            sa.String(40),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("slot", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("session_id", sa.String(40), nullable=True),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_session_slots_session_id", "session_slots", ["session_id"])
    op.create_index("ix_session_slots_held_until", "session_slots", ["held_until"])
    op.create_index("ix_session_slots_org_held", "session_slots", ["org_id", "held_until"])
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("rate_tokens", sa.Float(), nullable=True))
        batch.add_column(sa.Column("rate_at", sa.Float(), nullable=True))
    _hold_open_sessions()


def _hold_open_sessions() -> None:
    """The calls open at upgrade time take their organisation's first places."""
    conn = op.get_bind()
    now = datetime.now(UTC)
    rows = conn.execute(
        sa.text(
            "SELECT id, org_id, status, join_deadline, hard_deadline FROM sessions "
            "WHERE status IN ('created', 'active') ORDER BY org_id, created_at"
        )
    ).all()
    slots = sa.table(
        "session_slots",
        sa.column("org_id", sa.String()),
        sa.column("slot", sa.Integer()),
        sa.column("session_id", sa.String()),
        sa.column("held_until", sa.DateTime(timezone=True)),
    )
    taken: dict[str, int] = {}
    for session_id, org_id, status, join_deadline, hard_deadline in rows:
        until = _aware(join_deadline if status == "created" else hard_deadline)
        if until <= now:
            continue  # the sweeper ends it
        slot = taken.get(org_id, 0)
        taken[org_id] = slot + 1
        conn.execute(
            slots.insert().values(org_id=org_id, slot=slot, session_id=session_id, held_until=until)
        )


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite hands back text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("rate_at")
        batch.drop_column("rate_tokens")
    op.drop_index("ix_session_slots_org_held", table_name="session_slots")
    op.drop_index("ix_session_slots_held_until", table_name="session_slots")
    op.drop_index("ix_session_slots_session_id", table_name="session_slots")
    op.drop_table("session_slots")
