"""Organisations, dashboard users and API keys."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vocable import audit
from vocable.audit import Actor
from vocable.contracts.errors import ConflictError, InvalidError, NotFoundError
from vocable.contracts.scopes import FULL_ACCESS, MAX_AGENT_IDS, normalise_scopes
from vocable.db.models import Agent, ApiKey, Organization, User
from vocable.ids import new_id
from vocable.security.passwords import hash_password, password_problem
from vocable.security.tokens import display_prefix, hash_secret, new_api_key


class AccountError(InvalidError):
    """A request that conflicts with existing accounts or breaks a rule; safe to show.

    ``str()`` is the rule's own words (what the CLI prints); the API names ``field``.
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(
            "invalid_request",
            f"Invalid request: check {field}",
            errors=[{"field": field, "message": message}],
        )
        self.detail = message

    def __str__(self) -> str:
        return self.detail


class KeyNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("key_not_found", "API key not found")


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or not domain or " " in email or len(email) > 254:
        raise AccountError("email must look like name@example.com", field="email")
    return email


FIRST_ADMIN_FILE = "first-admin.txt"
"""The first owner's generated password, written by ``vocable up`` on the first run."""


def forget_first_admin_password(data_dir: Path, email: str) -> bool:
    """Delete the first-run password file once its owner's password changed (it would be
    a stale secret lying in the data directory). Returns whether it was deleted."""
    path = data_dir / FIRST_ADMIN_FILE
    try:
        if f"email: {email}\n" not in path.read_text():
            return False
    except OSError:
        return False
    path.unlink(missing_ok=True)
    return True


def count_users(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(User)) or 0


def create_admin(db: Session, *, email: str, password: str, org_name: str) -> User:
    """Create an organisation and its owner (the first user; teammates join by invitation)."""
    email = normalise_email(email)
    problem = password_problem(password, related=(email, org_name))
    if problem is not None:
        raise AccountError(problem, field="password")
    if db.scalar(select(User).where(User.email == email)) is not None:
        raise AccountError("a user with this email already exists", field="email")
    org = Organization(id=new_id("org"), name=org_name.strip() or "My organisation")
    user = User(
        id=new_id("usr"),
        org_id=org.id,
        email=email,
        password_hash=hash_password(password),
        role="owner",
    )
    db.add_all([org, user])
    db.commit()
    return user


# --- API keys ----------------------------------------------------------------------

MAX_ALLOWED_ORIGINS = 20
MAX_ALLOWED_IPS = 50
MAX_GRACE_SECONDS = 30 * 24 * 3600
KeyState = Literal["active", "expiring", "expired", "revoked"]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


class KeyStateError(ConflictError):
    """The key cannot take this change in its current state (revoked, expired, rotated)."""

    def __init__(self, message: str) -> None:
        super().__init__("key_not_active", message)


def normalise_origin(value: str) -> str:
    """``scheme://host[:port]`` as browsers send it in ``Origin``: lower case, no default port.

    Raises ``ValueError`` for anything else (paths, credentials, wildcards, ``null``).
    """
    if len(value) > 300 or any(c in value for c in "\\ \t\r\n\x00"):
        raise ValueError("not an origin")
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or not parts.hostname
    ):
        raise ValueError("not an origin")
    host = parts.hostname
    port = parts.port  # raises ValueError for a malformed port
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _HOST.match(host):
            raise ValueError("not an origin") from None
    else:
        host = f"[{address}]" if address.version == 6 else str(address)
    default_port = 443 if parts.scheme == "https" else 80
    suffix = f":{port}" if port is not None and port != default_port else ""
    return f"{parts.scheme}://{host}{suffix}"


def normalise_network(value: str) -> str:
    """A CIDR or bare address, normalised (``10.0.0.7/8`` → ``10.0.0.0/8``)."""
    return str(ipaddress.ip_network(value.strip(), strict=False))


def check_allowed_origins(values: Sequence[str]) -> list[str]:
    """Normalised, de-duplicated origins; the message names the entry, not its value."""
    if len(values) > MAX_ALLOWED_ORIGINS:
        raise ValueError(f"at most {MAX_ALLOWED_ORIGINS} origins")
    out: list[str] = []
    for i, value in enumerate(values, start=1):
        try:
            origin = normalise_origin(value)
        except ValueError:
            raise ValueError(
                f"entry {i} must be an origin such as https://app.example.com "
                "(http or https, a host, an optional port, nothing else)"
            ) from None
        if origin not in out:
            out.append(origin)
    return out


