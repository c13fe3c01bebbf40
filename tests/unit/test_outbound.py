"""Outbound URL checks: hostile URLs are refused with the right reason, public ones pass."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from ipaddress import ip_address

import pytest

from vocable.outbound import (
    AllowEntry,
    OutboundPolicy,
    OutboundRefused,
    RefusalReason,
    check_url,
    is_public_address,
    non_public_category,
)
from vocable.outbound.check import acheck_url
from vocable.settings import Settings

R = RefusalReason

# A fake DNS: every name the tests use, and nothing else (unknown names fail like NXDOMAIN).
ZONE: dict[str, list[str]] = {
    "evil.test": ["10.0.0.1"],
    "loopback.test": ["127.0.0.1"],
    "metadata.test": ["169.254.169.254"],
    "cgnat.test": ["100.100.100.200"],
    "ula.test": ["fd00:ec2::254"],
    "v6loop.test": ["::1"],
    "mapped.test": ["::ffff:192.168.1.1"],
    "mixed.test": ["93.184.216.34", "10.0.0.1"],
    "mixed6.test": ["2606:4700::6810:84e5", "fe80::1"],
    "zero.test": ["0.0.0.0"],
    "garbage.test": ["not-an-address"],
    "empty.test": [],
    "public.example": ["93.184.216.34"],
    "dual.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "xn--bcher-kva.example": ["93.184.216.34"],
    "nat64.example": ["64:ff9b::5db8:d822"],
    "mcp.lan": ["192.168.1.20"],
    "localhost.net": ["127.0.0.1"],
}


def fake_resolver(host: str) -> Iterable[str]:
    if host not in ZONE:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return ZONE[host]


POLICY = OutboundPolicy()

HOSTILE: list[tuple[str, RefusalReason]] = [
    # private, loopback, link-local and metadata addresses as literals
    ("http://10.0.0.1/", R.PRIVATE_ADDRESS),
    ("http://172.16.5.4/", R.PRIVATE_ADDRESS),
    ("http://192.168.0.1/", R.PRIVATE_ADDRESS),
    ("http://127.0.0.1/", R.PRIVATE_ADDRESS),
    ("http://127.255.255.254:8080/admin", R.PRIVATE_ADDRESS),
    ("http://169.254.169.254/latest/meta-data/", R.PRIVATE_ADDRESS),
    ("http://100.64.0.1/", R.PRIVATE_ADDRESS),
    ("http://0.0.0.0/", R.PRIVATE_ADDRESS),
    ("http://0/", R.PRIVATE_ADDRESS),
    ("http://224.0.0.1/", R.PRIVATE_ADDRESS),
    ("http://255.255.255.255/", R.PRIVATE_ADDRESS),
    ("http://240.0.0.1/", R.PRIVATE_ADDRESS),
    ("http://192.0.2.10/", R.PRIVATE_ADDRESS),
    ("http://198.18.0.1/", R.PRIVATE_ADDRESS),
    # IPv6: loopback, unspecified, link-local, ULA, site-local, multicast, documentation
    ("http://[::1]/", R.PRIVATE_ADDRESS),
    ("http://[::]/", R.PRIVATE_ADDRESS),
    ("http://[fe80::1]/", R.PRIVATE_ADDRESS),
    ("http://[fd00:ec2::254]/", R.PRIVATE_ADDRESS),
    ("http://[fc00::1]/", R.PRIVATE_ADDRESS),
    ("http://[fec0::1]/", R.PRIVATE_ADDRESS),
    ("http://[ff02::1]/", R.PRIVATE_ADDRESS),
    ("http://[2001:db8::1]/", R.PRIVATE_ADDRESS),
    # IPv6 forms that embed a private IPv4 address
    ("http://[::ffff:127.0.0.1]/", R.PRIVATE_ADDRESS),
    ("http://[::ffff:7f00:1]/", R.PRIVATE_ADDRESS),
    ("http://[::ffff:a9fe:a9fe]/", R.PRIVATE_ADDRESS),
    ("http://[::127.0.0.1]/", R.PRIVATE_ADDRESS),
    ("http://[64:ff9b::a00:1]/", R.PRIVATE_ADDRESS),
    ("http://[64:ff9b::7f00:1]/", R.PRIVATE_ADDRESS),
    ("http://[2002:7f00:1::]/", R.PRIVATE_ADDRESS),
    ("http://[2002:a9fe:a9fe::1]/", R.PRIVATE_ADDRESS),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", R.PRIVATE_ADDRESS),
    # numeric hosts read the way browsers and inet_aton read them
    ("http://2130706433/", R.PRIVATE_ADDRESS),
    ("http://0177.0.0.1/", R.PRIVATE_ADDRESS),
    ("http://0x7f.1/", R.PRIVATE_ADDRESS),
    ("http://0x7F000001/", R.PRIVATE_ADDRESS),
    ("http://127.1/", R.PRIVATE_ADDRESS),
    ("http://10.1/", R.PRIVATE_ADDRESS),
    ("http://0xa9.0xfe.0xa9.0xfe/", R.PRIVATE_ADDRESS),
    ("http://017700000001/", R.PRIVATE_ADDRESS),
    ("http://1.2.3.4.5/", R.INVALID_URL),
    ("http://256.0.0.1/", R.INVALID_URL),
    ("http://08.0.0.1/", R.INVALID_URL),
    # non-ASCII hosts that IDNA-map to something refused
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", R.PRIVATE_ADDRESS),
    ("http://127\u30020\u30020\u30021/", R.PRIVATE_ADDRESS),
    ("http://\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3/", R.HOST_NOT_ALLOWED),
    (
        "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54.\uff4e\uff45\uff54/",
        R.PRIVATE_ADDRESS,
    ),
    ("http://exa\u200bmple\u2024com\u00ad\ufe0f%00/", R.INVALID_URL),
    # local and internal names
    ("http://localhost/", R.HOST_NOT_ALLOWED),
    ("http://LOCALHOST:8000/", R.HOST_NOT_ALLOWED),
    ("http://localhost./", R.HOST_NOT_ALLOWED),
    ("http://foo.localhost/", R.HOST_NOT_ALLOWED),
    ("http://metadata.google.internal/computeMetadata/v1/", R.HOST_NOT_ALLOWED),
    ("http://instance-data.ec2.internal/", R.HOST_NOT_ALLOWED),
    ("http://metadata/", R.HOST_NOT_ALLOWED),
    ("http://printer.local/", R.HOST_NOT_ALLOWED),
    ("http://router.home.arpa/", R.HOST_NOT_ALLOWED),
    ("http://public.example./", R.HOST_NOT_ALLOWED),
    # DNS answers (fake resolver): private, mixed public+private, failures
    ("http://evil.test/", R.PRIVATE_ADDRESS),
    ("https://loopback.test/", R.PRIVATE_ADDRESS),
    ("http://metadata.test/latest/", R.PRIVATE_ADDRESS),
    ("http://cgnat.test/", R.PRIVATE_ADDRESS),
    ("http://ula.test/", R.PRIVATE_ADDRESS),
    ("http://v6loop.test/", R.PRIVATE_ADDRESS),
    ("http://mapped.test/", R.PRIVATE_ADDRESS),
    ("http://mixed.test/", R.PRIVATE_ADDRESS),
    ("http://mixed6.test/", R.PRIVATE_ADDRESS),
    ("http://zero.test/", R.PRIVATE_ADDRESS),
    ("http://mcp.lan/", R.PRIVATE_ADDRESS),
    ("http://nxdomain.test/", R.DNS_FAILED),
    ("http://garbage.test/", R.DNS_FAILED),
    ("http://empty.test/", R.DNS_FAILED),
    # schemes
    ("file:///etc/passwd", R.SCHEME_NOT_ALLOWED),
    ("ftp://public.example/x", R.SCHEME_NOT_ALLOWED),
    ("gopher://127.0.0.1:6379/_FLUSHALL", R.SCHEME_NOT_ALLOWED),
    ("data:text/plain;base64,SGVsbG8=", R.SCHEME_NOT_ALLOWED),
    ("javascript:alert(1)", R.SCHEME_NOT_ALLOWED),
    ("dict://127.0.0.1:11211/stat", R.SCHEME_NOT_ALLOWED),
    ("//public.example/x", R.SCHEME_NOT_ALLOWED),
    ("public.example/x", R.SCHEME_NOT_ALLOWED),
    # userinfo tricks
    ("http://public.example@127.0.0.1/", R.CREDENTIALS_IN_URL),
    ("http://user:pass@public.example/", R.CREDENTIALS_IN_URL),
    ("http://127.0.0.1:80@public.example/", R.CREDENTIALS_IN_URL),
    ("http://public.example%40127.0.0.1/", R.INVALID_URL),
    # backslashes, whitespace and other odd forms browsers would repair
    ("http://public.example\\@127.0.0.1/", R.INVALID_URL),
    ("http:\\\\127.0.0.1\\", R.INVALID_URL),
    ("http:/127.0.0.1/", R.INVALID_URL),
    ("http:127.0.0.1", R.INVALID_URL),
    ("http://", R.INVALID_URL),
    ("http:///public.example/", R.INVALID_URL),
    (" http://127.0.0.1/", R.INVALID_URL),
    ("http://public.example\t.evil/", R.INVALID_URL),
    ("http://public.example/\r\nHost: 127.0.0.1", R.INVALID_URL),
    ("http://%31%32%37.0.0.1/", R.INVALID_URL),
    ("http://[fe80::1%25eth0]/", R.INVALID_URL),
    ("http://[::1/", R.INVALID_URL),
    ("http://::1/", R.INVALID_URL),
    ("http://public.example:99999/", R.INVALID_URL),
    ("http://public.example:0/", R.INVALID_URL),
    ("http://public.example:80:80/", R.INVALID_URL),
    ("http://a..example/", R.INVALID_URL),
    ("http://" + "a" * 64 + ".example/", R.INVALID_URL),
    # length
    ("https://public.example/?" + "a" * 5000, R.URL_TOO_LONG),
]


@pytest.mark.parametrize(("url", "reason"), HOSTILE, ids=[u[:60] for u, _ in HOSTILE])
def test_hostile_urls_are_refused_with_their_reason(url: str, reason: RefusalReason) -> None:
    with pytest.raises(OutboundRefused) as caught:
        check_url(url, POLICY, resolver=fake_resolver)
    assert caught.value.reason is reason, caught.value.message


def test_the_hostile_table_is_large() -> None:
    assert len(HOSTILE) >= 40


@pytest.mark.parametrize(
    "url",
    [
        "https://public.example/voice.wav",
        "http://public.example:8080/a/b?token=x#frag",
        "https://dual.example/",
        "https://B\u00dcCHER.example/doc.pdf",
        "https://nat64.example/",
        "http://93.184.216.34/",
        "http://0x5db8d822/",
        "https://[2606:4700::6810:84e5]/",
    ],
)
def test_public_urls_pass_the_check(url: str) -> None:
    checked = check_url(url, POLICY, resolver=fake_resolver)
    assert checked.addresses
    assert all(is_public_address(a) for a in checked.addresses)


def test_check_normalises_and_keeps_every_answer_in_order() -> None:
    checked = check_url("HTTPS://Dual.Example:443/a?b=1#c", POLICY, resolver=fake_resolver)
    assert checked.url == "https://dual.example/a?b=1"
    assert checked.host == "dual.example" and checked.netloc == "dual.example"
    assert [str(a) for a in checked.addresses] == ZONE["dual.example"]
    assert check_url("http://0x5db8d822:8080/", POLICY).netloc == "93.184.216.34:8080"


def test_messages_never_echo_credentials_query_or_path() -> None:
    urls = [
        "http://admin:hunter2@evil.test/",
        "http://evil.test/secret-path?token=sk_live_123",
        "ftp://public.example/secret-path?token=sk_live_123",
        "http://nxdomain.test/secret-path?token=sk_live_123",
        "https://public.example/?token=sk_live_123" + "a" * 3000,
    ]
    for url in urls:
        with pytest.raises(OutboundRefused) as caught:
            check_url(url, POLICY, resolver=fake_resolver)
        text = f"{caught.value} {caught.value!r} {caught.value.message}"
        for secret in ("hunter2", "admin", "sk_live_123", "secret-path", "token"):
            assert secret not in text


def test_allow_list_exempts_exact_addresses_cidrs_names_and_ports() -> None:
    policy = OutboundPolicy(allow_hosts=("127.0.0.1", "192.168.1.0/24", "[::1]:9000", "mcp.lan"))
    check_url("http://127.0.0.1:5000/", policy)
    check_url("http://[::ffff:127.0.0.1]/", policy)
    check_url("http://192.168.1.77/", policy)
    check_url("http://[::1]:9000/", policy)
    check_url("http://mcp.lan/", policy, resolver=fake_resolver)
    for url in [
        "http://127.0.0.2/",
        "http://192.168.2.1/",
        "http://[::1]:9001/",
        "http://10.0.0.1/",
    ]:
        with pytest.raises(OutboundRefused) as caught:
            check_url(url, policy)
        assert caught.value.reason is R.PRIVATE_ADDRESS


def test_allow_list_entry_with_port_covers_only_that_port() -> None:
    policy = OutboundPolicy(allow_hosts=("127.0.0.1:8081", "localhost:9000"))
    check_url("http://127.0.0.1:8081/", policy)
    check_url("http://localhost:9000/", policy, resolver=lambda _: ["127.0.0.1"])
    with pytest.raises(OutboundRefused) as caught:
        check_url("http://127.0.0.1:8082/", policy)
    assert caught.value.reason is R.PRIVATE_ADDRESS
    with pytest.raises(OutboundRefused) as caught:
        check_url("http://localhost:9001/", policy, resolver=lambda _: ["127.0.0.1"])
    assert caught.value.reason is R.HOST_NOT_ALLOWED


def test_a_public_name_resolving_into_an_allow_listed_cidr_passes() -> None:
    policy = OutboundPolicy(allow_hosts=("10.0.0.0/8",))
    assert check_url("http://evil.test/", policy, resolver=fake_resolver).addresses


def test_wildcard_name_entries_cover_subdomains_only() -> None:
    entry = AllowEntry.parse("*.corp.example")
    assert entry.allows_host("mcp.corp.example", 443)
    assert not entry.allows_host("corp.example", 443)
    assert not entry.allows_host("evilcorp.example", 443)


@pytest.mark.parametrize("entry", ["", "10.0.0.0/33", "host:0", "host:http", "bad host", "[::1"])
def test_malformed_allow_list_entries_fail_at_start(entry: str) -> None:
    with pytest.raises(ValueError):
        OutboundPolicy(allow_hosts=(entry,))


def test_scheme_and_port_limits() -> None:
    https_only = OutboundPolicy(
        allowed_schemes=frozenset({"https"}), allowed_ports=frozenset({443})
    )
    with pytest.raises(OutboundRefused) as caught:
        check_url("http://public.example/", https_only, resolver=fake_resolver)
    assert caught.value.reason is R.SCHEME_NOT_ALLOWED
    with pytest.raises(OutboundRefused) as caught:
        check_url("https://public.example:8443/", https_only, resolver=fake_resolver)
    assert caught.value.reason is R.PORT_NOT_ALLOWED
    with pytest.raises(ValueError):
        OutboundPolicy(allowed_schemes=frozenset({"ftp"}))


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.216.34", True),
        ("2606:4700::6810:84e5", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("2002:808:808::1", True),
        ("100.127.255.255", False),
        ("172.31.255.255", False),
        ("192.0.0.8", False),
        ("64:ff9b:1::1", False),
        ("100::1", False),
        ("3fff::1", False),
    ],
)
def test_address_classification(address: str, public: bool) -> None:
    assert is_public_address(ip_address(address)) is public
    assert (non_public_category(ip_address(address)) is None) is public


def test_policy_from_settings_reads_comma_separated_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VOCABLE_OUTBOUND_ALLOW_HOSTS", "mcp.lan, 10.1.2.0/24,127.0.0.1:9000")
    monkeypatch.setenv("VOCABLE_OUTBOUND_ALLOWED_PORTS", "443,8443")
    monkeypatch.setenv("VOCABLE_OUTBOUND_MAX_REDIRECTS", "1")
    policy = OutboundPolicy.from_settings(Settings())
    assert policy.allow_hosts == ("mcp.lan", "10.1.2.0/24", "127.0.0.1:9000")
    assert policy.allowed_ports == frozenset({443, 8443})
    assert policy.max_redirects == 1


def test_default_settings_give_an_empty_allow_list_and_any_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ALLOW_HOSTS", "ALLOWED_PORTS", "ALLOWED_SCHEMES"):
        monkeypatch.delenv(f"VOCABLE_OUTBOUND_{name}", raising=False)
    policy = OutboundPolicy.from_settings(Settings())
    assert policy.allow_hosts == () and policy.allowed_ports is None
    assert policy.allowed_schemes == frozenset({"http", "https"})


def test_refusals_say_whether_a_retry_may_help() -> None:
    assert OutboundRefused(R.DNS_FAILED, "x").retryable
    assert OutboundRefused(R.HTTP_STATUS, "x", status=503).retryable
    assert not OutboundRefused(R.HTTP_STATUS, "x", status=404).retryable
    assert not OutboundRefused(R.PRIVATE_ADDRESS, "x").retryable


async def test_async_check_uses_the_same_rules() -> None:
    with pytest.raises(OutboundRefused) as caught:
        await acheck_url("http://mixed.test/", POLICY, resolver=fake_resolver)
    assert caught.value.reason is R.PRIVATE_ADDRESS
    checked = await acheck_url("https://public.example/", POLICY, resolver=fake_resolver)
    assert [str(a) for a in checked.addresses] == ["93.184.216.34"]
