"""Outbound fetches against real local servers, reached only where a test allow-lists them."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.support.net import free_port

from vocable.outbound import (
    FetchResult,
    OutboundPolicy,
    OutboundRefused,
    RefusalReason,
    Resolver,
    afetch,
    async_outbound_client,
    fetch,
    outbound_client,
)

R = RefusalReason
Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class LocalServer:
    """A threaded stdlib HTTP server on one loopback address, recording what it was asked."""

    host: str
    routes: dict[str, Handler]
    port: int = 0
    tls: ssl.SSLContext | None = None
    hits: list[tuple[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> LocalServer:
        recorded, routes = self.hits, self.routes

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorded.append((self.path, self.headers.get("Host", "")))
                route = routes.get(self.path.split("?", 1)[0], _not_found)
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass  # the client hung up, which is what several tests want

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((self.host, self.port), _Handler)
        server.daemon_threads = True
        if self.tls is not None:
            server.socket = self.tls.wrap_socket(server.socket, server_side=True)
        self._server, self.port = server, server.server_address[1]
        serve = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        serve.start()
        return self

    def stop(self) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str, *, host: str | None = None) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"


def _not_found(h: BaseHTTPRequestHandler) -> None:
    h.send_error(404)


def _text(body: bytes, content_type: str = "text/plain") -> Handler:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handle


def _redirect(location: Callable[[], str], status: int = 302) -> Handler:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Location", location())
        h.send_header("Content-Length", "0")
        h.end_headers()

    return handle


def _stream(chunks: Iterable[bytes], *, delay: float = 0.0, length: int | None = None) -> Handler:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream")
        if length is not None:
            h.send_header("Content-Length", str(length))
        h.end_headers()  # HTTP/1.0 without a length: the body ends when the server closes
        for chunk in chunks:
            h.wfile.write(chunk)
            h.wfile.flush()
            time.sleep(delay)

    return handle


def _loop(h: BaseHTTPRequestHandler) -> None:
    hop = int(h.path.rsplit("/", 1)[1])
    _redirect(lambda: f"/loop/{hop + 1}")(h)


@pytest.fixture
def serve() -> Iterator[Callable[..., LocalServer]]:
    started: list[LocalServer] = []

    def start(routes: dict[str, Handler], **options: Any) -> LocalServer:
        server = LocalServer(host=options.pop("host", "127.0.0.1"), routes=routes, **options)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


def run(mode: str, url: str, policy: OutboundPolicy, **options: Any) -> FetchResult:
    """The sync or the async entry point, so each behaviour is proved for both."""
    if mode == "sync":
        return fetch(url, policy, **options)
    return asyncio.run(afetch(url, policy, **options))


def refusal(mode: str, url: str, policy: OutboundPolicy, **options: Any) -> OutboundRefused:
    with pytest.raises(OutboundRefused) as caught:
        run(mode, url, policy, **options)
    return caught.value


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


@MODES
def test_successful_fetch_from_an_allow_listed_server(
    mode: str, serve: Callable[..., LocalServer]
) -> None:
    server = serve({"/voice.wav": _text(b"RIFF-audio", "audio/wav")})
    policy = OutboundPolicy(allow_hosts=(f"127.0.0.1:{server.port}",))
    result = run(mode, server.url("/voice.wav?sig=abc"), policy, accept=["audio/*"])
    assert (result.status, result.body, result.media_type) == (200, b"RIFF-audio", "audio/wav")
    assert result.final_url == server.url("/voice.wav?sig=abc")
    assert "sig=abc" not in repr(result)
    assert server.hits == [("/voice.wav?sig=abc", f"127.0.0.1:{server.port}")]


@MODES
def test_loopback_server_is_refused_without_an_allow_list_entry(
    mode: str, serve: Callable[..., LocalServer]
) -> None:
    server = serve({"/ok": _text(b"ok")})
    assert refusal(mode, server.url("/ok"), OutboundPolicy()).reason is R.PRIVATE_ADDRESS
    assert server.hits == []


@MODES
def test_redirect_to_a_server_not_allow_listed_is_refused_before_connecting(
    mode: str, serve: Callable[..., LocalServer]
) -> None:
    inner = serve({"/secret": _text(b"internal")})
    outer = serve({"/go": _redirect(lambda: inner.url("/secret"))})
    policy = OutboundPolicy(allow_hosts=(f"127.0.0.1:{outer.port}",))
    assert refusal(mode, outer.url("/go"), policy).reason is R.PRIVATE_ADDRESS
    assert [p for p, _ in outer.hits] == ["/go"]
    assert inner.hits == []


@MODES
def test_redirect_to_cloud_metadata_is_refused(
    mode: str, serve: Callable[..., LocalServer]
) -> None:
    server = serve({"/go": _redirect(lambda: "http://169.254.169.254/latest/meta-data/")})
    policy = OutboundPolicy(allow_hosts=(f"127.0.0.1:{server.port}",))
    assert refusal(mode, server.url("/go"), policy).reason is R.PRIVATE_ADDRESS


@MODES
def test_redirect_to_another_scheme_is_refused(
    mode: str, serve: Callable[..., LocalServer]
) -> None:
    server = serve({"/go": _redirect(lambda: "file:///etc/passwd")})
    policy = OutboundPolicy(allow_hosts=(f"127.0.0.1:{server.port}",))
    assert refusal(mode, server.url("/go"), policy).reason is R.SCHEME_NOT_ALLOWED


@MODES
def test_redirects_within_the_limit_are_followed_and_longer_chains_refused(
    mode: str, serve: Callable[..., LocalServer]
) -> None:
    server = serve({**{f"/loop/{i}": _loop for i in range(3)}, "/loop/3": _text(b"end")})
    policy = OutboundPolicy(allow_hosts=(f"127.0.0.1:{server.port}",), max_redirects=3)
    result = run(mode, server.url("/loop/0"), policy)
    assert result.body == b"end" and result.final_url == server.url("/loop/3")

    tight = OutboundPolicy(allow_hosts=(f"127.0.0.1:{server.port}",), max_redirects=2)
    server.hits.clear()
    assert refusal(mode, server.url("/loop/0"), tight).reason is R.TOO_MANY_REDIRECTS
    assert [p for p, _ in server.hits] == ["/loop/0", "/loop/1", "/loop/2"]


@MODES
def test_oversized_bodies_are_refused_with_and_without_content_length(
    mode: str, serve: Callable[..., LocalServer]
) -> None:
    big = [b"x" * 1000] * 50
    server = serve(
        {"/declared": _stream(big, length=50_000), "/undeclared": _stream(big, delay=0.001)}
    )
    policy = OutboundPolicy(allow_hosts=(f"127.0.0.1:{server.port}",), max_bytes=4096)
    assert refusal(mode, server.url("/declared"), policy).reason is R.TOO_LARGE
    assert refusal(mode, server.url("/undeclared"), policy).reason is R.TOO_LARGE
    assert (
        run(
            mode,
            server.url("/undeclared"),
            OutboundPolicy(allow_hosts=(f"127.0.0.1:{server.port}",), max_bytes=50_000),
        ).body
        == b"x" * 50_000
    )


@MODES
def test_slow_drip_body_hits_the_total_deadline(
    mode: str, serve: Callable[..., LocalServer]
) -> None:
    server = serve({"/drip": _stream((b"." for _ in range(200)), delay=0.05)})
    policy = OutboundPolicy(
        allow_hosts=(f"127.0.0.1:{server.port}",), total_timeout=0.8, read_timeout=0.3
    )
    started = time.monotonic()
    assert refusal(mode, server.url("/drip"), policy).reason is R.TIMEOUT
    # 2-core CI: loose bound, still far below the 10 s (200 x 0.05 s) a full drip takes
    assert time.monotonic() - started < 4.0


@MODES
def test_error_statuses_and_unexpected_types_are_refused(
    mode: str, serve: Callable[..., LocalServer]
) -> None:
    server = serve({"/page": _text(b"<html>", "text/html")})
    policy = OutboundPolicy(allow_hosts=(f"127.0.0.1:{server.port}",))
    missing = refusal(mode, server.url("/nothing?token=sk_123"), policy)
    assert (missing.reason, missing.status) == (R.HTTP_STATUS, 404)
    assert "sk_123" not in missing.message
    wrong = refusal(mode, server.url("/page"), policy, accept=["audio/*"])
    assert wrong.reason is R.UNEXPECTED_CONTENT_TYPE


@MODES
def test_nothing_listening_is_a_connection_failure(mode: str) -> None:
    port = free_port()
    policy = OutboundPolicy(allow_hosts=(f"127.0.0.1:{port}",))
    assert refusal(mode, f"http://127.0.0.1:{port}/", policy).reason is R.CONNECTION_FAILED


class RebindingResolver:
    """Answers the first lookup with ``first`` and every later one with ``then``."""

    def __init__(self, first: str, then: str) -> None:
        self.answers = [first, then]
        self.lookups: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.lookups.append(host)
        return [self.answers[min(len(self.lookups) - 1, 1)]]


@pytest.fixture
def rebinding_pair(serve: Callable[..., LocalServer]) -> tuple[LocalServer, LocalServer]:
    """A checked server on 127.0.0.1 and an "internal" one on 127.0.0.2, same port."""
    public = serve({"/ok": _text(b"validated"), "/again": _redirect(lambda: "/ok")})
    try:
        internal = serve(
            {"/ok": _text(b"internal"), "/again": _text(b"internal")},
            host="127.0.0.2",
            port=public.port,
        )
    except OSError:
        pytest.skip("this system cannot bind 127.0.0.2")
    return public, internal


@MODES
def test_connection_goes_to_the_address_that_was_checked(
    mode: str, rebinding_pair: tuple[LocalServer, LocalServer]
) -> None:
    public, internal = rebinding_pair
    resolver = RebindingResolver("127.0.0.1", "127.0.0.2")
    policy = OutboundPolicy(allow_hosts=("127.0.0.1",))  # the exact address, not 127.0.0.2
    url = f"http://rebind.test:{public.port}/ok"
    result = run(mode, url, policy, resolver=resolver)
    assert result.body == b"validated"
    assert resolver.lookups == ["rebind.test"]  # one lookup: nothing left to rebind
    assert public.hits == [("/ok", f"rebind.test:{public.port}")]
    assert internal.hits == []


@MODES
def test_a_redirect_hop_that_rebinds_to_a_private_address_is_refused(
    mode: str, rebinding_pair: tuple[LocalServer, LocalServer]
) -> None:
    public, internal = rebinding_pair
    resolver = RebindingResolver("127.0.0.1", "127.0.0.2")
    policy = OutboundPolicy(allow_hosts=("127.0.0.1",))
    url = f"http://rebind.test:{public.port}/again"
    assert refusal(mode, url, policy, resolver=resolver).reason is R.PRIVATE_ADDRESS
    assert resolver.lookups == ["rebind.test", "rebind.test"]
    assert internal.hits == []


def _tls_pair(tmp_path: Path, name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for ``name`` and a client context trusting it."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "outbound test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    return server, client


@MODES
def test_tls_uses_the_original_name_for_sni_and_certificate_while_pinned(
    mode: str, serve: Callable[..., LocalServer], tmp_path: Path
) -> None:
    server_tls, client_tls = _tls_pair(tmp_path, "pinned.test")
    server = serve({"/doc": _text(b"secure", "application/pdf")}, tls=server_tls)
    resolver: Resolver = lambda _host: ["127.0.0.1"]  # noqa: E731 - a one-line fake resolver
    policy = OutboundPolicy(allow_hosts=(f"127.0.0.1:{server.port}",), tls_context=client_tls)
    result = run(mode, server.url("/doc", host="pinned.test"), policy, resolver=resolver)
    assert result.body == b"secure"
    assert server.hits == [("/doc", f"pinned.test:{server.port}")]
    wrong_name = refusal(mode, server.url("/doc", host="other.test"), policy, resolver=resolver)
    assert wrong_name.reason is R.TLS_FAILED


@MODES
def test_proxy_environment_variables_are_ignored(
    mode: str, serve: Callable[..., LocalServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve({"/ok": _text(b"direct")})
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    policy = OutboundPolicy(allow_hosts=(f"127.0.0.1:{server.port}",))
    assert run(mode, server.url("/ok"), policy).body == b"direct"


def test_client_for_other_libraries_checks_every_hop(serve: Callable[..., LocalServer]) -> None:
    inner = serve({"/secret": _text(b"internal")})
    outer = serve({"/go": _redirect(lambda: inner.url("/secret")), "/ok": _text(b"ok")})
    policy = OutboundPolicy(allow_hosts=(f"127.0.0.1:{outer.port}",))
    with outbound_client(policy, follow_redirects=True) as client:
        assert client.get(outer.url("/ok")).text == "ok"
        with pytest.raises(OutboundRefused) as caught:
            client.get(outer.url("/go"))
    assert caught.value.reason is R.PRIVATE_ADDRESS
    assert inner.hits == []


async def test_async_client_for_mcp_and_webhooks_checks_each_request(
    serve: Callable[..., LocalServer],
) -> None:
    server = serve({"/ok": _text(b"ok")})
    policy = OutboundPolicy(allow_hosts=(f"127.0.0.1:{server.port}",))
    async with async_outbound_client(policy, headers={"X-Api-Key": "k"}) as client:
        response = await client.get(server.url("/ok"))
        assert response.text == "ok"
        with pytest.raises(OutboundRefused) as caught:
            await client.get("http://169.254.169.254/latest/meta-data/")
        assert caught.value.reason is R.PRIVATE_ADDRESS
        assert (await client.get(server.url("/missing"))).status_code == 404
    assert [host for _, host in server.hits] == [f"127.0.0.1:{server.port}"] * 2
