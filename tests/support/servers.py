"""Real servers for tests: the API over real HTTP, the LiveKit server, a worker process."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from tests.support.net import free_ports
from vocable.api.app import create_app
from vocable.db.migrate import upgrade_to_head
from vocable.livekit.server import LiveKitServer, find_binary, start_server
from vocable.platform import Platform, build_platform
from vocable.processes import stop_process
from vocable.settings import Settings


@dataclass
class ApiServer:
    url: str
    platform: Platform
    app: FastAPI


@contextmanager
def running_api(platform: Platform) -> Iterator[ApiServer]:
    """Serve the app with uvicorn on a free port in a background thread."""
    port = platform.settings.api_port
    app = create_app(platform)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # as `vocable up`: the API judges X-Forwarded-For itself
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        raise RuntimeError("API did not start")
    try:
        yield ApiServer(url=url, platform=platform, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def make_settings(data_dir: Path, database_url: str | None = None, **overrides: object) -> Settings:
    udp = random.randrange(40000, 49000, 200)
    api_port, livekit_port, tcp_port = free_ports(3)
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "api_port": api_port,
        "livekit_port": livekit_port,
        "livekit_tcp_port": tcp_port,
        "livekit_udp_port_start": udp,
        "livekit_udp_port_end": udp + 199,
        # the shipped default is one call per core (2 here); suites start calls faster
        # than they end them (unjoined sessions hold a place for their join window)
        "worker_max_jobs": 4,
    }
    values.update(overrides)
    return Settings.model_validate(values)


def make_platform(settings: Settings) -> Platform:
    platform = build_platform(settings)
    upgrade_to_head(platform.engine)
    return platform


@contextmanager
def running_livekit(settings: Settings, platform: Platform) -> Iterator[LiveKitServer]:
    binary = find_binary(settings)
    if binary is None:
        raise RuntimeError("LiveKit server not installed: run `make test`, which installs it")
    server = start_server(
        settings, platform.secrets, binary=binary, log_path=settings.data_dir / "livekit.log"
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that makes a child process read the same settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOCABLE_")}
    env.update(
        {
            "VOCABLE_DATA_DIR": str(settings.data_dir),
            "VOCABLE_CACHE_DIR": str(settings.cache_dir),
            "VOCABLE_API_PORT": str(settings.api_port),
            "VOCABLE_LIVEKIT_PORT": str(settings.livekit_port),
            "VOCABLE_AGENT_NAME": settings.agent_name,
            "VOCABLE_WORKER_PREWARM_LLM": settings.worker_prewarm_llm or "",
            "VOCABLE_OUTBOUND_ALLOW_HOSTS": ",".join(settings.outbound_allow_hosts),
            "VOCABLE_WORKER_MAX_JOBS": str(settings.worker_max_jobs),
            "VOCABLE_WORKER_REPORT_SECONDS": str(settings.worker_report_seconds),
        }
    )
    if settings.database_url:
        env["VOCABLE_DATABASE_URL"] = settings.database_url
    for name in (  # cloning engines the worker may speak through
        "default_voice_model",
        "clone_server_url",
        "clone_server_api_key",
        "elevenlabs_api_key",
        "elevenlabs_base_url",
        "cartesia_api_key",
        "cartesia_base_url",
    ):
        value = getattr(settings, name)
        if value is not None:
            secret = getattr(value, "get_secret_value", None)
            env[f"VOCABLE_{name.upper()}"] = secret() if secret else str(value)
    return env


@contextmanager
def running_worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    log = open(settings.data_dir / "worker.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vocable.cli.main", "worker"],
        env=settings_env(settings),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        stop_process(proc, timeout=15)
        log.close()


def wait_for_worker_registration(livekit_log: Path, timeout: float = 300) -> None:
    """Block until the LiveKit server logged that a worker registered for dispatch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if livekit_log.exists() and "worker registered" in livekit_log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise RuntimeError("worker did not register with LiveKit")


@contextmanager
def running_platform(settings: Settings) -> Iterator[ApiServer]:
    """API, LiveKit server and one worker, all real; yields once the worker registered."""
    platform = make_platform(settings)
    with (
        running_api(platform) as api,
        running_livekit(settings, platform),
        running_worker(settings),
    ):
        wait_for_worker_registration(settings.data_dir / "livekit.log")
        yield api
