"""``fetch`` / ``afetch``: download a customer-supplied URL within the outbound policy.

Every hop is checked and pinned by the transports in ``transport.py``; this module adds
manual redirects, the size limit (on ``Content-Length`` and while streaming), the total
deadline, the status and content-type checks, and maps transport failures to reasons.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from vocable.outbound.check import Resolver, system_resolver
from vocable.outbound.errors import OutboundRefused, RefusalReason
from vocable.outbound.policy import OutboundPolicy
from vocable.outbound.transport import AsyncPinnedTransport, PinnedTransport
from vocable.outbound.urls import parse_target

R = RefusalReason
_REDIRECTS = {301, 302, 303, 307, 308}


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful fetch. ``final_url`` may hold a query string: do not log it."""

    final_url: str = field(repr=False)
    status: int
    content_type: str | None
    """The ``Content-Type`` header as sent, parameters included."""
    body: bytes = field(repr=False)

    @property
    def media_type(self) -> str | None:
        """``content_type`` without parameters, lower-case."""
        if self.content_type is None:
            return None
        return self.content_type.split(";", 1)[0].strip().lower()


def fetch(
    url: str,
    policy: OutboundPolicy,
    *,
    accept: Sequence[str] | None = None,
    resolver: Resolver = system_resolver,
) -> FetchResult:
    """GET ``url`` under ``policy`` and return the body; raises ``OutboundRefused``.

    ``accept`` lists media types or ranges (``audio/*``); when given it is sent as
    ``Accept`` and a response of any other type is refused (a missing type counts as
    ``application/octet-stream``). Blocking: DNS and I/O run on the calling thread, and
    the total deadline is checked between reads, so it may overrun by one read timeout.
    """
    deadline = time.monotonic() + policy.total_timeout
    transport = PinnedTransport(policy=policy, resolver=resolver)
    with httpx.Client(transport=transport, trust_env=False) as client:
        current = parse_target(url, policy).url
        for _hop in range(policy.max_redirects + 1):
            with _mapped_errors():
                request = client.build_request(
                    "GET",
                    current,
                    headers=_headers(policy, accept),
                    timeout=_timeout(policy, deadline),
                )
                response = client.send(request, stream=True)
                try:
                    location = _redirect_location(response, current)
                    if location is None:
                        _check_response(response, policy, accept)
                        body = bytearray()
                        for chunk in response.iter_bytes():
                            _add_chunk(body, chunk, policy, deadline)
                        return _result(current, response, bytes(body))
                finally:
                    response.close()
            current = parse_target(location, policy).url
    raise _too_many_redirects(policy)


async def afetch(
    url: str,
    policy: OutboundPolicy,
    *,
    accept: Sequence[str] | None = None,
    resolver: Resolver = system_resolver,
) -> FetchResult:
    """``fetch`` for event loops; the total deadline covers DNS and is exact."""
    try:
        async with asyncio.timeout(policy.total_timeout):
            return await _afetch(url, policy, accept=accept, resolver=resolver)
    except TimeoutError:
        raise _deadline_passed(policy) from None


async def _afetch(
    url: str, policy: OutboundPolicy, *, accept: Sequence[str] | None, resolver: Resolver
) -> FetchResult:
    deadline = time.monotonic() + policy.total_timeout
    transport = AsyncPinnedTransport(policy=policy, resolver=resolver)
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
        current = parse_target(url, policy).url
        for _hop in range(policy.max_redirects + 1):
            with _mapped_errors():
                request = client.build_request(
                    "GET",
                    current,
                    headers=_headers(policy, accept),
                    timeout=_timeout(policy, deadline),
                )
                response = await client.send(request, stream=True)
                try:
                    location = _redirect_location(response, current)
                    if location is None:
                        _check_response(response, policy, accept)
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            _add_chunk(body, chunk, policy, deadline)
                        return _result(current, response, bytes(body))
                finally:
                    await response.aclose()
            current = parse_target(location, policy).url
    raise _too_many_redirects(policy)


