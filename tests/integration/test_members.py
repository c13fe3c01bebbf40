"""Teams: roles and their rights (one test per row of docs/security.md's table),
invitations, role changes, removal, password change, reset from the CLI and by e-mail."""

from __future__ import annotations

import email
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from email import policy
from pathlib import Path

import httpx
import pytest
from tests.conftest import Tenant, make_tenant
from tests.support.net import free_port
from tests.support.servers import ApiServer, make_platform, make_settings, running_api
from typer.testing import CliRunner

from vocable.accounts import members
from vocable.audit import SYSTEM
from vocable.cli.main import app as cli

ROLES = ["owner", "admin", "developer", "viewer"]


@pytest.fixture(scope="module")
def mail_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A local SMTP server process that keeps every message it receives."""
    out = tmp_path_factory.mktemp("mail")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.smtp_sink", str(port), str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "listening"
    try:
        yield port, out
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def team_api(
    tmp_path_factory: pytest.TempPathFactory, mail_dir: tuple[int, Path]
) -> Iterator[ApiServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        smtp_host="127.0.0.1",
        smtp_port=mail_dir[0],
        smtp_security="none",
        smtp_from="Vocable <no-reply@vocable.test>",
        sign_in_free_failures=2,  # locked at the 3rd wrong password in a row
        sign_in_lock_after=3,
        sign_in_address_max_failures=10_000,
    )
    with running_api(make_platform(settings)) as server:
        yield server


def signed_in(api: ApiServer, email_: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=api.url, timeout=20)
    resp = client.post("/api/auth/login", json={"email": email_, "password": password})
    assert resp.status_code == 200, resp.text
    client.headers["x-csrf-token"] = resp.json()["csrf_token"]
    return client


def add_member(api: ApiServer, tenant: Tenant, role: members.Role) -> tuple[str, str]:
    """A member of ``tenant``'s organisation with ``role``: (email, password)."""
    address = f"{role}-{secrets.token_hex(3)}@example.com"
    password = secrets.token_urlsafe(12)
    with api.platform.sessions() as db:
        made = members.invite(
            db, org_id=tenant.org_id, email=address, role=role, by=None, actor=SYSTEM
        )
        members.accept_invite(db, token=made.token, password=password, ip=None)
    return address, password


@pytest.fixture(scope="module")
def team(team_api: ApiServer) -> dict[str, httpx.Client]:
    """A signed-in client per role, all in one organisation (its owner made by the CLI)."""
    tenant = make_tenant(team_api.platform)
    clients = {"owner": signed_in(team_api, tenant.email, tenant.password)}
    for role in ROLES[1:]:
        clients[role] = signed_in(team_api, *add_member(team_api, tenant, role))  # type: ignore[arg-type]
    return clients


def new_agent(client: httpx.Client) -> httpx.Response:
    return client.post("/api/agents", json={"name": f"Agent {secrets.token_hex(2)}"})


# --- the table of rights: one test per row -----------------------------------------------

ALLOWED = {
    "read agents, calls, voices, knowledge and keys": ROLES,
    "change agents, knowledge, voices, MCP servers, webhooks; try calls": ROLES[:3],
    "create, rotate and revoke API keys": ROLES[:3],
    "read the audit log": ROLES[:2],
    "invite, change and remove members below owner; unlock accounts": ROLES[:2],
    "make, change or remove owners": ROLES[:1],
    "change one's own password": ROLES,
}


def test_reading(team: dict[str, httpx.Client]) -> None:
    for role, client in team.items():
        for path in ("/api/agents", "/api/sessions", "/api/voices", "/api/keys", "/api/members"):
            assert client.get(path).status_code == 200, (role, path)


def test_changing_agents(team: dict[str, httpx.Client]) -> None:
    allowed = ALLOWED["change agents, knowledge, voices, MCP servers, webhooks; try calls"]
    for role, client in team.items():
        created = new_agent(client)
        assert created.status_code == (201 if role in allowed else 403), role
        if role not in allowed:
            assert created.json()["code"] == "role_forbidden"
            assert "viewer" in created.json()["message"]


def test_api_keys(team: dict[str, httpx.Client]) -> None:
    allowed = ALLOWED["create, rotate and revoke API keys"]
    for role, client in team.items():
        created = client.post("/api/keys", json={"name": f"by {role}"})
        assert created.status_code == (201 if role in allowed else 403), role


def test_audit_log(team: dict[str, httpx.Client]) -> None:
    allowed = ALLOWED["read the audit log"]
    for role, client in team.items():
        assert client.get("/api/audit").status_code == (200 if role in allowed else 403), role


