"""LiveKit server webhooks: verify what the server signed, and read what it means for a call.

LiveKit signs each webhook with a JWT made with our API key pair (``Authorization``
header, no ``Bearer``) whose ``sha256`` claim is the base64 SHA-256 of the body. A request
without a valid token, or whose body does not match the claim, is refused: anyone who can
reach the API could otherwise end other people's calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

import jwt
from google.protobuf.json_format import Parse, ParseError
from livekit.api import TokenVerifier, WebhookEvent

WEBHOOK_PATH = "/livekit/webhook"
"""Where LiveKit posts its webhooks on the API (the generated server config names it)."""

WORKER_LOST = "worker_lost"
"""End reason: the agent left the room while the call was still open (the worker died)."""
MEDIA_LOST = "media_lost"
"""End reason: the call's room is gone while the call was still open (LiveKit restarted, or
the node that hosted it died)."""


class WebhookRefused(Exception):
    """The request is not a webhook our LiveKit server signed (answered with 401)."""


class WebhookVerifier:
    """Checks a webhook's signature and body hash with the platform's LiveKit key pair."""

    def __init__(self, *, api_key: str, api_secret: str) -> None:
        # a little leeway for clock skew between LiveKit nodes and the API
        self._verifier = TokenVerifier(api_key, api_secret, leeway=timedelta(seconds=30))

    def verify(self, body: bytes, authorization: str | None) -> WebhookEvent:
        """The event in ``body``, if ``authorization`` is LiveKit's signature of it."""
        if not authorization:
            raise WebhookRefused("no signature")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            claims = self._verifier.verify(token)
        except (jwt.PyJWTError, ValueError):
            raise WebhookRefused("invalid signature") from None
        if not claims.sha256:
            raise WebhookRefused("the signature covers no body")
        try:
            claimed = base64.b64decode(claims.sha256, validate=True)
        except ValueError:
            raise WebhookRefused("malformed body hash") from None
        if not hmac.compare_digest(hashlib.sha256(body).digest(), claimed):
            raise WebhookRefused("body does not match its signature")
        try:
            return Parse(body.decode("utf-8"), WebhookEvent(), ignore_unknown_fields=True)
        except (ParseError, UnicodeDecodeError):
            raise WebhookRefused("malformed event") from None


def lost_call_reason(
    event: WebhookEvent, *, caller_identity: str, started_at: datetime | None = None
) -> str | None:
    """Why an open call must end because of ``event``, or ``None`` if it need not.

    Our rooms hold the caller and the agent only (the token allows two participants), so
    anyone else who leaves is the agent. A worker that ends a call reports it before it
    leaves, so for a call that ended normally the record is closed already and this
    reason is never applied. A room that starts again after its call started (the event's
    time, in whole seconds, is past ``started_at``) was recreated: its LiveKit node died
    and the caller's reconnect made a new room on another node, with nothing of the call
    in it.
    """
    if event.event == "participant_left" and event.participant.identity != caller_identity:
        return WORKER_LOST
    if event.event == "room_finished":
        return MEDIA_LOST
    if (
        event.event == "room_started"
        and started_at is not None
        and event.created_at > started_at.timestamp()
    ):
        return MEDIA_LOST
    return None
