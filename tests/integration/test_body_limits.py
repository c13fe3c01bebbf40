"""Request bodies have a size limit that holds while they arrive: declared or chunked,
signed in or not, on every route that takes a body; the API's memory stays flat."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.routing import APIRoute
from tests.conftest import make_tenant
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

JSON_LIMIT = 64 * 1024
VOICE_LIMIT = 512 * 1024
DOCUMENT_LIMIT = 1024 * 1024
FRAMING = 128 * 1024
OVERSHOOT = 48 * 1024 * 1024
"""How far past its limit each streamed body tries to go: far more than the sockets'
buffers hold, so a server that kept reading would be caught."""


@pytest.fixture(scope="module")
def small_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        max_json_body_bytes=JSON_LIMIT,
        voice_max_bytes=VOICE_LIMIT,
        knowledge_max_file_bytes=DOCUMENT_LIMIT,
    )
    with running_api(make_platform(settings)) as server:
        yield server


def write_routes(api: ApiServer, agent_id: str) -> list[tuple[str, str, bool]]:
    """(method, path with its parameters filled, whether the route takes a JSON body)."""
    found = []
    for route in api_routes(api.app.routes):
        path = route.path.replace("{agent_id}", agent_id)
        path = re.sub(r"\{[^}]+\}", "x1", path)
        for method in sorted(route.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            found.append((method, path, route.body_field is not None))
    return found


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.128)
            yield from api_routes(route.original_router.routes)


def limit_of(method: str, path: str) -> int:
    """The body limit: the uploads' file limit allows room for the multipart framing."""
    if method == "PUT" and path.endswith("/voice"):
        return VOICE_LIMIT + FRAMING
    if method == "POST" and path.endswith("/knowledge"):
        return DOCUMENT_LIMIT + FRAMING
    return JSON_LIMIT


def peak_rss_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def stream(url: str, method: str, path: str, total: int, key: str) -> tuple[int, bytes, int]:
    """Send a chunked body of ``total`` bytes, reading the answer while sending; returns
    (status, body, bytes the server let through before it answered and closed)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=15)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        f"x-api-key: {key}\r\n\r\n"
    )
    received = bytearray()

    def read() -> None:  # one whole response, however the connection ends
        with contextlib.suppress(OSError):
            while not complete(received) and (chunk := sock.recv(65536)):
                received.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    sock.sendall(head.encode())
    reader.start()
    piece = b" " * 65536
    sent = 0
    try:
        while sent < total and not received:
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece))
            sent += len(piece)
        sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed: what it took is what counts
    reader.join(timeout=15)
    sock.close()
    head_end = received.index(b"\r\n\r\n")
    status = int(received.split(b" ", 2)[1])
    return status, bytes(received[head_end + 4 :]), sent


def complete(response: bytearray) -> bool:
    head, found, body = bytes(response).partition(b"\r\n\r\n")
    length = re.search(rb"(?i)content-length: (\d+)", head)
    return bool(found and length and len(body) >= int(length.group(1)))


def test_every_route_refuses_a_chunked_body_past_its_limit_and_memory_stays_flat(
    small_api: ApiServer,
) -> None:
    tenant = make_tenant(small_api.platform)
    routes = write_routes(small_api, tenant.agent_id)
    assert len(routes) > 25  # every family: auth, sessions, agents, knowledge, keys, ...
    reset_peak_rss()
    before = peak_rss_kib()
    for method, path, takes_json in routes:
        limit = limit_of(method, path)
        status, body, sent = stream(small_api.url, method, path, limit + OVERSHOOT, tenant.api_key)
        assert sent < limit + OVERSHOOT, f"{method} {path} took the whole oversized body"
        if takes_json:  # read before anything else, the caller's credentials included
            assert status == 413, f"{method} {path}: {status} {body[:200]!r}"
            assert json.loads(body)["code"] == "too_large"
            assert json.loads(body)["errors"][0]["field"] == "body"
        elif limit != JSON_LIMIT:  # the uploads want a declared length before reading
            assert status == 411, f"{method} {path}: {status} {body[:200]!r}"
    grown_mib = (peak_rss_kib() - before) / 1024
    # every body above was refused within its limit: nothing near the 48 MiB overshoots
    assert grown_mib < 24, f"the API's memory grew by {grown_mib:.0f} MiB"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/auth/login"),
        ("POST", "/api/agents/agent-session/"),
        ("PATCH", "/api/agents/x1"),
        ("PUT", "/api/agents/x1/voice"),
        ("POST", "/api/agents/x1/knowledge"),
        ("POST", "/internal/sessions/x1/turns"),
    ],
)
def test_a_declared_length_past_the_limit_is_refused_before_the_body_or_the_caller(
    small_api: ApiServer, method: str, path: str
) -> None:
    """No credentials, a 1 GB Content-Length and no body at all: the answer comes at once."""
    parts = urlsplit(small_api.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {1 << 30}\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):  # the server closes after its answer
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    refusal = json.loads(body)
    assert refusal["code"] == "too_large"
    message = f"Request body exceeds the {limit_of(method, path)}-byte limit"
    assert refusal["errors"] == [{"field": "body", "message": message}]


def test_bodies_within_the_limit_still_work(small_api: ApiServer) -> None:
    """A JSON body just under the limit reaches the route (which answers for itself)."""
    body = b'{"email": "nobody@example.com", "password": "' + b"x" * (JSON_LIMIT - 100) + b'"}'
    response = httpx.post(small_api.url + "/api/auth/login", content=body, timeout=10)
    assert response.status_code in (401, 422)
    assert response.json()["code"] != "too_large"
