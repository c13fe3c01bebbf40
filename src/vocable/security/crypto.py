"""Encryption at rest for secrets the platform must read back (MCP headers)."""

from __future__ import annotations

import json
from typing import Protocol

from cryptography.fernet import Fernet, InvalidToken


class HeaderHolder(Protocol):
    """A row with write-only headers (an MCP server, an HTTP tool)."""

    headers_encrypted: str | None
    header_names: list[str]


class SecretBox:
    """Authenticated encryption of small JSON values with the data directory's key."""

    def __init__(self, *, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def seal(self, value: dict[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def open(self, token: str) -> dict[str, str]:
        try:
            data = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise ValueError("stored secret cannot be decrypted with this key") from None
        if not isinstance(data, dict):
            raise ValueError("stored secret is not an object")
        return {str(k): str(v) for k, v in data.items()}

    def seal_headers(self, headers: dict[str, str]) -> tuple[str | None, list[str]]:
        """Write-only headers as stored: sealed values (``None`` when there are none) and
        the names, kept in the clear so they can be shown."""
        return (self.seal(headers) if headers else None), sorted(headers)

    def open_headers(self, sealed: str | None) -> dict[str, str]:
        """The headers :meth:`seal_headers` stored (none: ``{}``)."""
        return self.open(sealed) if sealed else {}

    def replace_headers(self, row: HeaderHolder, headers: dict[str, str]) -> bool:
        """Store ``headers`` on ``row`` in place of those it held; whether they differ
        (the audit log names a change it cannot see in the sealed column)."""
        changed = headers != self.open_headers(row.headers_encrypted)
        row.headers_encrypted, row.header_names = self.seal_headers(headers)
        return changed
