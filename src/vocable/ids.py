"""Opaque public identifiers: a product prefix and 128 bits of randomness."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _base62(n_bytes: int) -> str:
    value = int.from_bytes(secrets.token_bytes(n_bytes), "big")
    out = []
    while value:
        value, rem = divmod(value, 62)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out)).rjust(22, "0")


def new_id(prefix: str) -> str:
    """A fresh id such as ``agt_4Zk...``; prefixes say what the id names."""
    return f"{prefix}_{_base62(16)}"
