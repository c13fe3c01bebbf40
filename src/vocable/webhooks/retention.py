"""Retention of the delivery log and of the events it sends.

A delivery is finished when it is ``delivered`` or ``failed``; its ``updated_at`` is the
moment it got there (every state change sets it). Pending and in-flight deliveries are
never deleted, however old: they are the outbox, not the log.

An event (its ``payload`` holds the call's transcript) is deleted once it is older than
the retention and none of its deliveries is pending or in flight; its finished
deliveries go with it. An event no endpoint subscribed to has no deliveries at all and
is deleted at the same age.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vocable.db.engine import rows_affected
from vocable.db.models import WebhookDelivery, WebhookEvent

FINISHED = ("delivered", "failed")
UNFINISHED = ("pending", "delivering")


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
        deleted += rows_affected(result)
        if len(ids) < batch:
            return deleted


def purge_old_events(db: Session, *, before: datetime, batch: int = 500) -> int:
    """Delete events created before ``before`` that no unfinished delivery still needs,
    with their finished deliveries; returns how many events.

    Batches of one commit each, like :func:`purge_finished_deliveries`. Each batch first
    deletes the finished deliveries of its events (checking their status again, so one
    queued for redelivery meanwhile is pending now and stays), then only those events
    that have no delivery left at all. The cascade from events to deliveries therefore
    never removes anything: an event whose delivery became pending stays, with it.
    Deliveries are only ever inserted with their event, so an event with none never
    gains one.
    """
    unfinished = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.event_id == WebhookEvent.id, WebhookDelivery.status.in_(UNFINISHED))
        .exists()
    )
    any_delivery = select(WebhookDelivery.id).where(WebhookDelivery.event_id == WebhookEvent.id)
    old = WebhookEvent.created_at < before
    deleted = 0
    while True:
        ids = db.scalars(select(WebhookEvent.id).where(old, ~unfinished).limit(batch)).all()
        if not ids:
            return deleted
        db.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.event_id.in_(ids), WebhookDelivery.status.in_(FINISHED)
            )
        )
        result = db.execute(
            delete(WebhookEvent).where(WebhookEvent.id.in_(ids), old, ~any_delivery.exists())
        )
        db.commit()
        done = rows_affected(result)
        deleted += done
        if len(ids) < batch or done == 0:
            return deleted
