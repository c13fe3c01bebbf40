"""Which IP addresses an outbound connection may reach, and numeric host parsing.

The rule is positive where it can be: IPv6 must be global unicast (``2000::/3``) and
IPv4 must lie outside every special-purpose block in the IANA registries. Python's
``ipaddress.is_global`` is not used on its own because its tables change between
Python versions (3.11 calls multicast and ``fec0::/10`` global).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network

IPAddress = IPv4Address | IPv6Address

_V4 = IPv4Network
_V6 = IPv6Network

# IANA IPv4 special-purpose registry plus multicast and the reserved block, by category.
_IPV4_BLOCKS: tuple[tuple[IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared (CGNAT)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "protocol assignment"),
    (_V4("192.0.2.0/24"), "documentation"),
    (_V4("192.88.99.0/24"), "6to4 relay"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation"),
    (_V4("203.0.113.0/24"), "documentation"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("240.0.0.0/4"), "reserved"),
)

_GLOBAL_UNICAST = _V6("2000::/3")
_IPV4_MAPPED = _V6("::ffff:0:0/96")
_IPV4_COMPATIBLE = _V6("::/96")
_NAT64 = _V6("64:ff9b::/96")
_SIXTOFOUR = _V6("2002::/16")

# Blocks inside 2000::/3 that are not reachable public unicast.
_IPV6_BLOCKS: tuple[tuple[IPv6Network, str], ...] = (
    (_V6("2001::/32"), "Teredo"),
    (_V6("2001::/23"), "protocol assignment"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("3fff::/20"), "documentation"),
)

# Names for the common blocks outside 2000::/3, for the message only.
_IPV6_NAMES: tuple[tuple[IPv6Network, str], ...] = (
    (_V6("::1/128"), "loopback"),
    (_V6("::/128"), "unspecified"),
    (_V6("fc00::/7"), "unique local"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local"),
    (_V6("ff00::/8"), "multicast"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),
)


def non_public_category(address: IPAddress) -> str | None:
    """Why ``address`` is not globally routable public unicast, or None when it is.

    IPv6 forms that embed an IPv4 address (IPv4-mapped, NAT64 ``64:ff9b::/96``, 6to4
    ``2002::/16``) are judged by the embedded address; IPv4-compatible and Teredo
    addresses are refused outright.
    """
    if isinstance(address, IPv4Address):
        for network, category in _IPV4_BLOCKS:
            if address in network:
                return category
        return None
    embedded = embedded_ipv4(address)
    if embedded is not None:
        inner = non_public_category(embedded)
        return None if inner is None else f"{inner} (embedded in IPv6)"
    if address in _IPV4_COMPATIBLE:
        return _ipv6_name(address) or "IPv4-compatible"
    if address not in _GLOBAL_UNICAST:
        return _ipv6_name(address) or "reserved"
    for block, name in _IPV6_BLOCKS:
        if address in block:
            return name
    return None


def is_public_address(address: IPAddress) -> bool:
    """Whether ``address`` is globally routable public unicast (see ``non_public_category``)."""
    return non_public_category(address) is None


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 or 6to4 IPv6 address routes to, if any."""
    if address.scope_id is not None:
        address = IPv6Address(address.compressed.split("%", 1)[0])
    if address in _IPV4_MAPPED or address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIXTOFOUR:
        return IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
    return None


def _ipv6_name(address: IPv6Address) -> str | None:
    for network, category in _IPV6_NAMES:
        if address in network:
            return category
    return None


def ends_in_number(labels: list[str]) -> bool:
    """WHATWG "ends in a number": the host must then parse as IPv4 or be refused."""
    last = labels[-1]
    if last.isdigit() and last.isascii():
        return True
    return last[:2] in {"0x", "0X"} and all(c in "0123456789abcdefABCDEF" for c in last[2:])


def parse_ipv4_host(labels: list[str]) -> IPv4Address | None:
    """Parse a numeric host the way browsers and ``inet_aton`` do, or None if invalid.

    Accepts decimal, octal (leading ``0``) and hex (``0x``) parts and the short forms
    where the last part fills the remaining bytes: ``2130706433``, ``0177.0.0.1``,
    ``0x7f.1`` and ``127.1`` all mean 127.0.0.1.
    """
    if not 1 <= len(labels) <= 4:
        return None
    numbers = [_ipv4_part(label) for label in labels]
    if any(n is None for n in numbers):
        return None
    parts = [n for n in numbers if n is not None]
    *leading, last = parts
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(parts)):
        return None
    value = last
    for index, part in enumerate(leading):
        value += part << (8 * (3 - index))
    return IPv4Address(value)


def _ipv4_part(text: str) -> int | None:
    if text[:2] in {"0x", "0X"}:
        digits, base = text[2:], 16
    elif len(text) > 1 and text.startswith("0"):
        digits, base = text[1:], 8
    else:
        digits, base = text, 10
    if digits == "":
        return 0 if base == 16 else None
    try:
        return int(digits, base) if digits.isascii() and digits.isalnum() else None
    except ValueError:
        return None


def parse_network(text: str) -> IPv4Network | IPv6Network:
    """A single address or a CIDR block (host bits allowed) as a network."""
    return ip_network(text, strict=False)
