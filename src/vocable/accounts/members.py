"""An organisation's members: roles, invitations, role changes, removal, passwords.

Roles, highest first (``docs/security.md`` has the table of rights):

- ``owner``: everything, including making and removing owners;
- ``admin``: everything else, including inviting and managing members below owner;
- ``developer``: agents, knowledge, voices, MCP servers, webhooks, API keys, calls;
- ``viewer``: reads everything a developer can, changes nothing.

An organisation always keeps at least one owner. Invitations and password resets are
links with a random token of which only the SHA-256 is stored; each works once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from vocable import audit
from vocable.accounts.service import AccountError, normalise_email
from vocable.accounts.sign_in import unlock
from vocable.audit import Actor
from vocable.contracts.errors import ConflictError, ForbiddenError, NotFoundError
from vocable.db.models import Invite, LoginSession, Organization, PasswordReset, User
from vocable.ids import new_id
from vocable.security.passwords import hash_password, password_problem, verify_password
from vocable.security.tokens import hash_secret

Role = Literal["owner", "admin", "developer", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "admin", "developer", "viewer")
_RANK: dict[str, int] = {role: len(ROLES) - i for i, role in enumerate(ROLES)}

INVITE_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=1)


def at_least(role: str, minimum: Role) -> bool:
    """Whether ``role`` has every right of ``minimum`` (an unknown role has none)."""
    return _RANK.get(role, 0) >= _RANK[minimum]


def require_role(user: User, minimum: Role) -> None:
    if not at_least(user.role, minimum):
        raise ForbiddenError(
            "role_forbidden", f"Your role ({user.role}) cannot do this: it needs {minimum} or above"
        )


class MemberNotFound(NotFoundError):
    def __init__(self) -> None:
        super().__init__("member_not_found", "Member not found")


class LinkInvalid(NotFoundError):
    """An invitation or reset link that is unknown, used, revoked or expired."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}_invalid", f"This {what} link is invalid, used or expired")


def list_members(db: Session, org_id: str) -> list[User]:
    query = select(User).where(User.org_id == org_id).order_by(User.created_at, User.email)
    return list(db.scalars(query))


def require_member(db: Session, org_id: str, user_id: str) -> User:
    user = db.get(User, user_id)
    if user is None or user.org_id != org_id:
        raise MemberNotFound()
    return user


def _new_password(user: User, password: str, org_name: str) -> None:
    problem = password_problem(password, related=(user.email, org_name))
    if problem is not None:
        raise AccountError(problem, field="password")
    user.password_hash = hash_password(password)


def _org_name(db: Session, org_id: str) -> str:
    org = db.get(Organization, org_id)
    return org.name if org is not None else ""


# --- invitations ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewInvite:
    invite: Invite
    token: str
    """Shown once, in the link; only its hash is stored."""


def pending_invites(db: Session, org_id: str) -> list[Invite]:
    now = datetime.now(UTC)
    query = select(Invite).where(
        Invite.org_id == org_id,
        Invite.accepted_at.is_(None),
        Invite.revoked_at.is_(None),
        Invite.expires_at > now,
    )
    return list(db.scalars(query.order_by(Invite.created_at.desc())))


def invite(
    db: Session,
    *,
    org_id: str,
    email: str,
    role: Role,
    by: User | None,
    actor: Actor,
) -> NewInvite:
    """Invite ``email`` with ``role`` (``by``: the inviting member, ``None`` for the CLI).

    A member may invite up to their own role; an earlier pending invitation for the same
    address is replaced. Commits.
    """
    if by is not None:
        require_role(by, "admin")
        if not at_least(by.role, role):
            raise ForbiddenError("role_forbidden", f"Only an owner can invite an {role}")
    email = normalise_email(email)
    if db.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError("a user with this email already exists", field="email")
    now = datetime.now(UTC)
    db.execute(
        update(Invite)
        .where(Invite.org_id == org_id, Invite.email == email, Invite.accepted_at.is_(None))
        .values(revoked_at=now)
    )
    token = "inv_" + secrets.token_urlsafe(32)
    row = Invite(
        id=new_id("inv"),
        org_id=org_id,
        email=email,
        role=role,
        token_hash=hash_secret(token),
        created_by=by.id if by is not None else None,
        created_at=now,
        expires_at=now + INVITE_LIFETIME,
    )
    db.add(row)
    audit.record(
        db,
        org_id=org_id,
        actor=actor,
        action="member.invited",
        target_id=row.id,
        details={"role": role},
    )
    db.commit()
    return NewInvite(invite=row, token=token)


def find_invite(db: Session, token: str) -> Invite:
    """The pending invitation behind ``token``, or ``LinkInvalid``."""
    row = db.scalar(select(Invite).where(Invite.token_hash == hash_secret(token)))
    if (
        row is None
        or row.accepted_at is not None
        or row.revoked_at is not None
        or row.expires_at <= datetime.now(UTC)
    ):
        raise LinkInvalid("invitation")
    return row


