"""Webhook endpoints of the organisation: ``/api/webhooks``.

Creating, changing, deleting an endpoint and rotating its secret are for dashboard
users only: an endpoint receives every call's transcript, so a leaked API key must not
be able to point one elsewhere. API keys of the organisation may read the endpoints and
their delivery log and ask for a redelivery (to the endpoint a user configured).
Another organisation's endpoint or delivery is a 404; the signing secret is shown only
when it is created.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query

from vocable.api.deps import (
    CurrentUser,
    DbDep,
    PlatformDep,
    UserActorDep,
    WebhooksRead,
    WebhooksWrite,
)
from vocable.webhooks import service
from vocable.webhooks.runtime import start_dispatcher
from vocable.webhooks.schemas import (
    WebhookDeliveryPublic,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointPublic,
    WebhookEndpointUpdate,
    WebhookSecretRotated,
)


@asynccontextmanager
async def webhook_lifespan(app: FastAPI) -> AsyncIterator[None]:
    dispatcher = start_dispatcher(app.state.platform)
    app.state.webhook_dispatcher = dispatcher
    try:
        yield
    finally:
        if dispatcher is not None:
            dispatcher.stop()


router = APIRouter(prefix="/api/webhooks", tags=["webhooks"], lifespan=webhook_lifespan)


@router.get("")
def list_webhooks(db: DbDep, principal: WebhooksRead) -> list[WebhookEndpointPublic]:
    rows = service.list_endpoints(db, principal.org_id)
    return [WebhookEndpointPublic.model_validate(r) for r in rows]


@router.post("", status_code=201, responses={409: {}, 422: {}})
def create_webhook(
    body: WebhookEndpointCreate,
    db: DbDep,
    user: CurrentUser,
    platform: PlatformDep,
    actor: UserActorDep,
) -> WebhookEndpointCreated:
    """Add an endpoint; the response holds its signing secret, shown only this once.

    The URL must pass the outbound rules (https in production): otherwise 422 on ``url``
    with the reason as ``code``. A plain def: the check resolves DNS in the thread pool.
    """
    service.check_endpoint_url(body.url, platform.settings)
    created = service.create_endpoint(
        db,
        platform.box,
        org_id=user.org_id,
        data=body,
        created_by=user.id,
        max_endpoints=platform.settings.webhook_max_endpoints_per_org,
        actor=actor,
    )
    public = WebhookEndpointPublic.model_validate(created.row)
    return WebhookEndpointCreated(**public.model_dump(), secret=created.secret)


@router.get("/{webhook_id}")
def get_webhook(webhook_id: str, db: DbDep, principal: WebhooksRead) -> WebhookEndpointPublic:
    row = service.get_endpoint(db, principal.org_id, webhook_id)
    return WebhookEndpointPublic.model_validate(row)


@router.patch("/{webhook_id}", responses={422: {}})
def update_webhook(
    webhook_id: str,
    body: WebhookEndpointUpdate,
    db: DbDep,
    user: CurrentUser,
    platform: PlatformDep,
    actor: UserActorDep,
) -> WebhookEndpointPublic:
    row = service.get_endpoint(db, user.org_id, webhook_id)
    if body.url is not None:
        service.check_endpoint_url(body.url, platform.settings)
    service.update_endpoint(db, row, body, actor=actor)
    return WebhookEndpointPublic.model_validate(row)


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, db: DbDep, user: CurrentUser, actor: UserActorDep) -> None:
    service.delete_endpoint(db, service.get_endpoint(db, user.org_id, webhook_id), actor=actor)


@router.post("/{webhook_id}/rotate-secret")
def rotate_webhook_secret(
    webhook_id: str, db: DbDep, user: CurrentUser, platform: PlatformDep, actor: UserActorDep
) -> WebhookSecretRotated:
    """A new signing secret, shown once. The old one keeps signing deliveries beside it
    for ``VOCABLE_WEBHOOK_SECRET_OVERLAP_SECONDS`` (24 h by default)."""
    row = service.get_endpoint(db, user.org_id, webhook_id)
    overlap = platform.settings.webhook_secret_overlap_seconds
    secret = service.rotate_secret(db, platform.box, row, overlap, actor=actor)
    return WebhookSecretRotated(
        id=row.id, secret=secret, previous_secret_expires_at=row.previous_secret_expires_at
    )


@router.get("/{webhook_id}/deliveries")
def list_webhook_deliveries(
    webhook_id: str,
    db: DbDep,
    principal: WebhooksRead,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[WebhookDeliveryPublic]:
    """The endpoint's delivery log, newest first."""
    endpoint = service.get_endpoint(db, principal.org_id, webhook_id)
    return [service.delivery_public(r) for r in service.list_deliveries(db, endpoint, limit)]


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202, responses={409: {}}
)
def redeliver_webhook(
    webhook_id: str, delivery_id: str, db: DbDep, principal: WebhooksWrite
) -> WebhookDeliveryPublic:
    """Send a delivery again now with the same ``webhook-id`` and body (a fresh series of
    attempts); 409 while it is being sent."""
    endpoint = service.get_endpoint(db, principal.org_id, webhook_id)
    return service.delivery_public(service.redeliver(db, endpoint, delivery_id))
