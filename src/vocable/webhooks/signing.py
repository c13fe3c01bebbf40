"""Webhook signatures in the Standard Webhooks scheme (https://www.standardwebhooks.com).

Every request carries three headers:

- ``webhook-id``: the event id (``evt_...``), the same on every retry: the idempotency key;
- ``webhook-timestamp``: Unix seconds when this attempt was signed;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` over ``f"{id}.{timestamp}.{body}"``
  with the endpoint secret as key, the bytes that follow ``whsec_`` base64-decoded. During
  a secret rotation the header holds one signature per valid secret, space-separated.

Libraries written for the scheme (``standardwebhooks``, Svix) verify these requests as
they are; :func:`verify` does the same without any dependency.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's marker, not a secret
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookVerificationError(Exception):
    """A webhook request is not authentic, is stale, or lacks its headers."""


def new_secret() -> str:
    """A fresh endpoint secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret is not whsec_ followed by base64") from None


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """One ``v1,<base64>`` signature of ``body`` for ``msg_id`` at ``timestamp``."""
    signed = f"{msg_id}.{timestamp}.".encode() + _as_bytes(body)
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes | str
) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets_)


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> None:
    """Check a received webhook; raises ``WebhookVerificationError`` unless authentic.

    ``headers`` are the request headers (any case), ``body`` the raw request body exactly
    as received (parse JSON only after this passes). A timestamp more than ``tolerance``
    seconds from now, in either direction, is refused, so a captured request cannot be
    replayed later; within the window, deduplicate on ``webhook-id``. Signatures are
    compared in constant time.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    sent = lowered.get("webhook-signature", "")
    if not msg_id or not stamp or not sent:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
    try:
        expected = sign(secret, msg_id, timestamp, body).encode()
    except ValueError:
        raise WebhookVerificationError("the secret is not a whsec_ secret") from None
    matched = False
    for candidate in sent.split():
        # no early exit: the time taken does not say which candidate matched
        matched |= hmac.compare_digest(candidate.encode(), expected)
    if not matched:
        raise WebhookVerificationError("no signature matches")
