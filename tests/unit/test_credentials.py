"""API keys, passwords and generated platform secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from vocable.platform_secrets import load_or_create_secrets
from vocable.security.passwords import hash_password, verify_password
from vocable.security.tokens import display_prefix, hash_secret, looks_like_api_key, new_api_key
from vocable.settings import Settings


def test_api_keys_are_sk_prefixed_with_32_random_bytes() -> None:
    keys = {new_api_key() for _ in range(100)}
    assert len(keys) == 100
    for key in keys:
        assert key.startswith("sk_") and len(key) == 3 + 43
        assert looks_like_api_key(key)


def test_key_storage_hash_and_display_prefix_do_not_reveal_the_key() -> None:
    key = new_api_key()
    digest = hash_secret(key)
    assert key[3:] not in digest and len(digest) == 64
    assert display_prefix(key) == key[:11]
    assert hash_secret(key) == digest


def test_password_hash_is_argon2id_and_verifies_only_the_right_password() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse battery!")
    assert not verify_password(None, "anything")
    assert not verify_password("not-a-hash", "anything")


def test_secrets_are_generated_once_and_readable_only_by_the_owner(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = load_or_create_secrets(settings)
    second = load_or_create_secrets(settings)
    assert first == second
    assert first.livekit_api_key != "devkey" and first.livekit_api_secret != "secret"
    assert len(first.livekit_api_secret) >= 32
    mode = stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode)
    assert mode == 0o600
    assert first.livekit_api_secret not in repr(first)
    assert first.worker_token not in repr(first)


def test_production_refuses_placeholder_livekit_secrets() -> None:
    with pytest.raises(ValueError, match="placeholder"):
        Settings(environment="production", livekit_api_key="k", livekit_api_secret="secret")
    with pytest.raises(ValueError, match="development key"):
        Settings(environment="production", livekit_api_key="devkey", livekit_api_secret="x" * 40)
    Settings(environment="development", livekit_api_key="devkey", livekit_api_secret="secret")


def test_processes_on_other_machines_share_secrets_through_settings(tmp_path: Path) -> None:
    """Two data directories (two machines), the same four secrets in the environment:
    both processes hold the same secrets, so a worker's credential and a header sealed by
    one API are good on the other."""
    from cryptography.fernet import Fernet

    shared = {
        "livekit_api_key": "APIshared",
        "livekit_api_secret": "s" * 40,
        "worker_token": "wkr_" + "t" * 40,
        "encryption_key": Fernet.generate_key().decode(),
    }
    first = load_or_create_secrets(Settings(data_dir=tmp_path / "a", **shared))
    second = load_or_create_secrets(Settings(data_dir=tmp_path / "b", **shared))
    assert first.worker_token == second.worker_token == shared["worker_token"]
    assert first.encryption_key == second.encryption_key == shared["encryption_key"]
    assert first.livekit_api_secret == second.livekit_api_secret
    unset = load_or_create_secrets(Settings(data_dir=tmp_path / "c"))
    assert unset.worker_token != shared["worker_token"]


def test_a_worker_token_or_encryption_key_that_cannot_work_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="VOCABLE_ENCRYPTION_KEY"):
        Settings(data_dir=tmp_path, encryption_key="not-a-fernet-key")
    with pytest.raises(ValueError, match="VOCABLE_WORKER_TOKEN"):
        Settings(data_dir=tmp_path, environment="production", worker_token="short")
