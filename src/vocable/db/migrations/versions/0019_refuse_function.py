"""vocable_refuse(): a PostgreSQL function that fails the statement calling it

The session endpoint writes a session and takes its limits in one statement on
PostgreSQL (``sessions.limits.at_once``). When the key has no session left after the
statement has taken a place, the statement calls ``vocable_refuse('rate_limited')``:
the error undoes the whole statement, so the place is never seen taken by another
request. SQLite does not use it.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION vocable_refuse(reason text) RETURNS boolean
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            RAISE EXCEPTION USING ERRCODE = 'VR001', MESSAGE = 'refused: ' || reason;
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS vocable_refuse(text)")
