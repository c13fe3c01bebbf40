"""Webhook endpoints of an organisation: create, change, rotate, list deliveries."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from vocable import audit
from vocable.audit import Actor
from vocable.contracts.errors import ConflictError, InvalidError, NotFoundError
from vocable.db.engine import rows_affected
from vocable.db.models import WebhookDelivery, WebhookEndpoint
from vocable.ids import new_id
from vocable.outbound import OutboundPolicy, OutboundRefused, Resolver, check_url, system_resolver
from vocable.security.crypto import SecretBox
from vocable.settings import Settings
from vocable.webhooks.schemas import (
    WebhookDeliveryPublic,
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
)
from vocable.webhooks.signing import new_secret


def webhook_policy(settings: Settings) -> OutboundPolicy:
    """The outbound rules for webhooks: https only in production, else as configured."""
    policy = OutboundPolicy.from_settings(settings)
    if settings.environment == "production":
        return replace(policy, allowed_schemes=frozenset({"https"}))
    return policy


def check_endpoint_url(
    url: str, settings: Settings, *, resolver: Resolver = system_resolver
) -> None:
    """Refuse (422 naming ``url``, with the reason) a URL deliveries could not be sent to.

    Blocking (DNS): call it from a thread. Every delivery is checked again, since a name
    may resolve elsewhere later.
    """
    try:
        check_url(url, webhook_policy(settings), resolver=resolver)
    except OutboundRefused as e:
        message = e.message
        if e.reason.value == "scheme_not_allowed" and settings.environment == "production":
            message = "webhook URLs must use https"
        raise InvalidError(
            e.reason.value, message, errors=[{"field": "url", "message": message}]
        ) from None


def _seal(box: SecretBox, secret: str) -> str:
    return box.seal({"secret": secret})


def endpoint_secrets(box: SecretBox, row: WebhookEndpoint, now: datetime) -> tuple[str, ...]:
    """The secrets deliveries are signed with now: the current one, plus the previous one
    while its overlap lasts."""
    current = box.open(row.secret_encrypted)["secret"]
    expires = row.previous_secret_expires_at
    if row.previous_secret_encrypted and expires is not None and expires > now:
        return current, box.open(row.previous_secret_encrypted)["secret"]
    return (current,)


def list_endpoints(db: Session, org_id: str) -> list[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id)
    return list(db.scalars(query.order_by(WebhookEndpoint.created_at)))


def get_endpoint(db: Session, org_id: str, endpoint_id: str) -> WebhookEndpoint:
    row = db.get(WebhookEndpoint, endpoint_id)
    if row is None or row.org_id != org_id:
        raise NotFoundError("webhook_not_found", "Webhook endpoint not found")
    return row


@dataclass(frozen=True, repr=False)
class CreatedEndpoint:
    row: WebhookEndpoint
    secret: str


def create_endpoint(
    db: Session,
    box: SecretBox,
    *,
    org_id: str,
    data: WebhookEndpointCreate,
    created_by: str | None,
    max_endpoints: int,
    actor: Actor | None = None,
) -> CreatedEndpoint:
    count = db.scalar(select(func.count()).where(WebhookEndpoint.org_id == org_id)) or 0
    if count >= max_endpoints:
        raise ConflictError(
            "too_many_webhooks",
            f"An organisation may have at most {max_endpoints} webhook endpoints",
        )
    secret = new_secret()
    now = datetime.now(UTC)
    row = WebhookEndpoint(
        id=new_id("whk"),
        org_id=org_id,
        url=data.url,
        description=data.description,
        events=list(data.events),
        active=data.active,
        secret_encrypted=_seal(box, secret),
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    audit.record(db, org_id=org_id, actor=actor, action="webhook.created", target_id=row.id)
    db.commit()
    return CreatedEndpoint(row=row, secret=secret)


def update_endpoint(
    db: Session, row: WebhookEndpoint, data: WebhookEndpointUpdate, *, actor: Actor | None = None
) -> None:
    """Apply a partial update; ``webhook.updated`` names the fields that changed."""
    if data.url is not None:
        row.url = data.url
    if data.events is not None:
        row.events = list(data.events)
    if data.active is not None:
        row.active = data.active
    if data.description is not None:
        row.description = data.description
    fields = audit.changed_fields(row, ignore=frozenset({"updated_at"}))
    if fields:
        audit.record(
            db,
            org_id=row.org_id,
            actor=actor,
            action="webhook.updated",
            target_id=row.id,
            details={"fields": fields},
        )
    db.commit()


def delete_endpoint(db: Session, row: WebhookEndpoint, *, actor: Actor | None = None) -> None:
    """Remove the endpoint and its delivery log; queued deliveries to it are dropped."""
    audit.record(db, org_id=row.org_id, actor=actor, action="webhook.deleted", target_id=row.id)
    db.execute(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == row.id))
    db.delete(row)
    db.commit()


def rotate_secret(
    db: Session,
    box: SecretBox,
    row: WebhookEndpoint,
    overlap_seconds: int,
    *,
    actor: Actor | None = None,
) -> str:
    """A new secret; the current one keeps signing (beside it) for ``overlap_seconds``."""
    secret = new_secret()
    now = datetime.now(UTC)
    if overlap_seconds > 0:
        row.previous_secret_encrypted = row.secret_encrypted
        row.previous_secret_expires_at = now + timedelta(seconds=overlap_seconds)
    else:
        row.previous_secret_encrypted = None
        row.previous_secret_expires_at = None
    row.secret_encrypted = _seal(box, secret)
    audit.record(
        db,
        org_id=row.org_id,
        actor=actor,
        action="webhook.secret_rotated",
        target_id=row.id,
        details={"overlap_seconds": overlap_seconds},
    )
    db.commit()
    return secret


def delivery_public(row: WebhookDelivery) -> WebhookDeliveryPublic:
    public = WebhookDeliveryPublic.model_validate(row)
    if row.status != "pending":
        public.next_attempt_at = None
    return public


def list_deliveries(db: Session, endpoint: WebhookEndpoint, limit: int) -> list[WebhookDelivery]:
    query = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.org_id == endpoint.org_id
        )
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
        .limit(limit)
    )
    return list(db.scalars(query))


def redeliver(db: Session, endpoint: WebhookEndpoint, delivery_id: str) -> WebhookDelivery:
    """Queue a delivery again now, with the same ``webhook-id`` and body.

    A finished delivery (delivered or failed) starts a fresh series of attempts; a pending
    one is brought forward; one being sent right now is a 409.
    """
    row = db.get(WebhookDelivery, delivery_id)
    if row is None or row.endpoint_id != endpoint.id or row.org_id != endpoint.org_id:
        raise NotFoundError("delivery_not_found", "Delivery not found")
    now = datetime.now(UTC)
    result = db.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == row.id,
            WebhookDelivery.status.in_(("pending", "delivered", "failed")),
        )
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=now,
            claim_token=None,
            lease_expires_at=None,
            last_error=None,
            updated_at=now,
        )
    )
    db.commit()
    if rows_affected(result) != 1:
        raise ConflictError("delivery_in_progress", "The delivery is being sent; try again soon")
    db.refresh(row)
    return row
