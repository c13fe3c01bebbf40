"""Secrets generated on first run and kept, readable by the owner only, in the data directory.

The LiveKit key pair, the worker credential and the key that encrypts stored secrets
(MCP and HTTP-tool headers) live here unless the operator supplies them through settings
(``VOCABLE_LIVEKIT_API_KEY``/``_SECRET``, ``VOCABLE_WORKER_TOKEN``,
``VOCABLE_ENCRYPTION_KEY``): the way processes on several machines share them.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from vocable.settings import Settings

SECRETS_FILE = "secrets.json"


@dataclass(frozen=True, repr=False)
class PlatformSecrets:
    """Secrets a Vocable process needs; ``repr`` hides every value."""

    livekit_api_key: str
    livekit_api_secret: str
    worker_token: str
    encryption_key: str

    def __repr__(self) -> str:
        return f"PlatformSecrets(livekit_api_key={self.livekit_api_key!r}, ...)"


def _generate() -> dict[str, str]:
    return {
        "livekit_api_key": "API" + secrets.token_hex(6),
        "livekit_api_secret": secrets.token_urlsafe(36),
        "worker_token": "wkr_" + secrets.token_urlsafe(32),
        "encryption_key": Fernet.generate_key().decode(),
    }


def load_or_create_secrets(settings: Settings) -> PlatformSecrets:
    """Read the data directory's secrets, creating any that are missing (mode 0600)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path: Path = settings.data_dir / SECRETS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text())
    generated = _generate()
    missing = {k: v for k, v in generated.items() if k not in stored}
    if missing:
        stored.update(missing)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh, indent=2)
        os.replace(tmp, path)
    key = settings.livekit_api_key or stored["livekit_api_key"]
    secret = (
        settings.livekit_api_secret.get_secret_value()
        if settings.livekit_api_secret
        else stored["livekit_api_secret"]
    )
    return PlatformSecrets(
        livekit_api_key=key,
        livekit_api_secret=secret,
        worker_token=(
            settings.worker_token.get_secret_value()
            if settings.worker_token
            else stored["worker_token"]
        ),
        encryption_key=(
            settings.encryption_key.get_secret_value()
            if settings.encryption_key
            else stored["encryption_key"]
        ),
    )
