"""Platform processes a test can stop and start again: the API, LiveKit and workers."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from tests.support.servers import settings_env
from vocable.api.app import create_app
from vocable.livekit.server import LiveKitServer, find_binary, start_server
from vocable.platform import Platform
from vocable.processes import stop_process
from vocable.settings import Settings


class RestartableApi:
    """The API served by uvicorn in a thread, on a fixed port and database, restartable."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.url = f"http://127.0.0.1:{platform.settings.api_port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 20.0) -> None:
        config = uvicorn.Config(
            create_app(self.platform),
            host="127.0.0.1",
            port=self.platform.settings.api_port,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("API did not start")

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
        self._server = self._thread = None


class RestartableLiveKit:
    """The LiveKit server process, restartable on the same generated config."""

    def __init__(self, settings: Settings, platform: Platform) -> None:
        binary = find_binary(settings)
        if binary is None:
            raise RuntimeError("LiveKit server not installed: run `make test`, which installs it")
        self._binary = binary
        self._settings = settings
        self._platform = platform
        self.log_path = settings.data_dir / "livekit.log"
        self.server: LiveKitServer | None = None

    def start(self) -> None:
        self.server = start_server(
            self._settings, self._platform.secrets, binary=self._binary, log_path=self.log_path
        )
        self.server.wait_ready()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.server = None


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """A worker process reading the same settings (its log goes to ``worker.log``)."""
    with open(settings.data_dir / "worker.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "vocable.cli.main", "worker"],
            env=settings_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    stop_process(proc, timeout=15)


def registrations(livekit_log: Path) -> int:
    """How many times LiveKit logged that a worker registered (the log is appended to)."""
    if not livekit_log.exists():
        return 0
    return livekit_log.read_text(errors="replace").count("worker registered")


def wait_for_registrations(livekit_log: Path, at_least: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if registrations(livekit_log) >= at_least:
            return
        time.sleep(0.2)
    raise RuntimeError(f"no worker registration #{at_least} with LiveKit within {timeout}s")
