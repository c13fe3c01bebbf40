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


def test_with_two_organisations_the_cli_names_them_and_lists_keys_and_agents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOCABLE_DATA_DIR", str(tmp_path))
    first = run("admin", "create", "--email", "ops@example.com", "--org-name", "Bakery")
    second = run("admin", "create", "--email", "ops@other.example", "--org-name", "Clinic")
    refused = CliRunner().invoke(app, ["keys", "create", "--name", "backend"])
    assert refused.exit_code == 2 and "vocable orgs list" in refused.output
    orgs = json.loads(CliRunner().invoke(app, ["orgs", "list", "--json"]).output)
    assert [(o["id"], o["name"], o["users"]) for o in orgs] == [
        (first["org_id"], "Bakery", 1),
        (second["org_id"], "Clinic", 1),
    ]
    key = run("keys", "create", "--name", "backend", "--org", str(second["org_id"]))
    run("agents", "create", "--name", "Nurse", "--org", str(second["org_id"]))
    listed = CliRunner().invoke(app, ["keys", "list", "--org", str(second["org_id"])])
    assert listed.exit_code == 0
    assert "backend" in listed.output and str(key["prefix"]) in listed.output
    assert str(key["key"]) not in listed.output  # never the secret
    agents = CliRunner().invoke(app, ["agents", "list", "--org", str(first["org_id"])])
    assert agents.exit_code == 0 and "Nurse" not in agents.output
    agents = json.loads(
        CliRunner().invoke(app, ["agents", "list", "--org", str(second["org_id"]), "--json"]).output
    )
    assert [a["name"] for a in agents] == ["Nurse"]


def test_keys_create_makes_a_sessions_only_key_unless_scopes_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOCABLE_DATA_DIR", str(tmp_path))
    run("admin", "create", "--email", "ops@example.com")
    agent = run("agents", "create", "--name", "Ada")
    default = run("keys", "create", "--name", "backend")
    assert default["scopes"] == ["sessions:create"] and default["agent_ids"] == []
    full = run("keys", "create", "--name", "ops", "--scope", "admin")
    assert full["scopes"] == ["admin"]
    limited = run(
        "keys", "create", "--scope", "calls:read", "--scope", "sessions:create",
        "--agent", str(agent["id"]),
    )  # fmt: skip
    assert limited["scopes"] == ["sessions:create", "calls:read"]
    assert limited["agent_ids"] == [agent["id"]]
    rotated = run("keys", "rotate", str(limited["id"]))
    listed = CliRunner().invoke(app, ["keys", "list"])
    assert "sessions:create calls:read" in listed.output and str(agent["id"]) in listed.output
    assert str(rotated["key"]) not in listed.output

    bad = CliRunner().invoke(app, ["keys", "create", "--scope", "agents:delete"])
    assert bad.exit_code == 2 and "scopes: unknown scope 'agents:delete'" in bad.output
    stranger = CliRunner().invoke(app, ["keys", "create", "--agent", "agt_nope"])
    assert stranger.exit_code == 2 and "agent_ids: entry 1" in stranger.output
