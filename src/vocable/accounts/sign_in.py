"""Dashboard sign-in: backoff per account and per address, lockout, and the password check.

Accounts (counted by e-mail, whether or not the account exists, so refusals reveal
nothing): the first ``free_failures`` wrong passwords in a row cost nothing; each further
one blocks the account for twice as long as the last (1 s, 2 s, 4 s, ...); at
``lock_after`` the account is locked for ``lock_seconds``, audited as ``user.locked``,
until it expires or an admin unlocks it (``vocable admin unlock``). A success resets the
count and reports how many failures came before it.

Addresses: ``address_max_failures`` failures within ``address_window`` block the address
until the window ends, whichever accounts it tried.

A blocked attempt is refused before its password is checked (no Argon2 work), with
``Retry-After``. The counts live in the database: every API process sees the same ones.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vocable import audit
from vocable.audit import Actor
from vocable.contracts.errors import LimitError
from vocable.db.models import SignInThrottle, User
from vocable.security.passwords import verify_password
from vocable.settings import Settings


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    free_failures: int = 5
    lock_after: int = 10
    lock_seconds: int = 15 * 60
    address_max_failures: int = 20
    address_window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInPolicy:
        return cls(
            free_failures=settings.sign_in_free_failures,
            lock_after=settings.sign_in_lock_after,
            lock_seconds=settings.sign_in_lock_seconds,
            address_max_failures=settings.sign_in_address_max_failures,
            address_window=timedelta(seconds=settings.sign_in_address_window_seconds),
        )


class SignInRefused(LimitError):
    """Too many failed sign-ins for this account or from this address, for now."""

    def __init__(self, code: str, message: str, retry_after: int) -> None:
        super().__init__(code, message, retry_after=retry_after)


class WrongCredentials(Exception):
    """The e-mail or the password is wrong (which one is not said)."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    failures_before: int
    """Failed attempts on this account since its last sign-in (shown to its owner)."""


def account_key(email: str) -> str:
    return "email:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()


def address_key(ip: str | None) -> str | None:
    return f"ip:{ip}" if ip else None


def sign_in(
    db: Session, policy: SignInPolicy, *, email: str, password: str, ip: str | None
) -> SignedIn:
    """Check the throttles, then the password; record the outcome (commits).

    Raises ``SignInRefused`` (blocked: nothing checked) or ``WrongCredentials``.
    """
    now = datetime.now(UTC)
    email = email.strip().lower()
    _refuse_if_blocked(db, account_key(email), address_key(ip), now)
    user = db.scalar(select(User).where(User.email == email))
    # the same Argon2 work whether or not the account exists: timing reveals nothing
    matches = verify_password(user.password_hash if user else None, password)
    if user is None or not matches:
        _record_failure(db, policy, email=email, user=user, ip=ip, now=now)
        raise WrongCredentials()
    row = db.get(SignInThrottle, account_key(email))
    failures = row.failures if row is not None else 0
    if row is not None:
        db.delete(row)
    user.last_login_at = now
    db.commit()
    return SignedIn(user=user, failures_before=failures)


def unlock(db: Session, user: User, *, actor: Actor) -> bool:
    """Clear ``user``'s failures and lockout; ``user.unlocked`` is audited when it was
    locked. Commits. Returns whether it was locked."""
    row = db.get(SignInThrottle, account_key(user.email))
    was_locked = row is not None and row.locked
    if row is not None:
        db.delete(row)
    if was_locked:
        audit.record(db, org_id=user.org_id, actor=actor, action="user.unlocked", target_id=user.id)
    db.commit()
    return was_locked


def lock_state(db: Session, user: User) -> datetime | None:
    """Until when ``user`` is locked out, or ``None``."""
    row = db.get(SignInThrottle, account_key(user.email))
    if row is None or not row.locked or row.blocked_until is None:
        return None
    return row.blocked_until if row.blocked_until > datetime.now(UTC) else None


def _refuse_if_blocked(db: Session, account: str, address: str | None, now: datetime) -> None:
    rows = db.scalars(select(SignInThrottle).where(SignInThrottle.key.in_([account, address])))
    for row in rows:
        if row.blocked_until is None or row.blocked_until <= now:
            continue
        wait = max(1, math.ceil((row.blocked_until - now).total_seconds()))
        if row.key == address:
            raise SignInRefused(
                "too_many_attempts",
                "Too many failed sign-ins from this address; try again later",
                wait,
            )
        if row.locked:
            raise SignInRefused(
                "account_locked",
                "This account is locked after too many failed sign-ins; try again later "
                "or ask an admin to unlock it",
                wait,
            )
        raise SignInRefused(
            "too_many_attempts", "Too many failed sign-ins; wait before trying again", wait
        )


def _record_failure(
    db: Session,
    policy: SignInPolicy,
    *,
    email: str,
    user: User | None,
    ip: str | None,
    now: datetime,
) -> None:
    db.rollback()  # nothing of this request is pending; start a fresh transaction
    account = _row(db, account_key(email), now)
    account.failures += 1
    if account.failures >= policy.lock_after:
        account.blocked_until = now + timedelta(seconds=policy.lock_seconds)
        if user is not None and not account.locked:
            audit.record(
                db,
                org_id=user.org_id,
                actor=Actor(kind="system", ip=ip),
                action="user.locked",
                target_id=user.id,
                details={"failures": account.failures},
            )
        account.locked = True
    elif account.failures > policy.free_failures:
        doublings = min(account.failures - policy.free_failures - 1, 20)
        account.blocked_until = now + timedelta(seconds=2**doublings)
    key = address_key(ip)
    if key is not None:
        address = _row(db, key, now)
        if address.window_started_at + policy.address_window <= now:
            address.failures, address.window_started_at = 0, now
        address.failures += 1
        if address.failures >= policy.address_max_failures:
            address.blocked_until = address.window_started_at + policy.address_window
    try:
        db.commit()
    except IntegrityError:  # another process inserted the same row first: count once more
        db.rollback()
        _record_failure(db, policy, email=email, user=user, ip=ip, now=now)


def _row(db: Session, key: str, now: datetime) -> SignInThrottle:
    row = db.get(SignInThrottle, key, with_for_update=True)
    if row is None:
        row = SignInThrottle(key=key, failures=0, window_started_at=now, locked=False)
        db.add(row)
    return row
