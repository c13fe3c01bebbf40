"""The outbound pinning of ``vocable.outbound.transport`` for the MCP SDK's HTTP client.

The MCP SDK (2.x) speaks HTTP through ``httpx2``, a fork of httpx with the same
transport interface, so the httpx transports of ``vocable.outbound`` cannot be handed
to it. This is the same rule written against httpx2: every request URL goes through
``acheck_url`` and is sent to one of the checked addresses, with the original ``Host``
header, TLS server name and certificate check.
"""

from __future__ import annotations

import ssl

import httpx2

from vocable.outbound import CheckedUrl, OutboundPolicy, Resolver, acheck_url, system_resolver
from vocable.outbound.addresses import IPAddress

_Key = tuple[str, str, int]
_TRY_NEXT = (httpx2.ConnectError, httpx2.ConnectTimeout)


def _pinned(request: httpx2.Request, checked: CheckedUrl, address: IPAddress) -> httpx2.Request:
    headers = request.headers.copy()
    headers["Host"] = checked.netloc
    return httpx2.Request(
        request.method,
        request.url.copy_with(host=str(address), port=checked.port),
        headers=headers,
        stream=request.stream,
        extensions={**request.extensions, "sni_hostname": checked.host},
    )


class PinnedMcpTransport(httpx2.AsyncBaseTransport):
    """httpx2 transport: ``acheck_url`` on every request, then connect to a checked address."""

    def __init__(self, *, policy: OutboundPolicy, resolver: Resolver = system_resolver) -> None:
        self._policy = policy
        self._resolver = resolver
        self._pools: dict[_Key, httpx2.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        checked = await acheck_url(str(request.url), self._policy, resolver=self._resolver)
        # one pool per hostname: a TLS connection verified for one name must not carry
        # requests for another name on the same address
        key = (checked.target.scheme, checked.host, checked.port)
        pool = self._pools.get(key)
        if pool is None:
            verify: ssl.SSLContext | bool = self._policy.tls_context or True
            pool = self._pools[key] = httpx2.AsyncHTTPTransport(verify=verify, trust_env=False)
        for address in checked.addresses[:-1]:
            try:
                return await pool.handle_async_request(_pinned(request, checked, address))
            except _TRY_NEXT:
                continue
        last = _pinned(request, checked, checked.addresses[-1])
        return await pool.handle_async_request(last)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


def pinned_mcp_client(
    policy: OutboundPolicy,
    *,
    headers: dict[str, str] | None = None,
    timeout: httpx2.Timeout | None = None,
    auth: httpx2.Auth | None = None,
    resolver: Resolver = system_resolver,
) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` for the MCP SDK that reaches only checked addresses.

    Redirects are not followed by the client (the SDK follows same-origin ones itself,
    and each hop passes through the transport again); proxies from the environment are
    ignored, since a proxy would resolve the name itself.
    """
    return httpx2.AsyncClient(
        transport=PinnedMcpTransport(policy=policy, resolver=resolver),
        headers={"User-Agent": policy.user_agent, **(headers or {})},
        timeout=timeout or httpx2.Timeout(policy.read_timeout, connect=policy.connect_timeout),
        auth=auth,
        follow_redirects=False,
        trust_env=False,
    )
