"""Syntactic URL checks and host normalisation, done before any DNS lookup.

The parser is deliberately stricter than browsers: anything a browser would repair
(backslashes, whitespace, ``http:/host``) is refused rather than guessed at, so no
other parser can read a different host out of the same string. Numeric hosts are
normalised the way browsers and ``inet_aton`` read them, then judged as addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv6Address
from urllib.parse import urlsplit

import idna

from vocable.outbound.addresses import IPAddress, ends_in_number, parse_ipv4_host
from vocable.outbound.errors import OutboundRefused, RefusalReason
from vocable.outbound.policy import OutboundPolicy

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")
# Special-use and operator-internal suffixes that must never name a public service.
_LOCAL_SUFFIXES = (
    "localhost",
    "localdomain",
    "local",
    "internal",
    "home.arpa",
    "arpa",
    "onion",
    "invalid",
    "alt",
)
R = RefusalReason


@dataclass(frozen=True, slots=True)
class TargetUrl:
    """A URL that passed the syntactic checks, in normalised form."""

    scheme: str
    host: str
    """ASCII, lower-case; IP literals in canonical form, IPv6 without brackets."""
    port: int
    explicit_port: bool
    target: str
    """Path and query as sent on the request line; the fragment is dropped."""
    address: IPAddress | None
    """The address when the host is an IP literal (in any notation)."""

    @property
    def netloc(self) -> str:
        """Host (bracketed when IPv6) and the port when it was given explicitly."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.explicit_port else host

    @property
    def url(self) -> str:
        """The normalised URL; it holds the query string, so never log it."""
        return f"{self.scheme}://{self.netloc}{self.target}"


def parse_target(url: str, policy: OutboundPolicy) -> TargetUrl:
    """Check ``url`` syntactically against ``policy`` and normalise it, without DNS.

    Raises ``OutboundRefused`` with ``invalid_url``, ``url_too_long``,
    ``scheme_not_allowed``, ``credentials_in_url``, ``port_not_allowed`` or
    ``host_not_allowed``.
    """
    if len(url) > policy.max_url_length:
        raise OutboundRefused(R.URL_TOO_LONG, f"URL is longer than {policy.max_url_length} chars")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url) or "\\" in url:
        raise OutboundRefused(R.INVALID_URL, "URL contains whitespace, control chars or '\\'")
    scheme, sep, rest = url.partition(":")
    scheme = scheme.lower()
    if not sep or not scheme.isascii() or not scheme.isalpha():
        raise OutboundRefused(R.SCHEME_NOT_ALLOWED, "URL must start with http:// or https://")
    if scheme not in policy.allowed_schemes:
        allowed = " or ".join(f"{s}://" for s in sorted(policy.allowed_schemes))
        raise OutboundRefused(R.SCHEME_NOT_ALLOWED, f"URL must start with {allowed}")
    if not rest.startswith("//"):
        raise OutboundRefused(R.INVALID_URL, f"URL must have the form {scheme}://host/path")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise OutboundRefused(R.INVALID_URL, "URL cannot be parsed") from None
    if "@" in parts.netloc:
        raise OutboundRefused(R.CREDENTIALS_IN_URL, "URL must not contain a user name or password")
    raw_host, port_text = _split_netloc(parts.netloc)
    port = _port(port_text, scheme, policy)
    host, address = _normalise_host(raw_host)
    if address is None:
        _check_name(host, port, policy)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not target.startswith("/"):
        raise OutboundRefused(R.INVALID_URL, "URL path must start with '/'")
    return TargetUrl(
        scheme=scheme,
        host=host,
        port=port,
        explicit_port=port_text != "" and port != _DEFAULT_PORTS[scheme],
        target=target,
        address=address,
    )


def _split_netloc(netloc: str) -> tuple[str, str]:
    if netloc.startswith("["):
        host, bracket, rest = netloc[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise OutboundRefused(R.INVALID_URL, "URL has a malformed IPv6 host")
        return f"[{host}]", rest[1:]
    host, _, port_text = netloc.partition(":")
    if ":" in port_text or "[" in netloc or "]" in netloc:
        raise OutboundRefused(R.INVALID_URL, "URL has a malformed host or port")
    return host, port_text


def _port(text: str, scheme: str, policy: OutboundPolicy) -> int:
    if text == "":
        port = _DEFAULT_PORTS[scheme]
    elif text.isascii() and text.isdigit() and 1 <= int(text) <= 65535:
        port = int(text)
    else:
        raise OutboundRefused(R.INVALID_URL, "URL port must be a number from 1 to 65535")
    if policy.allowed_ports is not None and port not in policy.allowed_ports:
        raise OutboundRefused(R.PORT_NOT_ALLOWED, f"port {port} is not allowed for outbound URLs")
    return port


def _normalise_host(raw: str) -> tuple[str, IPAddress | None]:
    if raw.startswith("["):
        inner = raw[1:-1]
        if "%" in inner or not inner.isascii():
            raise OutboundRefused(R.INVALID_URL, "URL IPv6 host must not carry a zone")
        try:
            address = IPv6Address(inner)
        except ValueError:
            raise OutboundRefused(R.INVALID_URL, "URL has a malformed IPv6 host") from None
        return address.compressed, address
    if not raw:
        raise OutboundRefused(R.INVALID_URL, "URL has no host")
    host = raw.lower()
    if not host.isascii():
        try:
            # UTS #46 mapping, as browsers do: full-width digits and dots, circled
            # letters and the like become ASCII here and are judged as such below.
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise OutboundRefused(R.INVALID_URL, "URL host is not a valid domain name") from None
    if not set(host) <= _HOST_CHARS:
        raise OutboundRefused(R.INVALID_URL, "URL host contains characters not allowed in a name")
    if host.endswith("."):
        raise OutboundRefused(R.HOST_NOT_ALLOWED, "URL host must not end with a dot")
    labels = host.split(".")
    if "" in labels or len(host) > 253 or any(len(label) > 63 for label in labels):
        raise OutboundRefused(R.INVALID_URL, "URL host is not a valid domain name")
    if ends_in_number(labels):
        v4 = parse_ipv4_host(labels)
        if v4 is None:
            raise OutboundRefused(R.INVALID_URL, "URL host is not a valid IPv4 address")
        return str(v4), v4
    return host, None


def _check_name(host: str, port: int, policy: OutboundPolicy) -> None:
    if policy.host_allow_listed(host, port):
        return
    if any(host == s or host.endswith(f".{s}") for s in _LOCAL_SUFFIXES):
        raise OutboundRefused(R.HOST_NOT_ALLOWED, "URL host is a local or internal name")
    if "." not in host:
        # Dotless names resolve through search domains to internal hosts (``metadata``).
        raise OutboundRefused(R.HOST_NOT_ALLOWED, "URL host must be a fully qualified public name")
