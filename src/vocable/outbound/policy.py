"""What outbound fetches may do: schemes, ports, the operator allow-list, size and time."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Address, IPv6Network
from typing import TYPE_CHECKING

from vocable.outbound.addresses import IPAddress, embedded_ipv4, parse_network

if TYPE_CHECKING:
    from vocable.settings import Settings

SUPPORTED_SCHEMES = frozenset({"http", "https"})
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")


@dataclass(frozen=True, slots=True)
class AllowEntry:
    """One operator allow-list entry: a hostname (``*.`` for subdomains) or an address/CIDR.

    Written ``host``, ``host:port``, ``10.0.0.0/8``, ``127.0.0.1:8080``, ``::1`` or
    ``[::1]:8080``. With a port the entry exempts only that port, which is how a test or
    a LAN service on one port is allowed without opening the rest of the machine.
    """

    hostname: str | None = None
    network: IPv4Network | IPv6Network | None = None
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> AllowEntry:
        """Parse one entry; raises ``ValueError`` naming the entry when it is malformed."""
        raw = text.strip().lower()
        host, port = _split_entry(raw)
        if not host:
            raise ValueError(f"outbound allow-list entry {text!r} has no host")
        if "/" in host or ":" in host or _looks_numeric(host):
            try:
                return cls(network=parse_network(host), port=port)
            except ValueError:
                raise ValueError(f"outbound allow-list entry {text!r} is not an address") from None
        name = host.removeprefix("*.")
        if not name or not set(name) <= _HOST_CHARS or "" in name.split("."):
            raise ValueError(f"outbound allow-list entry {text!r} is not a hostname")
        return cls(hostname=host, port=port)

    def allows_host(self, host: str, port: int) -> bool:
        """Whether this entry names ``host`` (already normalised) on ``port``."""
        if self.hostname is None or (self.port is not None and self.port != port):
            return False
        if self.hostname.startswith("*."):
            return host.endswith(self.hostname[1:])
        return host == self.hostname

    def allows_address(self, address: IPAddress, port: int) -> bool:
        """Whether this entry covers ``address`` (IPv4-mapped IPv6 as its IPv4) on ``port``."""
        if self.network is None or (self.port is not None and self.port != port):
            return False
        if isinstance(address, IPv6Address) and self.network.version == 4:
            mapped = embedded_ipv4(address)
            return mapped is not None and mapped in self.network
        return address.version == self.network.version and address in self.network


def _split_entry(raw: str) -> tuple[str, int | None]:
    if raw.startswith("["):
        host, bracket, rest = raw[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"outbound allow-list entry {raw!r} has a malformed IPv6 host")
        return host, _entry_port(raw, rest[1:]) if rest else None
    if raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
        return host, _entry_port(raw, port_text)
    return raw, None


def _entry_port(raw: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"outbound allow-list entry {raw!r} has an invalid port")
    return int(text)


def _looks_numeric(host: str) -> bool:
    return all(part.isdigit() for part in host.split("."))


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboundPolicy:
    """Limits for fetching customer-supplied URLs; build one per process from ``Settings``.

    Ports default to any: customers run webhooks and MCP servers on ports like 3000 or
    8443, and it is the address rule, not the port, that keeps requests off the internal
    network. Operators who want fewer set ``allowed_ports``.
    """

    allowed_schemes: frozenset[str] = frozenset({"http", "https"})
    allow_hosts: tuple[str, ...] = ()
    """Operator allow-list (see ``AllowEntry``); these may be private or loopback."""
    allowed_ports: frozenset[int] | None = None
    """None: any port."""
    max_bytes: int = 10 * 1024 * 1024
    max_url_length: int = 2048
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    """Longest wait for any single read; ``total_timeout`` bounds the whole fetch."""
    total_timeout: float = 30.0
    max_redirects: int = 3
    user_agent: str = "Vocable-Outbound/1"
    tls_context: ssl.SSLContext | None = field(default=None, compare=False)
    """Trust store override (a private CA); None uses the default verified context."""
    _allow: tuple[AllowEntry, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = set(self.allowed_schemes) - SUPPORTED_SCHEMES
        if unknown or not self.allowed_schemes:
            raise ValueError(
                f"outbound schemes must be a non-empty subset of http, https: {unknown}"
            )
        if self.max_bytes < 1 or self.max_redirects < 0 or self.max_url_length < 16:
            raise ValueError("outbound max_bytes, max_redirects or max_url_length out of range")
        if min(self.connect_timeout, self.read_timeout, self.total_timeout) <= 0:
            raise ValueError("outbound timeouts must be positive")
        object.__setattr__(self, "allow_hosts", tuple(self.allow_hosts))
        object.__setattr__(self, "_allow", tuple(AllowEntry.parse(e) for e in self.allow_hosts))

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        """The process-wide policy from the ``VOCABLE_OUTBOUND_*`` settings."""
        return cls(
            allowed_schemes=frozenset(s.strip().lower() for s in settings.outbound_allowed_schemes),
            allow_hosts=tuple(settings.outbound_allow_hosts),
            allowed_ports=frozenset(settings.outbound_allowed_ports) or None,
            max_bytes=settings.outbound_max_bytes,
            connect_timeout=settings.outbound_connect_timeout_seconds,
            read_timeout=settings.outbound_read_timeout_seconds,
            total_timeout=settings.outbound_total_timeout_seconds,
            max_redirects=settings.outbound_max_redirects,
        )

    def host_allow_listed(self, host: str, port: int) -> bool:
        """Whether the operator allow-listed this hostname (exempting its name and addresses)."""
        return any(entry.allows_host(host, port) for entry in self._allow)

    def address_allow_listed(self, address: IPAddress, port: int) -> bool:
        """Whether the operator allow-listed this address on this port."""
        return any(entry.allows_address(address, port) for entry in self._allow)
