"""An organisation's members and invitations (dashboard users only; API keys never manage
people), and the public end of an invitation link."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from vocable.accounts import members
from vocable.accounts.members import Role
from vocable.accounts.sign_in import lock_state
from vocable.api.deps import CurrentUser, DbDep, PlatformDep, UserActorDep, request_ip
from vocable.api.openapi import error_responses
from vocable.api.schemas import UserPublic
from vocable.contracts.fields import NoNul
from vocable.db.models import Invite, Organization, User

router = APIRouter(tags=["members"])
public_router = APIRouter(tags=["members"])
"""The invitation link's end: no credential but the link's token."""

Token = Annotated[str, StringConstraints(min_length=8, max_length=100), NoNul]
Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254), NoNul
]


class MemberPublic(BaseModel):
    id: str
    email: str
    role: str
    created_at: datetime
    last_login_at: datetime | None
    locked_until: datetime | None
    """Set while the account is locked after failed sign-ins (an admin may unlock it)."""


class InvitePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    email: str
    role: str
    created_at: datetime
    expires_at: datetime


class InviteCreated(InvitePublic):
    url: str
    """The invitation link: shown in this response only."""


class MembersPage(BaseModel):
    members: list[MemberPublic]
    invites: list[InvitePublic]
    """Invitations not yet accepted, revoked or expired."""


class InviteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    role: Role = "developer"


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class InviteToken(BaseModel):
    token: Token


class InviteInfo(BaseModel):
    email: str
    role: str
    org_name: str


class InviteAccept(InviteToken):
    password: Password


def _member(db: DbDep, user: User) -> MemberPublic:
    return MemberPublic(
        id=user.id,
        email=user.email,
        role=user.role,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
        locked_until=lock_state(db, user),
    )


@router.get("/api/members", responses=error_responses(401, 503))
def list_members(db: DbDep, user: CurrentUser) -> MembersPage:
    """Everyone in the organisation, oldest first, and the pending invitations."""
    return MembersPage(
        members=[_member(db, m) for m in members.list_members(db, user.org_id)],
        invites=[InvitePublic.model_validate(i) for i in members.pending_invites(db, user.org_id)],
    )


@router.post("/api/members/invites", status_code=201, responses=error_responses(409))
def create_invite(
    body: InviteCreate, db: DbDep, user: CurrentUser, actor: UserActorDep, platform: PlatformDep
) -> InviteCreated:
    """Invite someone by e-mail address with a role (admins and owners; up to their own
    role). The link works once, for 7 days; send it to them yourself."""
    made = members.invite(
        db, org_id=user.org_id, email=body.email, role=body.role, by=user, actor=actor
    )
    url = f"{platform.settings.resolved_api_url}/accept-invite#{made.token}"
    return InviteCreated(**InvitePublic.model_validate(made.invite).model_dump(), url=url)


@router.delete("/api/members/invites/{invite_id}", status_code=204)
def revoke_invite(invite_id: str, db: DbDep, user: CurrentUser, actor: UserActorDep) -> None:
    members.revoke_invite(db, by=user, invite_id=invite_id, actor=actor)


@router.patch("/api/members/{user_id}", responses=error_responses(409))
def change_role(
    user_id: str, body: RoleChange, db: DbDep, user: CurrentUser, actor: UserActorDep
) -> MemberPublic:
    target = members.require_member(db, user.org_id, user_id)
    changed = members.change_role(db, by=user, target=target, role=body.role, actor=actor)
    return _member(db, changed)


@router.delete("/api/members/{user_id}", status_code=204, responses=error_responses(409))
def remove_member(user_id: str, db: DbDep, user: CurrentUser, actor: UserActorDep) -> None:
    """Remove a member: their account and every sign-in of theirs end at once."""
    target = members.require_member(db, user.org_id, user_id)
    members.remove_member(db, by=user, target=target, actor=actor)


@router.post("/api/members/{user_id}/unlock")
def unlock_member(user_id: str, db: DbDep, user: CurrentUser, actor: UserActorDep) -> MemberPublic:
    """Lift a lockout after failed sign-ins (admins and owners)."""
    target = members.require_member(db, user.org_id, user_id)
    return _member(db, members.unlock_member(db, by=user, target=target, actor=actor))


@public_router.post("/api/invites/lookup", responses=error_responses(404, 422, 503))
def lookup_invite(body: InviteToken, db: DbDep) -> InviteInfo:
    """What an invitation link is for (the accept page shows it before a password is set)."""
    row: Invite = members.find_invite(db, body.token)
    org = db.get(Organization, row.org_id)
    return InviteInfo(email=row.email, role=row.role, org_name=org.name if org else "")


@public_router.post(
    "/api/invites/accept", status_code=201, responses=error_responses(404, 409, 422, 503)
)
def accept_invite(
    body: InviteAccept, request: Request, db: DbDep, platform: PlatformDep
) -> UserPublic:
    """Join with the invitation's address and a new password; then sign in as usual."""
    user = members.accept_invite(
        db, token=body.token, password=body.password, ip=request_ip(request, platform)
    )
    return UserPublic.of(db, user)
