"""Signed post-call webhooks: per-organisation endpoints, an outbox, a delivery thread.

A session's state change (``session.started``, ``session.ended``, ``session.failed``)
writes an event and one delivery per subscribed endpoint in the same transaction
(``outbox``); a background thread in every API process claims due deliveries with a
lease and POSTs them through ``vocable.outbound``, signed per endpoint (``signing``),
retrying with backoff (``delivery``).

Receivers check requests with :func:`verify`; this package's top level imports nothing
beyond the standard library, so it can be used on its own.
"""

from vocable.webhooks.signing import (
    DEFAULT_TOLERANCE_SECONDS,
    WebhookVerificationError,
    new_secret,
    sign,
    verify,
)

EVENT_TYPES = ("session.started", "session.ended", "session.failed")
"""Every event an endpoint may subscribe to."""

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "EVENT_TYPES",
    "WebhookVerificationError",
    "new_secret",
    "sign",
    "verify",
]
