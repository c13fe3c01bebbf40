"""webhook_deliveries: an index on event_id

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25

Old webhook events are purged once no unfinished delivery needs them: the purge looks
deliveries up by event, and deleting an event cascades to its deliveries by event. Without
this index each of those scans the whole delivery log.
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_webhook_deliveries_event", "webhook_deliveries", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_event", table_name="webhook_deliveries")
