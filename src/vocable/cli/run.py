"""Process supervision for ``vocable up``: LiveKit, API and worker as child processes."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import typer
import uvicorn

from vocable.accounts import service as accounts
from vocable.api.app import create_app
from vocable.db.migrate import upgrade_to_head
from vocable.livekit.server import (
    LiveKitServer,
    LiveKitUnavailable,
    install_binary,
    start_server,
)
from vocable.platform import build_platform
from vocable.processes import stop_processes, wait_until_answering
from vocable.settings import Settings

FIRST_ADMIN_EMAIL = "admin@vocable.local"


def run_api(settings: Settings) -> None:
    platform = build_platform(settings)
    upgrade_to_head(platform.engine)
    uvicorn.run(
        create_app(platform),
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        # access logs would print paths and client addresses only; keep them off by default
        access_log=False,
        # the client address is Vocable's to judge (VOCABLE_TRUSTED_PROXIES): uvicorn's
        # default would believe X-Forwarded-For from any local peer
        proxy_headers=False,
    )


def _ensure_first_admin(settings: Settings) -> str | None:
    """On first run create an admin with a random password, kept in the data dir (0600)."""
    platform = build_platform(settings)
    upgrade_to_head(platform.engine)
    with platform.sessions() as db:
        if accounts.count_users(db) > 0:
            return None
        password = secrets.token_urlsafe(12)
        accounts.create_admin(
            db, email=FIRST_ADMIN_EMAIL, password=password, org_name="My organisation"
        )
    path = settings.data_dir / accounts.FIRST_ADMIN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"email: {FIRST_ADMIN_EMAIL}\npassword: {password}\n")
    return password


def _wait_registered(
    livekit_log: Path, proc: subprocess.Popen[bytes], timeout: float = 600
) -> None:
    """Wait until LiveKit says a worker registered, so the first call is answered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited with {proc.returncode}; see worker.log")
        if "worker registered" in livekit_log.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise RuntimeError("the worker did not register with LiveKit; see worker.log")


class Process(Protocol):
    """What supervision needs of a child process (``subprocess.Popen`` has it)."""

    args: Any
    returncode: int | None

    def poll(self) -> int | None: ...


@dataclass(frozen=True)
class Backoff:
    """Delays before starting a child that exited: ``first``, doubling up to ``maximum``;
    a child that ran for ``stable_after`` seconds counts as healthy and starts from
    ``first`` again."""

    first: float = 1.0
    maximum: float = 30.0
    stable_after: float = 60.0


class Supervised:
    """A child process that is started again, after a backoff delay, whenever it exits.

    :meth:`check` is called from the supervisor's loop: it notices an exit, waits out the
    delay without blocking the loop, and starts a new process. A worker that dies (killed,
    out of memory) loses its calls, which the API closes as ``worker_lost``; the next
    calls go to the new one once it has registered with LiveKit.
    """

    def __init__(
        self,
        *,
        name: str,
        start: Callable[[], Process],
        backoff: Backoff = Backoff(),
        clock: Callable[[], float] = time.monotonic,
        notify: Callable[[str], None] = lambda message: typer.echo(message, err=True),
    ) -> None:
        self.name = name
        self._start = start
        self._backoff = backoff
        self._clock = clock
        self._notify = notify
        self._delay = 0.0
        self._restart_at: float | None = None
        self.restarts = 0
        self.process = start()
        self._started_at = clock()

    def check(self) -> None:
        """Restart the child if it exited and its backoff delay has passed."""
        now = self._clock()
        if self._restart_at is None:
            if self.process.poll() is None:
                return
            ran = now - self._started_at
            if ran >= self._backoff.stable_after or self._delay == 0:
                self._delay = self._backoff.first
            else:
                self._delay = min(self._backoff.maximum, self._delay * 2)
            self._restart_at = now + self._delay
            self._notify(
                f"{self.name} exited with {self.process.returncode}; "
                f"starting it again in {self._delay:.0f}s"
            )
            return
        if now >= self._restart_at:
            self._restart_at = None
            self.process = self._start()
            self._started_at = now
            self.restarts += 1


def _child(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    log = open(log_path, "ab")
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "vocable.cli.main", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def run_up(settings: Settings, *, with_worker: bool) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logs = settings.data_dir / "logs"
    logs.mkdir(exist_ok=True)
    password = _ensure_first_admin(settings)
    try:
        binary = install_binary(settings)
    except LiveKitUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    platform = build_platform(settings)
    livekit_servers: list[LiveKitServer] = []

    def start_livekit() -> Process:
        server = start_server(
            settings, platform.secrets, binary=binary, log_path=logs / "livekit.log"
        )
        livekit_servers[:] = [server]
        return server.process

    # each child is started again if it exits: LiveKit and the API come back on the same
    # config and database; a new worker registers and takes the next calls
    children: list[Supervised] = [Supervised(name="LiveKit", start=start_livekit)]
    stopping = False

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        livekit_servers[0].wait_ready()
        api = Supervised(name="the API", start=lambda: _child(["api"], logs / "api.log"))
        children.append(api)
        wait_until_answering(settings.resolved_api_url + "/healthz", _popen(api), timeout=60)
        if with_worker:
            typer.echo("starting the voice worker (loading the embedded models)...")
            worker = Supervised(
                name="the voice worker", start=lambda: _child(["worker"], logs / "worker.log")
            )
            children.append(worker)
            _wait_registered(logs / "livekit.log", _popen(worker))
        _print_banner(settings, password)
        while not stopping:
            for child in children:
                child.check()
            time.sleep(0.5)
        return 0
    except (RuntimeError, LiveKitUnavailable) as exc:
        typer.echo(f"error: {exc} (logs in {logs})", err=True)
        return 1
    finally:
        stop_processes([_popen(child) for child in reversed(children)])


def _popen(child: Supervised) -> subprocess.Popen[bytes]:
    proc = child.process
    assert isinstance(proc, subprocess.Popen)
    return proc


def _print_banner(settings: Settings, password: str | None) -> None:
    typer.echo("")
    typer.echo("Vocable is running.")
    typer.echo(f"  Dashboard and API  {settings.resolved_api_url}/")
    typer.echo(f"  API reference      {settings.resolved_api_url}/docs")
    typer.echo(f"  LiveKit            {settings.resolved_livekit_public_url}")
    typer.echo(f"  Data and logs      {settings.data_dir}")
    if password:
        typer.echo("")
        typer.echo("First run: sign in to the dashboard with")
        typer.echo(f"  email     {FIRST_ADMIN_EMAIL}")
        typer.echo(f"  password  {password}")
        typer.echo(f"  (also saved, readable only by you, in {settings.data_dir}/first-admin.txt)")
    typer.echo("Press Ctrl-C to stop.")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit("use `vocable up`")
