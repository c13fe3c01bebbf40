"""Install, configure and supervise a real LiveKit server (Go) for this platform.

The binary comes from the Go module proxy at a pinned release and is cached under the
cache directory, so only the first run pays for the build.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vocable.livekit.webhooks import WEBHOOK_PATH
from vocable.platform_secrets import PlatformSecrets
from vocable.processes import ProcessNotReadyError, stop_process, wait_until_answering
from vocable.settings import Settings

PINNED_VERSION = "1.13.5"
MIN_VERSION = (1, 9, 1)
MODULE = "github.com/livekit/livekit-server/cmd/server"


class LiveKitUnavailable(RuntimeError):
    """The server binary is missing and cannot be built here; the message says what to do."""


def _parse_version(text: str) -> tuple[int, int, int] | None:
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def binary_version(path: Path) -> tuple[int, int, int] | None:
    try:
        out = subprocess.run(  # noqa: S603 - a binary path we chose, no shell
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    return _parse_version(out.stdout + out.stderr)


def cached_binary_path(settings: Settings) -> Path:
    return settings.cache_dir / "bin" / f"livekit-server-{PINNED_VERSION}"


def find_binary(settings: Settings) -> Path | None:
    """The configured binary, the cached pinned build, or a recent enough one on PATH."""
    candidates: list[Path] = []
    if settings.livekit_bin:
        candidates.append(settings.livekit_bin)
    candidates.append(cached_binary_path(settings))
    on_path = shutil.which("livekit-server")
    if on_path:
        candidates.append(Path(on_path))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            version = binary_version(path)
            if version is not None and version >= MIN_VERSION:
                return path
    return None


def install_binary(settings: Settings) -> Path:
    """Build the pinned release with ``go install`` into the cache; returns its path."""
    existing = find_binary(settings)
    if existing:
        return existing
    go = shutil.which("go")
    if go is None:
        raise LiveKitUnavailable(
            "LiveKit server not found and Go is not installed. Install Go >= 1.26 and run "
            "`vocable livekit install`, or install livekit-server >= 1.9.1 yourself and set "
            "VOCABLE_LIVEKIT_BIN to its path."
        )
    target = cached_binary_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vocable-lk-") as gobin:
        env = {**os.environ, "GOBIN": gobin, "CGO_ENABLED": "0"}
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [go, "install", f"{MODULE}@v{PINNED_VERSION}"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise LiveKitUnavailable(
                f"`go install {MODULE}@v{PINNED_VERSION}` failed:\n{result.stderr[-2000:]}\n"
                "Install livekit-server >= 1.9.1 another way and set VOCABLE_LIVEKIT_BIN."
            )
        shutil.move(str(Path(gobin) / "server"), target)
    target.chmod(0o755)
    return target


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def _loopback_media(bind: str) -> dict[str, object]:
    """On a loopback install, media sockets too bind to loopback addresses only (pion
    would otherwise open each call's UDP ports on every interface's address)."""
    if not _loopback(bind):
        return {}
    return {"enable_loopback_candidate": True, "ips": {"includes": ["127.0.0.0/8", "::1/128"]}}


def server_config(settings: Settings, secrets: PlatformSecrets) -> dict[str, object]:
    """The server's configuration: our own keys, loopback by default, no STUN lookups."""
    config: dict[str, object] = {
        "port": settings.livekit_port,
        "bind_addresses": [settings.livekit_bind],
        "rtc": {
            # LiveKit's ICE-over-TCP listener takes no address: it would listen on every
            # interface. On a loopback install UDP is all a caller needs, so it stays off
            "tcp_port": 0 if _loopback(settings.livekit_bind) else settings.livekit_tcp_port,
            "port_range_start": settings.livekit_udp_port_start,
            "port_range_end": settings.livekit_udp_port_end,
            # the default asks public STUN servers for our address: unreachable offline
            # and wrong on a laptop
            "use_external_ip": False,
            "node_ip": settings.livekit_node_ip,
            **_loopback_media(settings.livekit_bind),
        },
        "keys": {secrets.livekit_api_key: secrets.livekit_api_secret},
        "logging": {"level": "info", "json": False},
        "room": {"auto_create": True, "empty_timeout": 60, "departure_timeout": 10},
        # a worker's load is its calls over VOCABLE_WORKER_MAX_JOBS (vocable.worker.main):
        # LiveKit's default target of 0.7 would stop dispatching to a worker of 4 places at
        # 3 calls, while the session endpoint counts 4, and a job that no worker's load
        # admits is dropped: its caller waits in a room no agent joins
        "agents": {"target_load": 1.0},
        # room and participant events, signed with our key pair: a call whose worker
        # died or whose room vanished is closed at once (vocable.livekit.webhooks)
        "webhook": {
            "api_key": secrets.livekit_api_key,
            "urls": [settings.livekit_webhook_url or settings.resolved_api_url + WEBHOOK_PATH],
        },
    }
    if settings.redis_url:
        config["redis"] = {"address": settings.redis_url.removeprefix("redis://")}
    return config


def write_config(settings: Settings, secrets: PlatformSecrets, path: Path | None = None) -> Path:
    """Write the config (JSON is valid YAML) readable by the owner only; ``path``
    defaults to ``livekit.yaml`` in the data directory (each node of a cluster has its own)."""
    path = path or settings.data_dir / "livekit.yaml"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(server_config(settings, secrets), fh, indent=2)
    return path


@dataclass
class LiveKitServer:
    """A running server process that we started."""

    process: subprocess.Popen[bytes]
    http_url: str
    log_path: Path | None = None

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "; last log line: " + self.log_path.read_text(errors="replace").strip()[-300:]

    def wait_ready(self, timeout: float = 30.0) -> None:
        try:
            wait_until_answering(
                self.http_url, self.process, timeout=timeout, details=self._log_tail
            )
        except ProcessNotReadyError as exc:
            raise LiveKitUnavailable(f"livekit-server is not running: {exc}") from exc

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.process, timeout)


def start_server(
    settings: Settings,
    secrets: PlatformSecrets,
    *,
    binary: Path,
    log_path: Path | None = None,
    config_path: Path | None = None,
) -> LiveKitServer:
    config_path = write_config(settings, secrets, config_path)
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [str(binary), "--config", str(config_path)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    host = "127.0.0.1" if settings.livekit_bind in {"0.0.0.0", "::"} else settings.livekit_bind
    return LiveKitServer(
        process=process, http_url=f"http://{host}:{settings.livekit_port}/", log_path=log_path
    )
