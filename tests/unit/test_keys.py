"""Per-key allow-lists and key states: origin and address rules, the client address behind
proxies. No server: the rules are pure functions of the key row and the request."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from starlette.requests import Request

from vocable.accounts.service import (
    address_allowed,
    check_allowed_ips,
    check_allowed_origins,
    key_state,
    normalise_origin,
    origin_allowed,
)
from vocable.api.deps import client_address
from vocable.db.models import ApiKey


def key(**fields: object) -> ApiKey:
    values: dict[str, object] = {"allowed_origins": [], "allowed_ips": [], "revoked_at": None}
    values["expires_at"] = None
    values.update(fields)
    return ApiKey(**values)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("https://app.example.com", "https://app.example.com"),
        ("https://App.Example.COM/", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://app.example.com:80", "http://app.example.com"),
        ("http://localhost:5173", "http://localhost:5173"),
        ("https://127.0.0.1:8443", "https://127.0.0.1:8443"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    ],
)
def test_origins_are_normalised_as_browsers_send_them(raw: str, normal: str) -> None:
    assert normalise_origin(raw) == normal


@pytest.mark.parametrize(
    "raw",
    [
        "null",
        "app.example.com",
        "ftp://app.example.com",
        "https://app.example.com/path",
        "https://app.example.com?x=1",
        "https://app.example.com#f",
        "https://user:pw@app.example.com",
        "https://*.example.com",
        "https://app.example.com:99999",
        "https://bücher.example",
        "https://app example.com",
        "https:\\\\app.example.com",
        "",
    ],
)
def test_anything_but_scheme_host_and_port_is_not_an_origin(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_origin(raw)


def test_list_errors_name_the_entry_never_its_value() -> None:
    with pytest.raises(ValueError) as err:
        check_allowed_origins(["https://ok.example", "https://secret-value.example/x"])
    assert "entry 2" in str(err.value) and "secret-value" not in str(err.value)
    with pytest.raises(ValueError) as err:
        check_allowed_ips(["10.0.0.0/8", "10.0.0.300"])
    assert "entry 2" in str(err.value) and "300" not in str(err.value)
    with pytest.raises(ValueError):
        check_allowed_ips([f"10.0.{i}.0/24" for i in range(51)])


def test_lists_are_normalised_and_deduplicated() -> None:
    assert check_allowed_ips(["10.1.2.3/8", "10.0.0.0/8", "2001:db8::1", " 192.0.2.7 "]) == [
        "10.0.0.0/8",
        "2001:db8::1/128",
        "192.0.2.7/32",
    ]
    assert check_allowed_origins(["https://a.example:443", "https://A.example"]) == [
        "https://a.example"
    ]


def test_origin_rule_allows_listed_or_absent_origins_only() -> None:
    row = key(allowed_origins=["https://app.example.com"])
    assert origin_allowed(row, "https://app.example.com")
    assert origin_allowed(row, "https://APP.example.com:443")
    assert origin_allowed(row, None)  # server-to-server: no Origin header
    assert not origin_allowed(row, "https://evil.example")
    assert not origin_allowed(row, "http://app.example.com")  # another scheme
    assert not origin_allowed(row, "https://app.example.com:8443")
    assert not origin_allowed(row, "null")
    assert origin_allowed(key(), "https://anything.example")


def test_address_rule_needs_a_known_address_inside_a_range() -> None:
    row = key(allowed_ips=["203.0.113.0/24", "2001:db8::/32"])
    assert address_allowed(row, ipaddress.ip_address("203.0.113.9"))
    assert address_allowed(row, ipaddress.ip_address("2001:db8::5"))
    assert not address_allowed(row, ipaddress.ip_address("127.0.0.1"))
    assert not address_allowed(row, None)
    assert address_allowed(key(), None)


def test_key_states() -> None:
    now = datetime.now(UTC)
    assert key_state(key(), now) == "active"
    assert key_state(key(expires_at=now + timedelta(hours=1)), now) == "expiring"
    assert key_state(key(expires_at=now), now) == "expired"
    assert key_state(key(revoked_at=now, expires_at=now + timedelta(hours=1)), now) == "revoked"


def request_from(peer: str, forwarded: list[str] | None = None) -> Request:
    headers = [(b"x-forwarded-for", v.encode()) for v in forwarded or []]
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    scope["client"] = (peer, 50000)
    return Request(scope)


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    spoofed = request_from("198.51.100.7", ["203.0.113.9"])
    assert str(client_address(spoofed, [])) == "198.51.100.7"
    assert str(client_address(spoofed, ["10.0.0.0/8"])) == "198.51.100.7"


def test_behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client() -> None:
    proxies = ["10.0.0.0/8"]
    # the client wrote a fake first hop; the proxies appended what they saw
    req = request_from("10.0.0.2", ["1.2.3.4, 203.0.113.9", "10.0.0.1"])
    assert str(client_address(req, proxies)) == "203.0.113.9"
    assert str(client_address(request_from("10.0.0.2"), proxies)) == "10.0.0.2"
    assert client_address(request_from("10.0.0.2", ["garbage"]), proxies) is None


def test_ipv4_mapped_peers_are_read_as_ipv4() -> None:
    req = request_from("::ffff:192.0.2.1")
    assert client_address(req, []) == ipaddress.ip_address("192.0.2.1")
