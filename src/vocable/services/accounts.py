"""Organisations, dashboard users and API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vocable.db.models import ApiKey, Organization, User
from vocable.ids import new_id
from vocable.security.passwords import MIN_PASSWORD_LENGTH, hash_password
from vocable.security.tokens import display_prefix, hash_secret, new_api_key


class AccountError(ValueError):
    """A request that conflicts with existing accounts or breaks a rule; safe to show."""


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or not domain or " " in email or len(email) > 254:
        raise AccountError("email must look like name@example.com")
    return email


def count_users(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(User)) or 0


def create_admin(db: Session, *, email: str, password: str, org_name: str) -> User:
    """Create an organisation and its first admin user."""
    email = normalise_email(email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if db.scalar(select(User).where(User.email == email)) is not None:
        raise AccountError("a user with this email already exists")
    org = Organization(id=new_id("org"), name=org_name.strip() or "My organisation")
    user = User(
        id=new_id("usr"),
        org_id=org.id,
        email=email,
        password_hash=hash_password(password),
        role="admin",
    )
    db.add_all([org, user])
    db.commit()
    return user


@dataclass(frozen=True, repr=False)
class CreatedKey:
    row: ApiKey
    secret: str
    """The full key, shown once."""


def create_api_key(db: Session, *, org_id: str, name: str, created_by: str | None) -> CreatedKey:
    secret = new_api_key()
    row = ApiKey(
        id=new_id("key"),
        org_id=org_id,
        name=name,
        prefix=display_prefix(secret),
        key_hash=hash_secret(secret),
        created_by=created_by,
    )
    db.add(row)
    db.commit()
    return CreatedKey(row=row, secret=secret)


def revoke_api_key(db: Session, *, org_id: str, key_id: str) -> ApiKey | None:
    row = db.get(ApiKey, key_id)
    if row is None or row.org_id != org_id:
        return None
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        db.commit()
    return row
