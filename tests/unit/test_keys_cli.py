"""``vocable keys rotate``: the operator's way to replace a key from the host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vocable.cli.main import app


def run(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload: dict[str, object] = json.loads(result.output)
    return payload


def test_rotate_prints_the_new_key_once_and_the_old_keys_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOCABLE_DATA_DIR", str(tmp_path))
    run("admin", "create", "--email", "ops@example.com")
    old = run("keys", "create", "--name", "backend")
    new = run("keys", "rotate", str(old["id"]), "--grace-seconds", "0")
    assert str(new["key"]).startswith("sk_") and new["key"] != old["key"]
    assert new["rotated_from"] == old["id"] and new["old_key_stops_at"]
    again = CliRunner().invoke(app, ["keys", "rotate", str(old["id"])])
    assert again.exit_code == 2 and "revoked or expired" in again.output
    assert str(old["key"]) not in again.output


def test_agents_create_takes_a_voice_model_and_refuses_an_unknown_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOCABLE_DATA_DIR", str(tmp_path))
    run("admin", "create", "--email", "ops@example.com")
    agent = run("agents", "create", "--name", "Ada", "--voice-model", "clone-server")
    assert agent["voice_model"] == "clone-server"
    assert run("agents", "create", "--name", "Bo")["voice_model"] is None
    bad = CliRunner().invoke(app, ["agents", "create", "--name", "Cy", "--voice-model", "xtts"])
    assert bad.exit_code == 2 and "voice" in bad.output
