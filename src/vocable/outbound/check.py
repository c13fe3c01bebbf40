"""``check_url``: syntax, then DNS, then every answer judged; returns the addresses to pin.

Callers that bring their own HTTP client use the result like this, or use
``PinnedTransport`` / ``AsyncPinnedTransport`` which do exactly this per request:

1. connect to one of ``checked.addresses`` (never resolve ``checked.host`` again: a
   second lookup may answer differently, which is DNS rebinding);
2. send ``Host: checked.netloc`` and, for https, use ``checked.host`` as the TLS server
   name and verify the certificate against it;
3. do not follow redirects on their own: run each ``Location`` through ``check_url``;
4. ignore proxy environment variables (``trust_env=False`` in httpx), since a proxy
   would do its own resolution.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from ipaddress import ip_address

from vocable.outbound.addresses import IPAddress, non_public_category
from vocable.outbound.errors import OutboundRefused, RefusalReason
from vocable.outbound.policy import OutboundPolicy
from vocable.outbound.urls import TargetUrl, parse_target

R = RefusalReason

Resolver = Callable[[str], Iterable[str]]
"""Maps a hostname to all its A/AAAA answers as strings; raises ``OSError`` on failure."""


def system_resolver(host: str) -> list[str]:
    """Every address the system resolver returns for ``host``, in its preference order."""
    answers: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if address not in answers:
            answers.append(address)
    return answers


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """A URL that passed every check, with the addresses a connection may use."""

    target: TargetUrl
    addresses: tuple[IPAddress, ...]
    """Validated answers in resolver order; connect to these and nothing else."""

    @property
    def url(self) -> str:
        """The normalised URL; it holds the query string, so never log it."""
        return self.target.url

    @property
    def host(self) -> str:
        """The hostname for TLS SNI and certificate checks (an address for IP literals)."""
        return self.target.host

    @property
    def netloc(self) -> str:
        """The ``Host`` header value."""
        return self.target.netloc

    @property
    def port(self) -> int:
        return self.target.port


def check_url(
    url: str, policy: OutboundPolicy, *, resolver: Resolver = system_resolver
) -> CheckedUrl:
    """Refuse ``url`` unless it is a public http(s) URL, or allow-listed by the operator.

    Resolves the host (blocking; use ``acheck_url`` on an event loop) and refuses when
    any answer is not public unicast, so a mixed public/private answer is refused too.
    Raises ``OutboundRefused``.
    """
    target = parse_target(url, policy)
    if target.address is not None:
        return _judge(target, [target.address], policy)
    return _judge(target, _answers(target.host, resolver), policy)


async def acheck_url(
    url: str, policy: OutboundPolicy, *, resolver: Resolver = system_resolver
) -> CheckedUrl:
    """``check_url`` for event loops: the resolver runs in a worker thread.

    Async clients (MCP, webhooks) that only need the check call this and then connect to
    ``addresses`` as the module docstring describes.
    """
    target = parse_target(url, policy)
    if target.address is not None:
        return _judge(target, [target.address], policy)
    answers = await asyncio.to_thread(_answers, target.host, resolver)
    return _judge(target, answers, policy)


def _answers(host: str, resolver: Resolver) -> list[IPAddress]:
    try:
        raw = list(resolver(host))
    except (OSError, UnicodeError):
        raise OutboundRefused(R.DNS_FAILED, "URL host could not be resolved") from None
    try:
        answers = [ip_address(a) for a in raw]
    except ValueError:
        raise OutboundRefused(R.DNS_FAILED, "URL host resolved to a malformed address") from None
    if not answers:
        raise OutboundRefused(R.DNS_FAILED, "URL host has no addresses")
    return answers


def _judge(target: TargetUrl, answers: list[IPAddress], policy: OutboundPolicy) -> CheckedUrl:
    trusted_name = target.address is None and policy.host_allow_listed(target.host, target.port)
    for address in answers:
        if trusted_name or policy.address_allow_listed(address, target.port):
            continue
        category = non_public_category(address)
        if category is not None:
            where = "is" if target.address is not None else "resolves to"
            raise OutboundRefused(
                R.PRIVATE_ADDRESS, f"URL host {where} a non-public address ({category})"
            )
    return CheckedUrl(target=target, addresses=tuple(answers))