def check_allowed_ips(values: Sequence[str]) -> list[str]:
    """Normalised, de-duplicated CIDRs; the message names the entry, not its value."""
    if len(values) > MAX_ALLOWED_IPS:
        raise ValueError(f"at most {MAX_ALLOWED_IPS} address ranges")
    out: list[str] = []
    for i, value in enumerate(values, start=1):
        try:
            network = normalise_network(value)
        except ValueError:
            raise ValueError(
                f"entry {i} must be an IP address or a CIDR such as 203.0.113.0/24"
            ) from None
        if network not in out:
            out.append(network)
    return out


def key_state(row: ApiKey, now: datetime | None = None) -> KeyState:
    now = now or datetime.now(UTC)
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None:
        return "expired" if row.expires_at <= now else "expiring"
    return "active"


def key_is_usable(row: ApiKey, now: datetime | None = None) -> bool:
    return key_state(row, now) in ("active", "expiring")


def origin_allowed(row: ApiKey, origin: str | None) -> bool:
    """A key with allowed origins accepts a request whose ``Origin`` is one of them, or
    one with no ``Origin`` (server-to-server calls send none; browsers always do)."""
    if not row.allowed_origins or origin is None:
        return True
    try:
        return normalise_origin(origin) in row.allowed_origins
    except ValueError:
        return False  # "null", garbage: present but matching nothing


def address_allowed(row: ApiKey, address: IpAddress | None) -> bool:
    """A key with allowed IP ranges accepts only a known client address inside one."""
    if not row.allowed_ips:
        return True
    if address is None:
        return False
    return any(address in ipaddress.ip_network(net) for net in row.allowed_ips)


def check_scopes(values: Sequence[str]) -> list[str]:
    """Known scopes in their listed order (``AccountError`` naming ``scopes`` otherwise)."""
    try:
        return list(normalise_scopes(values))
    except ValueError as e:
        raise AccountError(str(e), field="scopes") from None


def check_agent_ids(db: Session, org_id: str, values: Sequence[str]) -> list[str]:
    """De-duplicated ids of this organisation's agents; the message names the entry."""
    if len(values) > MAX_AGENT_IDS:
        raise AccountError(f"at most {MAX_AGENT_IDS} agents", field="agent_ids")
    out = list(dict.fromkeys(values))
    if out:
        found = set(db.scalars(select(Agent.id).where(Agent.org_id == org_id, Agent.id.in_(out))))
        for i, value in enumerate(values, start=1):
            if value not in found:
                raise AccountError(
                    f"entry {i} is not an agent of this organisation", field="agent_ids"
                )
    return out


@dataclass(frozen=True, repr=False)
class CreatedKey:
    row: ApiKey
    secret: str
    """The full key, shown once."""


def _new_key_row(
    *,
    org_id: str,
    name: str,
    created_by: str | None,
    expires_at: datetime | None,
    allowed_origins: Sequence[str],
    allowed_ips: Sequence[str],
    scopes: Sequence[str],
    agent_ids: Sequence[str],
    rotated_from: str | None = None,
) -> CreatedKey:
    secret = new_api_key()
    row = ApiKey(
        id=new_id("key"),
        org_id=org_id,
        name=name,
        prefix=display_prefix(secret),
        key_hash=hash_secret(secret),
        created_by=created_by,
        expires_at=expires_at,
        rotated_from=rotated_from,
        allowed_origins=check_allowed_origins(allowed_origins),
        allowed_ips=check_allowed_ips(allowed_ips),
        scopes=list(scopes),
        agent_ids=list(agent_ids),
        refused_count=0,
    )
    return CreatedKey(row=row, secret=secret)


def create_api_key(
    db: Session,
    *,
    org_id: str,
    name: str,
    created_by: str | None,
    expires_at: datetime | None = None,
    allowed_origins: Sequence[str] = (),
    allowed_ips: Sequence[str] = (),
    scopes: Sequence[str] = FULL_ACCESS,
    agent_ids: Sequence[str] = (),
    actor: Actor | None = None,
) -> CreatedKey:
    """A new key (its secret returned once), recorded as ``key.created`` in one commit.

    ``scopes`` defaults to full access (``admin``), what every key was before scopes;
    ``agent_ids`` empty: every agent of the organisation.
    """
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise AccountError("expires_at must be in the future", field="expires_at")
    scopes = check_scopes(scopes)
    agent_ids = check_agent_ids(db, org_id, agent_ids)
    created = _new_key_row(
        org_id=org_id,
        name=name,
        created_by=created_by,
        expires_at=expires_at,
        allowed_origins=allowed_origins,
        allowed_ips=allowed_ips,
        scopes=scopes,
        agent_ids=agent_ids,
    )
    db.add(created.row)
    audit.record(
        db,
        org_id=org_id,
        actor=actor,
        action="key.created",
        target_id=created.row.id,
        details={"scopes": list(scopes), "agent_ids": list(agent_ids)},
    )
    db.commit()
    return created


