"""Request bodies are refused past a size limit while they arrive, before any route runs.

A declared ``Content-Length`` over the limit is answered 413 at once, before the body is
read or the caller authenticated; a chunked (or lying) body is counted as it arrives and
refused the moment it passes the limit, so no request costs more memory or disk than its
route's limit. JSON routes share ``max_json_body_bytes``; the two uploads (a reference
clip, a knowledge document) allow their file limit plus the multipart framing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vocable.api.errors import envelope
from vocable.api.uploads import MULTIPART_OVERHEAD
from vocable.settings import Settings

_VOICE_UPLOAD = re.compile(r"^/api/agents/[^/]+/voice/?$")
_DOCUMENT_UPLOAD = re.compile(r"^/api/agents/[^/]+/knowledge/?$")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a body passes its limit (the route never sees more)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body exceeds the {limit}-byte limit")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class BodyLimits:
    json_bytes: int
    voice_bytes: int
    document_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        # the upload routes check the declared length against file + framing themselves
        # (their own error names the file); this is the hard stop past that
        slack = 2 * MULTIPART_OVERHEAD
        return cls(
            json_bytes=settings.max_json_body_bytes,
            voice_bytes=settings.voice_max_bytes + slack,
            document_bytes=settings.knowledge_max_file_bytes + slack,
        )

    def for_request(self, method: str, path: str) -> int:
        if method == "PUT" and _VOICE_UPLOAD.match(path):
            return self.voice_bytes
        if method == "POST" and _DOCUMENT_UPLOAD.match(path):
            return self.document_bytes
        return self.json_bytes


def too_large_body(limit: int) -> bytes:
    """The 413 envelope (the same shape as every other error)."""
    message = f"Request body exceeds the {limit}-byte limit"
    errors = [{"field": "body", "message": message}]
    return json.dumps(envelope("too_large", message, errors)).encode()


class BodyLimitMiddleware:
    """ASGI middleware enforcing :class:`BodyLimits` on every HTTP request."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_request(scope["method"], scope["path"])
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, limit)
            return
        body = _Body(limit, expected=bool(declared) or _chunked(scope))

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.arrived(message)
            return message

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start" and body.unread():
                # answered without reading the whole body (a 401, a 404...): close the
                # connection after the answer rather than let the server drain the rest
                message.setdefault("headers", []).append((b"connection", b"close"))
            await send(message)

        await self.app(scope, counted, closing)


class _Body:
    """How much of a request's body has arrived, and whether all of it has."""

    def __init__(self, limit: int, *, expected: bool) -> None:
        self.limit = limit
        self.received = 0
        self.complete = not expected

    def arrived(self, message: Message) -> None:
        self.received += len(message.get("body", b""))
        if not message.get("more_body", False):
            self.complete = True
        if self.received > self.limit:
            raise BodyTooLarge(self.limit)

    def unread(self) -> bool:
        return not self.complete


def _chunked(scope: Scope) -> bool:
    return any(
        name == b"transfer-encoding" and b"chunked" in value.lower()
        for name, value in scope["headers"]
    )


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = too_large_body(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
