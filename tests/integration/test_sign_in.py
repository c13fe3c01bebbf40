"""Dashboard sign-in under attack: backoff per account and per address, lockout that an
admin can lift, audit entries for each lock, and passwords that are hard to guess."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from tests.conftest import Tenant, make_tenant
from tests.support.servers import ApiServer, make_platform, make_settings, running_api
from typer.testing import CliRunner

from vocable.cli.main import app as cli
from vocable.db.models import AuditEvent
from vocable.security.passwords import password_problem


@pytest.fixture(scope="module")
def strict_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """Small thresholds: 2 free failures, locked at the 4th, 6 per address."""
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        sign_in_free_failures=2,
        sign_in_lock_after=4,
        sign_in_lock_seconds=600,
        sign_in_address_max_failures=6,
        trusted_proxies=["127.0.0.1/32"],
    )
    with running_api(make_platform(settings)) as server:
        yield server


def attempt(api: ApiServer, email: str, password: str, address: str) -> httpx.Response:
    """A sign-in from ``address`` (the test is a trusted proxy naming the client)."""
    return httpx.post(
        api.url + "/api/auth/login",
        json={"email": email, "password": password},
        headers={"x-forwarded-for": address},
        timeout=10,
    )


_addresses = itertools.count(1)


def fresh_address() -> str:
    """An address no other test in this module has used (random ones collided once in CI,
    and a shared address carries the other test's failures)."""
    return f"203.0.113.{next(_addresses)}"


def actions(api: ApiServer, tenant: Tenant) -> list[str]:
    with api.platform.sessions() as db:
        rows = db.scalars(select(AuditEvent.action).where(AuditEvent.org_id == tenant.org_id))
        return list(rows)


def test_wrong_passwords_slow_the_account_down_then_the_right_one_works(
    strict_api: ApiServer,
) -> None:
    tenant = make_tenant(strict_api.platform)
    address = fresh_address()
    for _ in range(3):  # 2 free failures, then the 3rd blocks the account for 1 s
        assert attempt(strict_api, tenant.email, "wrong-password-1", address).status_code == 401
    blocked = attempt(strict_api, tenant.email, tenant.password, address)
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "too_many_attempts"
    assert int(blocked.headers["retry-after"]) >= 1
    time.sleep(int(blocked.headers["retry-after"]) + 0.1)
    ok = attempt(strict_api, tenant.email, tenant.password, address)
    assert ok.status_code == 200
    assert ok.json()["failed_attempts"] == 3  # the owner is told
    # a success starts the count again
    assert attempt(strict_api, tenant.email, "wrong-password-1", address).status_code == 401


def test_the_lock_holds_against_the_right_password_until_an_admin_lifts_it(
    strict_api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = make_tenant(strict_api.platform)
    address = fresh_address()
    for status in (401, 401, 401):
        assert attempt(strict_api, tenant.email, "wrong-password-2", address).status_code == status
    time.sleep(1.1)  # the 3rd failure's 1 s block
    assert attempt(strict_api, tenant.email, "wrong-password-2", address).status_code == 401
    locked = attempt(strict_api, tenant.email, tenant.password, fresh_address())
    assert locked.status_code == 429
    assert locked.json()["code"] == "account_locked"
    assert 500 < int(locked.headers["retry-after"]) <= 600
    assert actions(strict_api, tenant).count("user.locked") == 1

    monkeypatch.setenv("VOCABLE_DATA_DIR", str(strict_api.platform.settings.data_dir))
    result = CliRunner().invoke(cli, ["admin", "unlock", tenant.email.upper()])
    assert result.exit_code == 0 and "unlocked" in result.output
    assert actions(strict_api, tenant).count("user.unlocked") == 1
    assert attempt(strict_api, tenant.email, tenant.password, address).status_code == 200


def test_one_address_trying_many_accounts_is_blocked_and_unknown_emails_look_the_same(
    strict_api: ApiServer,
) -> None:
    address = fresh_address()
    tenant = make_tenant(strict_api.platform)
    answers = [
        attempt(strict_api, f"ghost-{i}@example.com", "wrong-password-3", address).status_code
        for i in range(6)
    ]
    assert answers == [401] * 6
    refused = attempt(strict_api, tenant.email, tenant.password, address)
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_attempts"
    assert int(refused.headers["retry-after"]) > 60
    # the same account from another address is not punished for this one's failures
    assert attempt(strict_api, tenant.email, tenant.password, fresh_address()).status_code == 200
    # an e-mail without an account backs off exactly like one with an account
    ghost, real = "nobody-here@example.com", make_tenant(strict_api.platform).email
    for email in (ghost, real):
        answers = [
            attempt(strict_api, email, "wrong-password-4", fresh_address()).status_code
            for _ in range(4)
        ]
        assert answers == [401, 401, 401, 429], email


@pytest.mark.parametrize(
    "password",
    ["aaaaaaaaaaaa", "password1234", "qwertyuiop12", "1234567890ab", "acme.example.com"],
)
def test_common_and_patterned_passwords_are_refused(password: str) -> None:
    problem = password_problem(password, related=("admin@acme.example.com", "Acme"))
    assert problem is not None and "too easy to guess" in problem


@pytest.mark.parametrize("password", ["tR7#kq9vLm2x", "violet-tractor-lantern-9"])
def test_strong_passwords_are_taken(password: str) -> None:
    assert password_problem(password, related=("admin@acme.example.com", "Acme")) is None


def test_admin_create_refuses_a_weak_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOCABLE_DATA_DIR", str(tmp_path))
    args = ["admin", "create", "--email", "ops@example.com", "--password-stdin"]
    weak = CliRunner().invoke(cli, args, input="password1234\n")
    assert weak.exit_code == 2 and "too easy to guess" in weak.output
    strong = CliRunner().invoke(cli, args, input="violet-tractor-lantern-9\n")
    assert strong.exit_code == 0, strong.output