def get_org_key(db: Session, *, org_id: str, key_id: str) -> ApiKey | None:
    row = db.get(ApiKey, key_id)
    if row is None or row.org_id != org_id:
        return None
    return row


@dataclass(frozen=True, repr=False)
class RotatedKey(CreatedKey):
    previous: ApiKey
    """The key it replaces, now expiring (or revoked when the grace period is 0)."""


def rotate_api_key(
    db: Session,
    *,
    org_id: str,
    key_id: str,
    grace_seconds: int,
    expires_at: datetime | None = None,
    actor: Actor | None = None,
) -> RotatedKey | None:
    """Replace a usable key with a new one of the same name, allow-lists, scopes and agents.

    The old key keeps working for ``grace_seconds`` (0: revoked now), never longer than
    it would have anyway. ``None`` when the key is not this organisation's; a revoked,
    expired or already-rotated key raises ``KeyStateError``.
    """
    if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise AccountError(
            f"grace_seconds must be between 0 and {MAX_GRACE_SECONDS}", field="grace_seconds"
        )
    now = datetime.now(UTC)
    if expires_at is not None and expires_at <= now:
        raise AccountError("expires_at must be in the future", field="expires_at")
    # row lock (PostgreSQL): two concurrent rotations of one key give one replacement
    old = db.scalar(select(ApiKey).where(ApiKey.id == key_id).with_for_update())
    if old is None or old.org_id != org_id:
        return None
    if not key_is_usable(old, now):
        raise KeyStateError("this key is revoked or expired; create a new key instead")
    if db.scalar(select(ApiKey.id).where(ApiKey.rotated_from == old.id)) is not None:
        raise KeyStateError("this key was already rotated; rotate its replacement instead")
    created = _new_key_row(
        org_id=org_id,
        name=old.name,
        created_by=actor.id if actor is not None and actor.kind == "user" else None,
        expires_at=expires_at,
        allowed_origins=old.allowed_origins,
        allowed_ips=old.allowed_ips,
        scopes=old.scopes,
        agent_ids=old.agent_ids,
        rotated_from=old.id,
    )
    if grace_seconds == 0:
        old.revoked_at = now
    else:
        ends = now + timedelta(seconds=grace_seconds)
        old.expires_at = min(old.expires_at, ends) if old.expires_at else ends
    db.add(created.row)
    audit.record(
        db,
        org_id=org_id,
        actor=actor,
        action="key.rotated",
        target_id=old.id,
        details={"new_key_id": created.row.id, "grace_seconds": grace_seconds},
    )
    db.commit()
    return RotatedKey(row=created.row, secret=created.secret, previous=old)


def update_api_key(
    db: Session,
    *,
    org_id: str,
    key_id: str,
    name: str | None = None,
    allowed_origins: Sequence[str] | None = None,
    allowed_ips: Sequence[str] | None = None,
    scopes: Sequence[str] | None = None,
    agent_ids: Sequence[str] | None = None,
    actor: Actor | None = None,
) -> ApiKey | None:
    """Rename a key or replace its allow-lists, scopes or agents (``None``: unchanged;
    ``[]``: no limit, except for ``scopes``, which cannot be empty)."""
    row = get_org_key(db, org_id=org_id, key_id=key_id)
    if row is None:
        return None
    if not key_is_usable(row):
        raise KeyStateError("this key is revoked or expired")
    # checked before anything changes: the agents' query would flush (and so forget) the
    # changes the audit event names
    agents = check_agent_ids(db, org_id, agent_ids) if agent_ids is not None else None
    if name is not None:
        row.name = name
    if allowed_origins is not None:
        row.allowed_origins = check_allowed_origins(allowed_origins)
    if allowed_ips is not None:
        row.allowed_ips = check_allowed_ips(allowed_ips)
    if scopes is not None:
        row.scopes = check_scopes(scopes)
    if agents is not None:
        row.agent_ids = agents
    fields = audit.changed_fields(row)
    if fields:
        audit.record(
            db,
            org_id=org_id,
            actor=actor,
            action="key.updated",
            target_id=row.id,
            # the grant itself is no secret: who widened a key is worth seeing
            details={
                "fields": fields,
                **{name: getattr(row, name) for name in ("scopes", "agent_ids") if name in fields},
            },
        )
    db.commit()
    return row


def revoke_api_key(
    db: Session, *, org_id: str, key_id: str, actor: Actor | None = None
) -> ApiKey | None:
    row = get_org_key(db, org_id=org_id, key_id=key_id)
    if row is None:
        return None
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        audit.record(db, org_id=org_id, actor=actor, action="key.revoked", target_id=row.id)
        db.commit()
    return row
