"""Request and response models of ``/api/webhooks``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from vocable.contracts.fields import HttpUrlStr, NoNul
from vocable.webhooks import EVENT_TYPES

EventType = Literal["session.started", "session.ended", "session.failed"]
DeliveryStatus = Literal["pending", "delivering", "delivered", "failed"]


def _event_list(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("subscribe to at least one event")
    return [e for e in EVENT_TYPES if e in value]


ALL_EVENTS: tuple[EventType, ...] = ("session.started", "session.ended", "session.failed")
Events = Annotated[list[EventType], AfterValidator(_event_list)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), NoNul]


class WebhookEndpointCreate(BaseModel):
    """An endpoint to receive session events; every event by default."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrlStr
    events: Events = Field(default_factory=lambda: list(ALL_EVENTS))
    active: bool = True
    description: Description = ""


class WebhookEndpointUpdate(BaseModel):
    """Partial update: fields left out (or ``null``) stay as they are."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrlStr | None = None
    events: Events | None = None
    active: bool | None = None
    description: Description | None = None


class WebhookEndpointPublic(BaseModel):
    """An endpoint as the API shows it: never its signing secret."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    description: str
    events: list[str]
    active: bool
    previous_secret_expires_at: datetime | None
    """Until then deliveries are also signed with the secret before the last rotation."""
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointPublic):
    secret: str
    """The signing secret (``whsec_...``), returned only here and by rotate-secret."""


class WebhookSecretRotated(BaseModel):
    id: str
    secret: str
    """The new signing secret, shown once."""
    previous_secret_expires_at: datetime | None
    """The old secret also signs deliveries until then (``null``: it stopped at once)."""


class WebhookDeliveryPublic(BaseModel):
    """One event sent (or being sent) to one endpoint. Payloads are not shown here."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    endpoint_id: str
    event_id: str
    """The ``webhook-id`` header value: the receiver's idempotency key."""
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    """When the next attempt is due (``pending`` only)."""
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
