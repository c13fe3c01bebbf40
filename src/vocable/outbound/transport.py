"""httpx transports that check every request URL and connect only to the checked address.

Use these when a library needs an ``httpx`` client (MCP, webhooks): each request,
including every redirect hop httpx follows, is run through ``check_url`` and then sent
to the validated IP with the original ``Host`` header, TLS server name and certificate
check. ``outbound_client`` / ``async_outbound_client`` build clients that also ignore
proxy environment variables, which would otherwise bypass the pinning.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

import httpx

from vocable.outbound.addresses import IPAddress
from vocable.outbound.check import CheckedUrl, Resolver, acheck_url, check_url, system_resolver
from vocable.outbound.policy import OutboundPolicy

_Key = tuple[str, str, int]
# Connecting may fail on one address (say IPv6 without a route); try the next checked one.
_TRY_NEXT = (httpx.ConnectError, httpx.ConnectTimeout)


def pinned_request(
    request: httpx.Request, checked: CheckedUrl, address: IPAddress
) -> httpx.Request:
    """``request`` re-addressed to ``address`` with the original Host and TLS server name."""
    url = request.url.copy_with(host=str(address), port=checked.port)
    headers = request.headers.copy()
    headers["Host"] = checked.netloc
    extensions = {**request.extensions, "sni_hostname": checked.host}
    return httpx.Request(
        request.method, url, headers=headers, stream=request.stream, extensions=extensions
    )


def _pool_key(checked: CheckedUrl) -> _Key:
    # One connection pool per hostname: pools key on the connected address, and a TLS
    # connection verified for one name must not carry requests for another on that IP.
    return (checked.target.scheme, checked.host, checked.port)


class PinnedTransport(httpx.BaseTransport):
    """Sync transport: ``check_url`` on every request, then connect to a checked address."""

    def __init__(self, *, policy: OutboundPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._pools: dict[_Key, httpx.HTTPTransport] = {}
        self._lock = threading.Lock()  # sync clients may be shared between threads

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        checked = check_url(str(request.url), self._policy, resolver=self._resolver)
        with self._lock:
            pool = self._pools.get(_pool_key(checked))
            if pool is None:
                verify: ssl.SSLContext | bool = self._policy.tls_context or True
                pool = self._pools[_pool_key(checked)] = httpx.HTTPTransport(verify=verify)
        for address in checked.addresses[:-1]:
            try:
                return pool.handle_request(pinned_request(request, checked, address))
            except _TRY_NEXT:
                continue
        return pool.handle_request(pinned_request(request, checked, checked.addresses[-1]))

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


class AsyncPinnedTransport(httpx.AsyncBaseTransport):
    """Async transport: ``acheck_url`` on every request, then connect to a checked address."""

    def __init__(self, *, policy: OutboundPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._pools: dict[_Key, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        checked = await acheck_url(str(request.url), self._policy, resolver=self._resolver)
        pool = self._pools.get(_pool_key(checked))
        if pool is None:
            verify: ssl.SSLContext | bool = self._policy.tls_context or True
            pool = self._pools[_pool_key(checked)] = httpx.AsyncHTTPTransport(verify=verify)
        for address in checked.addresses[:-1]:
            try:
                return await pool.handle_async_request(pinned_request(request, checked, address))
            except _TRY_NEXT:
                continue
        last = pinned_request(request, checked, checked.addresses[-1])
        return await pool.handle_async_request(last)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


def _client_options(policy: OutboundPolicy, options: dict[str, Any]) -> dict[str, Any]:
    # Redirects stay off unless asked for: a redirect would carry the caller's headers
    # (MCP headers, webhook signatures) to a host the customer did not name.
    defaults: dict[str, Any] = {
        "follow_redirects": False,
        "max_redirects": policy.max_redirects,
        "timeout": httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
        "headers": {"User-Agent": policy.user_agent},
    }
    return {**defaults, **options, "trust_env": False}


def outbound_client(
    policy: OutboundPolicy, *, resolver: Resolver = system_resolver, **options: Any
) -> httpx.Client:
    """An ``httpx.Client`` whose every request goes through ``PinnedTransport``.

    ``options`` go to ``httpx.Client`` (headers, auth, timeout, follow_redirects: every
    followed hop is checked again); ``trust_env`` is always False so no proxy applies.
    """
    transport = PinnedTransport(policy=policy, resolver=resolver)
    return httpx.Client(transport=transport, **_client_options(policy, options))


def async_outbound_client(
    policy: OutboundPolicy, *, resolver: Resolver = system_resolver, **options: Any
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every request goes through ``AsyncPinnedTransport``."""
    transport = AsyncPinnedTransport(policy=policy, resolver=resolver)
    return httpx.AsyncClient(transport=transport, **_client_options(policy, options))
