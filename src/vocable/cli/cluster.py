"""``vocable up --cluster``: a whole cluster on one machine, every process on its own ports.

Redis; two LiveKit nodes in one cluster (LiveKit's own multi-node mode, on that Redis);
two API processes on one PostgreSQL database; two voice workers; and HAProxy in front,
giving one address to the APIs (dashboard, customer backends, the workers' reports,
LiveKit's webhooks) and one to LiveKit's signalling (browsers, the APIs' room service,
the workers' registrations). HAProxy health-checks every process behind it, so a stopped
API or LiveKit node is routed around within about two seconds.

No process holds state another needs: sessions, rate and concurrency counts, the webhook
outbox and the knowledge index live in PostgreSQL; which LiveKit node hosts a room, and
which worker takes a call, LiveKit decides (in Redis) by its own node selection and by the
load each worker reports. Every process reads the same settings (passed to each child as
``VOCABLE_*`` variables) and the same secrets (the shared data directory).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

import typer
from pydantic import SecretStr

from vocable.cli.run import Backoff, Process, Supervised, _ensure_first_admin
from vocable.db.migrate import upgrade_to_head
from vocable.livekit.server import (
    LiveKitServer,
    LiveKitUnavailable,
    install_binary,
    start_server,
)
from vocable.platform import build_platform
from vocable.platform_secrets import load_or_create_secrets
from vocable.processes import (
    ProcessNotReadyError,
    stop_process,
    stop_processes,
    wait_until_answering,
)
from vocable.settings import Settings

DEFAULT_REDIS_PORT = 6380
"""Next to Redis's usual 6379, which a system Redis may hold."""


class ClusterError(RuntimeError):
    """The cluster cannot start here; the message says what to do."""


@dataclass(frozen=True)
class ClusterPorts:
    """Every port of the cluster; all on loopback."""

    api: int
    """HAProxy: the one address of the API processes."""
    livekit: int
    """HAProxy: the one signalling address of the LiveKit nodes."""
    redis: int
    api_nodes: tuple[int, ...]
    livekit_nodes: tuple[int, ...]
    udp_ranges: tuple[tuple[int, int], ...]
    """Each LiveKit node's WebRTC UDP range (media goes to the node that hosts the room)."""

    @classmethod
    def from_settings(cls, settings: Settings, *, nodes: int = 2) -> ClusterPorts:
        """The front on ``VOCABLE_API_PORT`` and ``VOCABLE_LIVEKIT_PORT``; API ``i`` on
        the API port + i, LiveKit node ``i`` on the LiveKit port + 10 i, the UDP range
        split between the nodes, Redis on ``VOCABLE_REDIS_URL``'s port or 6380."""
        start, end = settings.livekit_udp_port_start, settings.livekit_udp_port_end
        share = (end - start + 1) // nodes
        if share < 10:
            raise ClusterError("VOCABLE_LIVEKIT_UDP_PORT_START/_END: too few ports for the nodes")
        redis = urlsplit(settings.redis_url).port if settings.redis_url else None
        return cls(
            api=settings.api_port,
            livekit=settings.livekit_port,
            redis=redis or DEFAULT_REDIS_PORT,
            api_nodes=tuple(settings.api_port + i for i in range(1, nodes + 1)),
            livekit_nodes=tuple(settings.livekit_port + 10 * i for i in range(1, nodes + 1)),
            udp_ranges=tuple(
                (start + i * share, start + (i + 1) * share - 1) for i in range(nodes)
            ),
        )


def settings_env(settings: Settings) -> dict[str, str]:
    """Every setting that was given (by the environment or in code) as ``VOCABLE_*``
    variables, so that a child process reads exactly the same configuration."""
    env: dict[str, str] = {}
    for name in sorted(settings.model_fields_set):
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[f"VOCABLE_{name.upper()}"] = str(value)
    return env


def proxy_config(ports: ClusterPorts) -> str:
    """HAProxy in front of the APIs and the LiveKit nodes' signalling ports."""
    apis = "\n".join(
        f"  server api-{i} 127.0.0.1:{p} check" for i, p in enumerate(ports.api_nodes, 1)
    )
    nodes = "\n".join(
        f"  server livekit-{i} 127.0.0.1:{p} check" for i, p in enumerate(ports.livekit_nodes, 1)
    )
    return f"""global
  maxconn 4096

defaults
  mode http
  timeout connect 2s
  timeout client 1h
  timeout server 1h
  # signalling WebSockets stay open for the whole call
  timeout tunnel 1h
  # a refused connection is tried again on another process at once
  option redispatch
  retries 3
  # a stopped process is out after two failed checks, 0.5 s apart
  default-server inter 500ms fall 2 rise 2

frontend api
  bind 127.0.0.1:{ports.api}
  default_backend apis

backend apis
  balance roundrobin
  option httpchk GET /healthz
{apis}

frontend livekit
  bind 127.0.0.1:{ports.livekit}
  default_backend livekit_nodes

backend livekit_nodes
  balance roundrobin
  option httpchk GET /
{nodes}
"""