def test_managing_members(team: dict[str, httpx.Client]) -> None:
    allowed = ALLOWED["invite, change and remove members below owner; unlock accounts"]
    for role, client in team.items():
        invited = client.post(
            "/api/members/invites", json={"email": f"new-{role}@example.com", "role": "viewer"}
        )
        assert invited.status_code == (201 if role in allowed else 403), role


def test_owners(team: dict[str, httpx.Client]) -> None:
    allowed = ALLOWED["make, change or remove owners"]
    for role, client in team.items():
        invited = client.post(
            "/api/members/invites", json={"email": f"owner-by-{role}@example.com", "role": "owner"}
        )
        assert invited.status_code == (201 if role in allowed else 403), role
    owner_id = next(
        m["id"] for m in team["owner"].get("/api/members").json()["members"] if m["role"] == "owner"
    )
    assert (
        team["admin"].patch(f"/api/members/{owner_id}", json={"role": "viewer"}).status_code == 403
    )
    assert team["admin"].delete(f"/api/members/{owner_id}").status_code == 403


def test_own_password(team_api: ApiServer) -> None:
    tenant = make_tenant(team_api.platform)
    for role in ALLOWED["change one's own password"]:
        address, password = (
            (tenant.email, tenant.password)
            if role == "owner"
            else add_member(team_api, tenant, role)  # type: ignore[arg-type]
        )
        client = signed_in(team_api, address, password)
        changed = client.post(
            "/api/auth/password",
            json={"current_password": password, "new_password": "violet-tractor-lantern-9"},
        )
        assert changed.status_code == 204, (role, changed.text)


# --- invitations ---------------------------------------------------------------------


def test_an_invitation_link_works_once_and_the_new_member_signs_in(team_api: ApiServer) -> None:
    tenant = make_tenant(team_api.platform)
    owner = signed_in(team_api, tenant.email, tenant.password)
    made = owner.post("/api/members/invites", json={"email": "Ana@Example.com", "role": "admin"})
    assert made.status_code == 201
    url = made.json()["url"]
    token = url.split("#", 1)[1]
    assert url.startswith(team_api.url + "/accept-invite#inv_")
    pending = owner.get("/api/members").json()["invites"]
    assert [(i["email"], i["role"]) for i in pending] == [("ana@example.com", "admin")]
    assert token not in str(pending)  # the link is shown once

    public = httpx.Client(base_url=team_api.url)
    info = public.post("/api/invites/lookup", json={"token": token}).json()
    assert info == {"email": "ana@example.com", "role": "admin", "org_name": "Acme"}
    weak = public.post("/api/invites/accept", json={"token": token, "password": "password1234"})
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "password"
    joined = public.post(
        "/api/invites/accept", json={"token": token, "password": "violet-tractor-lantern-9"}
    )
    assert joined.status_code == 201 and joined.json()["org_id"] == tenant.org_id
    again = public.post(
        "/api/invites/accept", json={"token": token, "password": "violet-tractor-lantern-9"}
    )
    assert again.status_code == 404 and again.json()["code"] == "invitation_invalid"
    ana = signed_in(team_api, "ana@example.com", "violet-tractor-lantern-9")
    assert ana.get("/api/auth/me").json()["role"] == "admin"
    listed = {m["email"]: m["role"] for m in owner.get("/api/members").json()["members"]}
    assert listed == {tenant.email: "owner", "ana@example.com": "admin"}
    assert owner.get("/api/members").json()["invites"] == []

    revoked = owner.post("/api/members/invites", json={"email": "bo@example.com"}).json()
    assert owner.delete(f"/api/members/invites/{revoked['id']}").status_code == 204
    token = revoked["url"].split("#", 1)[1]
    assert public.post("/api/invites/lookup", json={"token": token}).status_code == 404


def test_the_last_owner_stays_and_a_removed_member_is_signed_out(team_api: ApiServer) -> None:
    tenant = make_tenant(team_api.platform)
    owner = signed_in(team_api, tenant.email, tenant.password)
    me = owner.get("/api/auth/me").json()["id"]
    demoted = owner.patch(f"/api/members/{me}", json={"role": "admin"})
    assert demoted.status_code == 409 and demoted.json()["code"] == "last_owner"
    address, password = add_member(team_api, tenant, "developer")
    developer = signed_in(team_api, address, password)
    dev_id = developer.get("/api/auth/me").json()["id"]
    assert owner.patch(f"/api/members/{dev_id}", json={"role": "viewer"}).json()["role"] == "viewer"
    assert new_agent(developer).status_code == 403  # the new role applies at once
    assert owner.delete(f"/api/members/{dev_id}").status_code == 204
    assert developer.get("/api/auth/me").status_code == 401
    other = make_tenant(team_api.platform)  # another organisation's member is not found
    other_id = signed_in(team_api, other.email, other.password).get("/api/auth/me").json()["id"]
    assert owner.delete(f"/api/members/{other_id}").status_code == 404


