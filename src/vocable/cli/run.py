"""Process supervision for ``vocable up``: LiveKit, API and worker as child processes."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import typer
import uvicorn

from vocable.api.app import create_app
from vocable.db.migrate import upgrade_to_head
from vocable.livekit.server import LiveKitUnavailable, install_binary, start_server
from vocable.platform import build_platform
from vocable.processes import wait_until_answering
from vocable.services import accounts
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
    path = settings.data_dir / "first-admin.txt"
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
    livekit = start_server(settings, platform.secrets, binary=binary, log_path=logs / "livekit.log")
    children: list[subprocess.Popen[bytes]] = [livekit.process]
    stopping = False

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        livekit.wait_ready()
        api = _child(["api"], logs / "api.log")
        children.append(api)
        wait_until_answering(settings.resolved_api_url + "/healthz", api, timeout=60)
        if with_worker:
            typer.echo("starting the voice worker (loading the embedded models)...")
            worker = _child(["worker"], logs / "worker.log")
            children.append(worker)
            _wait_registered(logs / "livekit.log", worker)
        _print_banner(settings, password)
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    typer.echo(f"a platform process exited ({child.args!r}); stopping", err=True)
                    return 1
            time.sleep(0.5)
        return 0
    except (RuntimeError, LiveKitUnavailable) as exc:
        typer.echo(f"error: {exc} (logs in {logs})", err=True)
        return 1
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


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