def accept_invite(db: Session, *, token: str, password: str, ip: str | None) -> User:
    """Create the invited member with ``password`` (the password policy applies). Commits."""
    row = find_invite(db, token)
    if db.scalar(select(User.id).where(User.email == row.email)) is not None:
        raise ConflictError("email_taken", "A user with this email already exists")
    user = User(id=new_id("usr"), org_id=row.org_id, email=row.email, role=row.role)
    _new_password(user, password, _org_name(db, row.org_id))
    row.accepted_at = datetime.now(UTC)
    db.add(user)
    audit.record(
        db,
        org_id=row.org_id,
        actor=Actor(kind="user", id=user.id, ip=ip),
        action="member.joined",
        target_id=user.id,
        details={"role": row.role},
    )
    db.commit()
    return user


def revoke_invite(db: Session, *, by: User, invite_id: str, actor: Actor) -> None:
    require_role(by, "admin")
    row = db.get(Invite, invite_id)
    if row is None or row.org_id != by.org_id or row.accepted_at is not None:
        raise NotFoundError("invite_not_found", "Invitation not found")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        audit.record(
            db, org_id=row.org_id, actor=actor, action="member.invite_revoked", target_id=row.id
        )
    db.commit()


# --- roles and removal ------------------------------------------------------------------


def _owners(db: Session, org_id: str) -> int:
    query = select(func.count()).where(User.org_id == org_id, User.role == "owner")
    return db.scalar(query) or 0


def _may_manage(by: User, target: User) -> None:
    require_role(by, "admin")
    if target.role == "owner" and by.role != "owner":
        raise ForbiddenError("role_forbidden", "Only an owner can change or remove an owner")


def change_role(db: Session, *, by: User, target: User, role: Role, actor: Actor) -> User:
    _may_manage(by, target)
    if role == "owner" and by.role != "owner":
        raise ForbiddenError("role_forbidden", "Only an owner can make an owner")
    if target.role == "owner" and role != "owner" and _owners(db, target.org_id) == 1:
        raise ConflictError("last_owner", "An organisation keeps at least one owner")
    if target.role != role:
        before, target.role = target.role, role
        audit.record(
            db,
            org_id=target.org_id,
            actor=actor,
            action="member.role_changed",
            target_id=target.id,
            details={"from": before, "to": role},
        )
    db.commit()
    return target


def remove_member(db: Session, *, by: User, target: User, actor: Actor) -> None:
    """Remove ``target`` from the organisation: the account and its sign-ins end. Commits."""
    _may_manage(by, target)
    if target.role == "owner" and _owners(db, target.org_id) == 1:
        raise ConflictError("last_owner", "An organisation keeps at least one owner")
    audit.record(
        db,
        org_id=target.org_id,
        actor=actor,
        action="member.removed",
        target_id=target.id,
        details={"role": target.role},
    )
    db.delete(target)
    db.commit()


def unlock_member(db: Session, *, by: User, target: User, actor: Actor) -> User:
    """Lift ``target``'s lockout after failed sign-ins (admins and owners). Commits."""
    require_role(by, "admin")
    unlock(db, target, actor=actor)
    return target


# --- passwords -------------------------------------------------------------------------


def change_password(
    db: Session, user: User, *, current: str, new: str, keep_session: str | None, actor: Actor
) -> None:
    """Change ``user``'s own password; every other sign-in of theirs ends. Commits."""
    if not verify_password(user.password_hash, current):
        raise AccountError("the current password is not right", field="current_password")
    _new_password(user, new, _org_name(db, user.org_id))
    _end_sign_ins(db, user, keep=keep_session)
    audit.record(
        db, org_id=user.org_id, actor=actor, action="user.password_changed", target_id=user.id
    )
    db.commit()


def set_password(db: Session, user: User, password: str, *, actor: Actor) -> None:
    """Reset ``user``'s password (CLI or reset link): sign-ins end, a lockout is lifted."""
    _new_password(user, password, _org_name(db, user.org_id))
    _end_sign_ins(db, user, keep=None)
    audit.record(
        db, org_id=user.org_id, actor=actor, action="user.password_reset", target_id=user.id
    )
    db.commit()
    unlock(db, user, actor=actor)


def _end_sign_ins(db: Session, user: User, *, keep: str | None) -> None:
    query = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep is not None:
        query = query.where(LoginSession.token_hash != keep)
    db.execute(query)


def start_reset(db: Session, email: str) -> tuple[User, str] | None:
    """A one-hour reset token for ``email``'s account (``None`` when there is none, or a
    link was made for it in the last minute). Commits."""
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        return None
    now = datetime.now(UTC)
    recent = select(PasswordReset.id).where(
        PasswordReset.user_id == user.id, PasswordReset.created_at > now - timedelta(minutes=1)
    )
    if db.scalar(recent) is not None:
        return None
    token = "pwr_" + secrets.token_urlsafe(32)
    db.add(
        PasswordReset(
            id=new_id("pwr"),
            user_id=user.id,
            token_hash=hash_secret(token),
            created_at=now,
            expires_at=now + RESET_LIFETIME,
        )
    )
    db.commit()
    return user, token


def finish_reset(db: Session, *, token: str, password: str, ip: str | None) -> User:
    row = db.scalar(select(PasswordReset).where(PasswordReset.token_hash == hash_secret(token)))
    if row is None or row.used_at is not None or row.expires_at <= datetime.now(UTC):
        raise LinkInvalid("reset")
    user = db.get(User, row.user_id)
    if user is None:
        raise LinkInvalid("reset")
    row.used_at = datetime.now(UTC)
    set_password(db, user, password, actor=Actor(kind="user", id=user.id, ip=ip))
    return user
