"""The database goes away for a while: the API answers 503 + Retry-After, then recovers.

PostgreSQL: the API reaches its database through a TCP proxy this test controls. Cutting
it drops every open connection and refuses new ones, as a database restart or a network
partition does; restoring it must be enough (no API restart). SQLite: another process
holds the write lock past the busy timeout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import func, select
from tests.conftest import Tenant, make_tenant
from tests.support.postgres import create_database
from tests.support.servers import ApiServer, make_platform, make_settings, running_api

from vocable.db.engine import make_engine, make_session_factory
from vocable.db.models import VoiceSession

SESSION = "/api/agents/agent-session/"
LEAKS = ("traceback", "psycopg", "sqlalchemy", "postgresql", "sqlite", "operationalerror")


class TcpProxy:
    """Forwards a loopback port to ``target``; :meth:`cut` drops and refuses connections."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = self._listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._serve()

    @staticmethod
    def _listen(port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        return listener

    def _serve(self) -> None:
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut: the listener was closed
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                self._close(s)

    def _close(self, s: socket.socket) -> None:
        with self._lock:
            self._open.discard(s)
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()

    def cut(self) -> None:
        """Close the listening socket (new connections are refused) and every connection."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._listener.close()
        with self._lock:
            sockets = list(self._open)
        for s in sockets:
            self._close(s)

    def restore(self) -> None:
        self._listener = self._listen(self.port)
        self._serve()


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit(":", 1)[0] + f":{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture(scope="module")
def proxied_api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ApiServer, TcpProxy]]:
    admin_url: str = request.getfixturevalue("postgres_server")
    direct = create_database(admin_url, "o_" + secrets.token_hex(6))
    parts = urlsplit(direct)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        _via(direct, proxy.port),
        max_concurrent_sessions_per_org=100_000,
        key_rate_limit_per_minute=100_000,
    )
    platform = make_platform(settings)
    try:
        with running_api(platform) as api:
            yield api, proxy
    finally:
        proxy.cut()
        platform.engine.dispose()


def _assert_unavailable(resp: httpx.Response) -> None:
    assert resp.status_code == 503, resp.text
    assert int(resp.headers["retry-after"]) > 0
    body = resp.json()
    assert body["success"] is False and body["code"] == "unavailable"
    text = resp.text.lower()
    assert not [leak for leak in LEAKS if leak in text], resp.text


def _calls(tenant: Tenant) -> list[tuple[str, str, dict[str, object] | None]]:
    """A session request and management routes: reads, writes, dashboard sign-in."""
    return [
        ("POST", SESSION, {"agent": tenant.agent_id}),
        ("GET", "/api/agents", None),
        ("GET", f"/api/agents/{tenant.agent_id}", None),
        ("POST", "/api/agents", {"name": "Outage"}),
        ("GET", "/api/sessions", None),
        ("POST", "/api/auth/login", {"email": tenant.email, "password": tenant.password}),
    ]


def _send(
    http: httpx.Client, tenant: Tenant, method: str, path: str, body: object
) -> httpx.Response:
    return http.request(method, path, json=body, headers={"x-api-key": tenant.api_key})


def _session_rows(api: ApiServer, org_id: str) -> int:
    with api.platform.sessions() as db:
        return int(db.scalar(select(func.count()).where(VoiceSession.org_id == org_id)) or 0)


def test_postgres_outage_answers_503_then_recovers_by_itself(
    proxied_api: tuple[ApiServer, TcpProxy],
) -> None:
    api, proxy = proxied_api
    tenant = make_tenant(api.platform)
    created = 0
    with httpx.Client(base_url=api.url, timeout=30) as http:
        for method, path, body in _calls(tenant):
            assert _send(http, tenant, method, path, body).status_code in (200, 201)
        created += 1
        proxy.cut()
        try:
            for _ in range(3):  # pooled connections are dead, new ones are refused
                for method, path, body in _calls(tenant):
                    _assert_unavailable(_send(http, tenant, method, path, body))
        finally:
            proxy.restore()
        # no API restart: the pool checks connections before use and reconnects
        deadline = time.monotonic() + 10
        while True:
            resp = _send(http, tenant, "POST", SESSION, {"agent": tenant.agent_id})
            if resp.status_code == 200 or time.monotonic() > deadline:
                break
            _assert_unavailable(resp)
            time.sleep(0.2)
        assert resp.status_code == 200, resp.text
        created += 1
        for method, path, body in _calls(tenant):
            assert _send(http, tenant, method, path, body).status_code in (200, 201)
        created += 1
    assert _session_rows(api, tenant.org_id) == created  # nothing half-written, nothing lost


def test_postgres_cut_during_load_gives_only_200_or_503(
    proxied_api: tuple[ApiServer, TcpProxy],
) -> None:
    api, proxy = proxied_api
    tenant = make_tenant(api.platform)
    statuses: list[int] = []
    per_thread: list[list[tuple[float, int]]] = [[] for _ in range(4)]  # (sent at, status)
    refusals: list[httpx.Response] = []
    stop = threading.Event()

    def load(mine: list[tuple[float, int]]) -> None:
        with httpx.Client(base_url=api.url, timeout=30) as http:
            while not stop.is_set():
                sent = time.monotonic()
                resp = _send(http, tenant, "POST", SESSION, {"agent": tenant.agent_id})
                statuses.append(resp.status_code)
                mine.append((sent, resp.status_code))
                if resp.status_code != 200:
                    refusals.append(resp)

    threads = [threading.Thread(target=load, args=(mine,)) for mine in per_thread]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        proxy.cut()  # connections die in the middle of requests and transactions
        time.sleep(1.0)
        proxy.restore()
        restored = time.monotonic()
        # 2-core CI: recovery can take seconds; wait (up to 10 s) for a 200 sent after restore
        deadline = restored + 10
        while time.monotonic() < deadline and not all(
            any(at >= restored and code == 200 for at, code in list(mine)) for mine in per_thread
        ):
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert 503 in statuses
    last = [mine[-1][1] if mine else None for mine in per_thread]
    assert last == [200] * len(per_thread), last
    for resp in refusals:
        _assert_unavailable(resp)
    # every 200 has its row; a 503 may still have committed (the cut can fall between
    # COMMIT and its reply), so rows are at least the successes, never fewer
    ok = statuses.count(200)
    assert ok <= _session_rows(api, tenant.org_id) <= ok + statuses.count(503)


@pytest.fixture
def sqlite_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    settings = make_settings(tmp_path_factory.mktemp("data"))
    platform = make_platform(settings)
    # the production busy timeout is 30 s; a short one keeps the test short
    engine = make_engine(settings.resolved_database_url, sqlite_busy_timeout=0.5)
    platform.engine.dispose()
    platform = dataclasses.replace(platform, engine=engine, sessions=make_session_factory(engine))
    with running_api(platform) as api:
        yield api
    engine.dispose()


def test_sqlite_locked_by_another_process_answers_503_then_recovers(
    sqlite_api: ApiServer,
) -> None:
    tenant = make_tenant(sqlite_api.platform)
    path = sqlite_api.platform.settings.resolved_database_url.removeprefix("sqlite:///")
    with httpx.Client(base_url=sqlite_api.url, timeout=30) as http:
        assert _send(http, tenant, "POST", SESSION, {"agent": tenant.agent_id}).status_code == 200
        holder = sqlite3.connect(path, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            _assert_unavailable(_send(http, tenant, "POST", SESSION, {"agent": tenant.agent_id}))
            _assert_unavailable(_send(http, tenant, "POST", "/api/agents", {"name": "Locked"}))
            # WAL: reading goes on while another process writes
            assert _send(http, tenant, "GET", "/api/agents", None).status_code == 200
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert _send(http, tenant, "POST", SESSION, {"agent": tenant.agent_id}).status_code == 200
    assert _session_rows(sqlite_api, tenant.org_id) == 2