# --- passwords -------------------------------------------------------------------------


def test_changing_a_password_ends_other_sign_ins_and_the_first_run_file(
    team_api: ApiServer,
) -> None:
    tenant = make_tenant(team_api.platform)
    first_run = team_api.platform.settings.data_dir / "first-admin.txt"
    first_run.write_text(f"email: {tenant.email}\npassword: {tenant.password}\n")
    here = signed_in(team_api, tenant.email, tenant.password)
    elsewhere = signed_in(team_api, tenant.email, tenant.password)
    wrong = here.post(
        "/api/auth/password",
        json={"current_password": "not-it-at-all", "new_password": "violet-tractor-lantern-9"},
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "current_password"
    ok = here.post(
        "/api/auth/password",
        json={"current_password": tenant.password, "new_password": "violet-tractor-lantern-9"},
    )
    assert ok.status_code == 204
    assert here.get("/api/auth/me").status_code == 200
    assert elsewhere.get("/api/auth/me").status_code == 401
    assert not first_run.exists()
    signed_in(team_api, tenant.email, "violet-tractor-lantern-9")


def test_the_cli_resets_a_password_and_lifts_a_lockout(
    team_api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(team_api.platform)
    for _ in range(3):  # locked at the 3rd wrong password (this API's policy)
        httpx.post(
            team_api.url + "/api/auth/login",
            json={"email": tenant.email, "password": "wrong-password-x"},
        )
        time.sleep(0.02)
    owner_view = signed_in(team_api, *add_member(team_api, tenant, "admin"))
    locked = {
        m["email"]: m["locked_until"] for m in owner_view.get("/api/members").json()["members"]
    }
    assert locked[tenant.email] is not None  # an admin sees the lock on the members page
    monkeypatch.setenv("VOCABLE_DATA_DIR", str(team_api.platform.settings.data_dir))
    result = CliRunner().invoke(cli, ["admin", "reset-password", tenant.email])
    assert result.exit_code == 0, result.output
    new = re.search(r"new password: (\S+)", result.output).group(1)  # type: ignore[union-attr]
    signed_in(team_api, tenant.email, new)


def test_an_admin_unlocks_a_member_from_the_members_page(team_api: ApiServer) -> None:
    tenant = make_tenant(team_api.platform)
    address, password = add_member(team_api, tenant, "developer")
    for _ in range(3):
        httpx.post(
            team_api.url + "/api/auth/login", json={"email": address, "password": "nope-nope-1"}
        )
        time.sleep(0.02)
    assert (
        httpx.post(
            team_api.url + "/api/auth/login", json={"email": address, "password": password}
        ).status_code
        == 429
    )
    owner = signed_in(team_api, tenant.email, tenant.password)
    member_id = next(
        m["id"] for m in owner.get("/api/members").json()["members"] if m["email"] == address
    )
    unlocked = owner.post(f"/api/members/{member_id}/unlock")
    assert unlocked.status_code == 200 and unlocked.json()["locked_until"] is None
    signed_in(team_api, address, password)


def test_a_reset_link_is_e_mailed_through_smtp_and_works_once(
    team_api: ApiServer, mail_dir: tuple[int, Path]
) -> None:
    tenant = make_tenant(team_api.platform)
    public = httpx.Client(base_url=team_api.url)
    assert public.get("/api/auth/options").json() == {"password_reset_by_email": True}
    before = set(mail_dir[1].iterdir())
    for address in (tenant.email, "nobody-here@example.com"):  # the same answer for both
        asked = public.post("/api/auth/password-reset", json={"email": address})
        assert asked.status_code == 202
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(set(mail_dir[1].iterdir()) - before) < 1:
        time.sleep(0.1)
    time.sleep(0.5)  # a second message (there must be none) would have arrived by now
    sent = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in set(mail_dir[1].iterdir()) - before
    ]
    assert [m["To"] for m in sent] == [tenant.email]
    link = re.search(r"(\S+/reset-password#(\S+))", sent[0].get_content()).group(2)  # type: ignore[union-attr]
    done = public.post(
        "/api/auth/password-reset/confirm",
        json={"token": link, "password": "violet-tractor-lantern-9"},
    )
    assert done.status_code == 204, done.text
    signed_in(team_api, tenant.email, "violet-tractor-lantern-9")
    assert (
        httpx.post(
            team_api.url + "/api/auth/login",
            json={"email": tenant.email, "password": tenant.password},
        ).status_code
        == 401
    )
    again = public.post(
        "/api/auth/password-reset/confirm",
        json={"token": link, "password": "another-long-phrase-7"},
    )
    assert again.status_code == 404 and again.json()["code"] == "reset_invalid"