def _headers(policy: OutboundPolicy, accept: Sequence[str] | None) -> dict[str, str]:
    return {
        "User-Agent": policy.user_agent,
        "Accept": ", ".join(accept) if accept else "*/*",
        # Ask for the bytes as stored; a compressed body would be counted after decoding.
        "Accept-Encoding": "identity",
    }


def _timeout(policy: OutboundPolicy, deadline: float) -> httpx.Timeout:
    left = max(deadline - time.monotonic(), 0.001)
    return httpx.Timeout(min(policy.read_timeout, left), connect=min(policy.connect_timeout, left))


def _redirect_location(response: httpx.Response, current: str) -> str | None:
    if response.status_code not in _REDIRECTS:
        return None
    location: str | None = response.headers.get("Location")
    if not location:
        raise OutboundRefused(R.BAD_REDIRECT, f"redirect ({response.status_code}) has no Location")
    return urljoin(current, location)


def _check_response(
    response: httpx.Response, policy: OutboundPolicy, accept: Sequence[str] | None
) -> None:
    status = response.status_code
    if not 200 <= status < 300:
        raise OutboundRefused(R.HTTP_STATUS, f"URL answered HTTP {status}", status=status)
    if accept and not _accepted(response.headers.get("Content-Type"), accept):
        raise OutboundRefused(
            R.UNEXPECTED_CONTENT_TYPE, f"URL content type is not one of {', '.join(accept)}"
        )
    length = response.headers.get("Content-Length")
    if length is not None and length.isdigit() and int(length) > policy.max_bytes:
        raise _too_large(policy)


def _accepted(content_type: str | None, accept: Sequence[str]) -> bool:
    media = (content_type or "application/octet-stream").split(";", 1)[0].strip().lower()
    kind = media.split("/", 1)[0]
    for pattern in (a.split(";", 1)[0].strip().lower() for a in accept):
        if pattern in {"*/*", media} or pattern == f"{kind}/*":
            return True
    return False


def _add_chunk(body: bytearray, chunk: bytes, policy: OutboundPolicy, deadline: float) -> None:
    body += chunk
    if len(body) > policy.max_bytes:
        raise _too_large(policy)
    if time.monotonic() > deadline:
        raise _deadline_passed(policy)


def _result(url: str, response: httpx.Response, body: bytes) -> FetchResult:
    content_type = response.headers.get("Content-Type")
    return FetchResult(
        final_url=url, status=response.status_code, content_type=content_type, body=body
    )


@contextmanager
def _mapped_errors() -> Iterator[None]:
    """Turn httpx failures into ``OutboundRefused``, dropping the cause (it holds the URL)."""
    try:
        yield
    except httpx.InvalidURL:
        raise OutboundRefused(R.INVALID_URL, "URL cannot be requested") from None
    except httpx.TimeoutException:
        raise OutboundRefused(R.TIMEOUT, "URL did not answer in time") from None
    except httpx.ConnectError as e:
        tls = _tls_failure(e)
        if tls is not None:
            raise OutboundRefused(R.TLS_FAILED, f"TLS with URL host failed: {tls}") from None
        raise OutboundRefused(R.CONNECTION_FAILED, "could not connect to URL host") from None
    except httpx.HTTPError as e:
        kind = type(e).__name__
        raise OutboundRefused(
            R.CONNECTION_FAILED, f"URL host broke the exchange ({kind})"
        ) from None


def _tls_failure(exc: BaseException) -> str | None:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return str(cause.verify_message or "certificate not trusted")
        if isinstance(cause, ssl.SSLError):
            return str(cause.reason or "handshake failed")
        cause = cause.__cause__ or cause.__context__
    return None


def _too_large(policy: OutboundPolicy) -> OutboundRefused:
    return OutboundRefused(R.TOO_LARGE, f"URL body is larger than {policy.max_bytes} bytes")


def _deadline_passed(policy: OutboundPolicy) -> OutboundRefused:
    return OutboundRefused(R.TIMEOUT, f"URL took longer than {policy.total_timeout:g} s")


def _too_many_redirects(policy: OutboundPolicy) -> OutboundRefused:
    return OutboundRefused(
        R.TOO_MANY_REDIRECTS, f"URL redirected more than {policy.max_redirects} times"
    )
