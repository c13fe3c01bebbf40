"""Headers every response carries, so the dashboard and the API reference cannot be framed,
sniffed into another type, or made to run or load what they did not ship.

The Content-Security-Policy allows the page's own scripts and styles only (nothing inline,
no CDN), images and audio from this server (plus ``data:``/``blob:`` URLs the dashboard
makes), and connections to this server and to the LiveKit server browsers are sent to.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vocable.settings import Settings


def content_security_policy(livekit_public_url: str) -> str:
    parts = urlsplit(livekit_public_url)
    secure = parts.scheme in ("wss", "https")
    host = parts.netloc
    media = f"{'wss' if secure else 'ws'}://{host} {'https' if secure else 'http'}://{host}"
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "font-src 'self'",
            f"connect-src 'self' {media}",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    values = {
        "content-security-policy": content_security_policy(settings.resolved_livekit_public_url),
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cross-origin-opener-policy": "same-origin",
        "permissions-policy": "microphone=(self), camera=(), geolocation=(), payment=()",
    }
    return [(name.encode(), value.encode()) for name, value in values.items()]


class SecurityHeadersMiddleware:
    """Adds :func:`security_headers` to every HTTP response that does not set its own."""

    def __init__(self, app: ASGIApp, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # the raw (lower-case) header list, read once: this runs on every response
                raw: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
                present = {name.lower() for name, _ in raw}
                raw += [(name, value) for name, value in self.headers if name not in present]
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, with_headers)
