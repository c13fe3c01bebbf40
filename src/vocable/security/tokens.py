"""High-entropy bearer secrets: API keys (``sk_``) and dashboard session cookies.

These carry 256 bits of randomness, so a fast SHA-256 is a sound storage hash (as for
GitHub tokens): a slow password hash would only add latency to every API call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "sk_"
_DISPLAY_CHARS = 8


def new_api_key() -> str:
    """``sk_`` followed by 32 random bytes, URL-safe base64 (43 characters)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def display_prefix(api_key: str) -> str:
    """What lists show of a key: ``sk_`` and its first characters."""
    return api_key[: len(API_KEY_PREFIX) + _DISPLAY_CHARS]


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def looks_like_api_key(value: str) -> bool:
    return value.startswith(API_KEY_PREFIX) and 20 <= len(value) <= 128


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
