"""Retention of the delivery log: finished deliveries are deleted once they are old.

A delivery is finished when it is ``delivered`` or ``failed``; its ``updated_at`` is the
moment it got there (every state change sets it). Pending and in-flight deliveries are
never deleted, however old: they are the outbox, not the log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vocable.db.models import WebhookDelivery

FINISHED = ("delivered", "failed")


def purge_finished_deliveries(db: Session, *, before: datetime, batch: int = 500) -> int:
    """Delete finished deliveries last changed before ``before``; returns how many.

    Works in batches, one commit each, so no long write lock is held (SQLite has one for
    the whole database). The delete checks status and age again: a delivery queued for
    redelivery between the select and the delete is pending now, and stays.
    """
    old = (WebhookDelivery.status.in_(FINISHED), WebhookDelivery.updated_at < before)
    deleted = 0
    while True:
        ids = db.scalars(select(WebhookDelivery.id).where(*old).limit(batch)).all()
        if not ids:
            return deleted
        result = db.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids), *old))
        db.commit()
        deleted += int(result.rowcount)  # type: ignore[attr-defined]
        if len(ids) < batch:
            return deleted