def _program(name: str, package: str) -> str:
    path = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
    )
    if path is None:
        raise ClusterError(f"{name} not found: install it (Debian: apt-get install {package})")
    return path


def wait_for_redis(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Until Redis answers PING on ``port``; fail early if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ProcessNotReadyError(f"redis-server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise ProcessNotReadyError(f"Redis on port {port} did not answer within {timeout:.0f}s")


def worker_registrations(logs: Path) -> int:
    """How often the LiveKit nodes logged a worker registering (logs are appended to)."""
    return sum(
        path.read_text(errors="replace").count("worker registered")
        for path in logs.glob("livekit-*.log")
    )


class Cluster:
    """The cluster's processes: started in order, each by name, restartable.

    :meth:`start` waits until every worker registered with LiveKit; :meth:`supervise`
    starts any process that exits again (``vocable up --cluster``); tests stop, kill and
    restart single processes by name (``redis``, ``livekit-1``, ``api-2``, ``worker-1``,
    ``proxy``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        ports: ClusterPorts | None = None,
        workers: int = 2,
        notify: Callable[[str], None] = lambda message: typer.echo(message, err=True),
    ) -> None:
        if not (settings.database_url or "").startswith("postgresql"):
            raise ClusterError(
                "a cluster needs one PostgreSQL database for its API processes: set "
                "VOCABLE_DATABASE_URL=postgresql+psycopg://USER:PASSWORD@HOST/DB"
            )
        self.ports = ports or ClusterPorts.from_settings(settings)
        self.api_url = f"http://127.0.0.1:{self.ports.api}"
        self.livekit_url = f"ws://127.0.0.1:{self.ports.livekit}"
        self.own_redis = settings.redis_url is None
        """Whether the cluster starts its own Redis (no ``VOCABLE_REDIS_URL`` given)."""
        self.redis_url = settings.redis_url or f"redis://127.0.0.1:{self.ports.redis}"
        self.settings = settings.model_copy(
            update={
                "redis_url": self.redis_url,
                "public_api_url": settings.public_api_url or self.api_url,
                "livekit_url": self.livekit_url,
                "livekit_public_url": settings.livekit_public_url or self.livekit_url,
            }
        )
        # model_copy leaves the fields set by the update out of model_fields_set
        self.settings.model_fields_set.update(
            {"redis_url", "public_api_url", "livekit_url", "livekit_public_url"}
        )
        self.logs = settings.data_dir / "logs"
        self.workers = workers
        self.children: dict[str, Supervised] = {}
        self.livekit: dict[str, LiveKitServer] = {}
        self._notify = notify
        self._starts: dict[str, Callable[[], Process]] = {}

    # --- the processes ----------------------------------------------------------------

    def _env(self, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VOCABLE_")}
        env.update(settings_env(self.settings))
        env.update(overrides)
        return env

    def _spawn(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> Process:
        with open(self.logs / f"{name}.log", "ab") as log:
            return subprocess.Popen(  # noqa: S603 - our own programs, no shell
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )

    def _start_redis(self) -> Process:
        redis_dir = self.settings.data_dir / "redis"
        redis_dir.mkdir(exist_ok=True)
        argv = [_program("redis-server", "redis-server"), "--bind", "127.0.0.1"]
        argv += ["--port", str(self.ports.redis), "--dir", str(redis_dir)]
        # LiveKit keeps only live state there (nodes, rooms, dispatch): nothing to save
        argv += ["--save", "", "--appendonly", "no"]
        return self._spawn("redis", argv)

    def _livekit_starter(self, index: int, binary: Path) -> Callable[[], Process]:
        name = f"livekit-{index + 1}"
        first, last = self.ports.udp_ranges[index]
        node = self.settings.model_copy(
            update={
                "livekit_port": self.ports.livekit_nodes[index],
                "livekit_udp_port_start": first,
                "livekit_udp_port_end": last,
            }
        )
        secrets = load_or_create_secrets(self.settings)

        def start() -> Process:
            server = start_server(
                node,
                secrets,
                binary=binary,
                log_path=self.logs / f"{name}.log",
                config_path=self.settings.data_dir / f"{name}.yaml",
            )
            self.livekit[name] = server
            return server.process

        return start

    def _vocable(self, name: str, command: str, **overrides: str) -> Callable[[], Process]:
        argv = [sys.executable, "-m", "vocable.cli.main", command]
        return lambda: self._spawn(name, argv, self._env(**overrides))

    def _add(self, name: str, start: Callable[[], Process]) -> subprocess.Popen[bytes]:
        self._starts[name] = start
        self.children[name] = Supervised(
            name=name, start=start, backoff=Backoff(), notify=self._notify
        )
        return self.process(name)

    def process(self, name: str) -> subprocess.Popen[bytes]:
        proc = self.children[name].process
        assert isinstance(proc, subprocess.Popen)
        return proc

    def api_node_url(self, index: int) -> str:
        """The URL of API process ``index`` (0-based), without the proxy."""
        return f"http://127.0.0.1:{self.ports.api_nodes[index]}"

    def start(self, *, registration_timeout: float = 600) -> None:
        """Start every process, in order, each once the ones it needs answer."""
        self.logs.mkdir(parents=True, exist_ok=True)
        binary = install_binary(self.settings)
        upgrade_to_head(build_platform(self.settings).engine)  # once, before the APIs
        if self.own_redis:
            wait_for_redis(self.ports.redis, self._add("redis", self._start_redis))
        for i in range(len(self.ports.livekit_nodes)):
            self._add(f"livekit-{i + 1}", self._livekit_starter(i, binary))
        for server in list(self.livekit.values()):
            server.wait_ready()
        for i, port in enumerate(self.ports.api_nodes):
            name = f"api-{i + 1}"
            proc = self._add(name, self._vocable(name, "api", VOCABLE_API_PORT=str(port)))
            wait_until_answering(f"http://127.0.0.1:{port}/healthz", proc, timeout=60)
        proxy_cfg = self.settings.data_dir / "haproxy.cfg"
        proxy_cfg.write_text(proxy_config(self.ports))
        argv = [_program("haproxy", "haproxy"), "-f", str(proxy_cfg), "-db"]
        proxy = self._add("proxy", lambda: self._spawn("proxy", argv))
        wait_until_answering(self.api_url + "/healthz", proxy, timeout=20)
        before = worker_registrations(self.logs)
        for i in range(self.workers):
            # llama.cpp's OpenMP threads spin while idle (see `vocable worker`)
            name = f"worker-{i + 1}"
            self._add(name, self._vocable(name, "worker", OMP_WAIT_POLICY="PASSIVE"))
        self.wait_for_registrations(before + self.workers, timeout=registration_timeout)

    def wait_for_registrations(self, at_least: int, timeout: float = 600) -> None:
        """Until the LiveKit nodes logged ``at_least`` worker registrations in all."""
        deadline = time.monotonic() + timeout
        while worker_registrations(self.logs) < at_least:
            for name, child in self.children.items():
                if name.startswith("worker-") and child.process.poll() is not None:
                    raise ClusterError(f"{name} exited; see {self.logs / name}.log")
            if time.monotonic() > deadline:
                raise ClusterError(f"the workers did not register within {timeout:.0f}s")
            time.sleep(0.5)

    def stop_one(self, name: str, *, kill: bool = False) -> None:
        """Stop one process (``kill``: SIGKILL, as a crash) and leave it stopped."""
        proc = self.process(name)
        if kill:
            proc.kill()
            proc.wait()
        else:
            stop_process(proc, timeout=15)

    def start_one(self, name: str) -> subprocess.Popen[bytes]:
        """Start a stopped process again, on the same ports and settings."""
        self.children[name].process = self._starts[name]()
        return self.process(name)

    def supervise(self, stopping: Callable[[], bool]) -> None:
        """Start any process that exits again (backoff 1 s doubling to 30 s) until
        ``stopping()``."""
        while not stopping():
            for child in self.children.values():
                child.check()
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop every process, the last started first."""
        stop_processes([self.process(name) for name in reversed(self.children)])


def run_cluster(settings: Settings) -> int:
    """``vocable up --cluster``: start the cluster, supervise it until Ctrl-C, stop it."""
    stopping = False

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    try:
        cluster = Cluster(settings)
    except ClusterError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    password = _ensure_first_admin(cluster.settings)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        typer.echo("starting the cluster (the workers load the embedded models)...")
        cluster.start()
        _print_banner(cluster, password)
        cluster.supervise(lambda: stopping)
        return 0
    except (ClusterError, ProcessNotReadyError, LiveKitUnavailable) as exc:
        typer.echo(f"error: {exc} (logs in {cluster.logs})", err=True)
        return 1
    finally:
        cluster.stop()


def _print_banner(cluster: Cluster, password: str | None) -> None:
    ports = cluster.ports
    typer.echo("")
    typer.echo("The Vocable cluster is running.")
    typer.echo(f"  Dashboard and API   {cluster.api_url}/  (HAProxy)")
    typer.echo(f"  LiveKit             {cluster.settings.resolved_livekit_public_url}  (HAProxy)")
    typer.echo(f"  API processes       {', '.join(str(p) for p in ports.api_nodes)}")
    nodes = ", ".join(
        f"{p} (UDP {a}-{b})"
        for p, (a, b) in zip(ports.livekit_nodes, ports.udp_ranges, strict=True)
    )
    typer.echo(f"  LiveKit nodes       {nodes}")
    typer.echo(f"  Redis               {cluster.redis_url}")
    typer.echo(f"  Voice workers       {cluster.workers}")
    typer.echo(f"  Data and logs       {cluster.settings.data_dir}")
    if password:
        typer.echo(f"First run: sign in as admin@vocable.local with password {password}")
        typer.echo(f"  (also saved in {cluster.settings.data_dir}/first-admin.txt)")
    typer.echo("Press Ctrl-C to stop.")
