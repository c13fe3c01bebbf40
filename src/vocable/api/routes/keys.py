"""API keys, managed by dashboard users only (a key cannot mint, rotate or revoke keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from vocable.accounts import service as accounts
from vocable.accounts.service import KeyState
from vocable.api.deps import CurrentUser, DbDep, PlatformDep, UserActorDep
from vocable.api.schemas import ApiKeyCreate, ApiKeyPublic
from vocable.contracts.fields import Name
from vocable.contracts.scopes import FULL_ACCESS, MAX_AGENT_IDS, Scope, normalise_scopes
from vocable.db.models import ApiKey

router = APIRouter(prefix="/api/keys", tags=["api keys"])

AllowedOrigins = Annotated[list[str], AfterValidator(accounts.check_allowed_origins)]
AllowedIps = Annotated[list[str], AfterValidator(accounts.check_allowed_ips)]
Scopes = Annotated[list[str], AfterValidator(normalise_scopes)]
AgentIds = Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=MAX_AGENT_IDS)]
GraceSeconds = Annotated[int, Field(ge=0, le=accounts.MAX_GRACE_SECONDS)]


class KeyCreate(ApiKeyCreate):
    model_config = ConfigDict(extra="forbid")
    expires_at: AwareDatetime | None = None
    """The key stops working at this moment (ISO 8601 with a time zone); must be future."""
    allowed_origins: AllowedOrigins = Field(default_factory=list)
    """Exact ``scheme://host[:port]`` values; a request with another ``Origin`` is refused."""
    allowed_ips: AllowedIps = Field(default_factory=list)
    """CIDRs or addresses; a request from outside them is refused."""
    scopes: Scopes = Field(default_factory=lambda: [str(s) for s in FULL_ACCESS])
    """What the key may do (docs/api.md lists each route's scope). Left out: ``["admin"]``,
    full access, as every key had before scopes (the dashboard and CLI default to
    ``["sessions:create"]``)."""
    agent_ids: AgentIds = Field(default_factory=list)
    """The agents the key may reach; empty: every agent of the organisation."""


class KeyUpdate(BaseModel):
    """Fields left out stay as they are; an empty list lifts that limit."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    allowed_origins: AllowedOrigins | None = None
    allowed_ips: AllowedIps | None = None
    scopes: Scopes | None = None
    agent_ids: AgentIds | None = None


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grace_seconds: GraceSeconds | None = None
    """How long the old key keeps working (0: revoked now); the server's default if left out."""
    expires_at: AwareDatetime | None = None
    """Optional expiry of the new key."""


class KeyPublic(ApiKeyPublic):
    expires_at: datetime | None
    rotated_from: str | None
    allowed_origins: list[str]
    allowed_ips: list[str]
    scopes: list[Scope]
    agent_ids: list[str]
    refused_count: int
    last_refused_at: datetime | None
    state: KeyState
    """``active``; ``expiring`` (works until ``expires_at``); ``expired``; ``revoked``."""

    @classmethod
    def of(cls, row: ApiKey) -> KeyPublic:
        return cls.model_validate({**_columns(row), "state": accounts.key_state(row)})


class KeyCreated(KeyPublic):
    key: str
    """The full key: returned by this response only."""


class KeyRotated(KeyCreated):
    previous: KeyPublic
    """The replaced key, now ``expiring`` (or ``revoked`` with a grace of 0)."""


def _columns(row: ApiKey) -> dict[str, object]:
    return {name: getattr(row, name) for name in KeyPublic.model_fields if name != "state"}


@router.get("")
def list_keys(db: DbDep, user: CurrentUser) -> list[KeyPublic]:
    """The organisation's keys, newest first, each with its state."""
    rows = db.scalars(
        select(ApiKey).where(ApiKey.org_id == user.org_id).order_by(ApiKey.created_at.desc())
    )
    return [KeyPublic.of(r) for r in rows]


@router.post("", status_code=201, responses={422: {}})
def create_key(body: KeyCreate, db: DbDep, user: CurrentUser, actor: UserActorDep) -> KeyCreated:
    created = accounts.create_api_key(
        db,
        org_id=user.org_id,
        name=body.name,
        created_by=user.id,
        expires_at=body.expires_at,
        allowed_origins=body.allowed_origins,
        allowed_ips=body.allowed_ips,
        scopes=body.scopes,
        agent_ids=body.agent_ids,
        actor=actor,
    )
    return KeyCreated(**KeyPublic.of(created.row).model_dump(), key=created.secret)


@router.patch("/{key_id}", responses={404: {}, 409: {}, 422: {}})
def update_key(
    key_id: str, body: KeyUpdate, db: DbDep, user: CurrentUser, actor: UserActorDep
) -> KeyPublic:
    """Rename a key or replace its allowed origins / IP ranges, scopes or agents."""
    row = accounts.update_api_key(
        db,
        org_id=user.org_id,
        key_id=key_id,
        name=body.name,
        allowed_origins=body.allowed_origins,
        allowed_ips=body.allowed_ips,
        scopes=body.scopes,
        agent_ids=body.agent_ids,
        actor=actor,
    )
    if row is None:
        raise accounts.KeyNotFound()
    return KeyPublic.of(row)


@router.post("/{key_id}/rotate", status_code=201, responses={404: {}, 409: {}, 422: {}})
def rotate_key(
    key_id: str,
    db: DbDep,
    user: CurrentUser,
    actor: UserActorDep,
    platform: PlatformDep,
    body: KeyRotate | None = None,
) -> KeyRotated:
    """A new key with the same name, allow-lists, scopes and agents (full secret in this
    response only); the old one keeps working for ``grace_seconds`` and then stops."""
    body = body or KeyRotate()
    grace = body.grace_seconds
    if grace is None:
        grace = platform.settings.key_rotation_grace_seconds
    rotated = accounts.rotate_api_key(
        db,
        org_id=user.org_id,
        key_id=key_id,
        grace_seconds=grace,
        expires_at=body.expires_at,
        actor=actor,
    )
    if rotated is None:
        raise accounts.KeyNotFound()
    new = KeyPublic.of(rotated.row).model_dump()
    return KeyRotated(**new, key=rotated.secret, previous=KeyPublic.of(rotated.previous))


@router.delete("/{key_id}", responses={404: {}})
def revoke_key(key_id: str, db: DbDep, user: CurrentUser, actor: UserActorDep) -> KeyPublic:
    row = accounts.revoke_api_key(db, org_id=user.org_id, key_id=key_id, actor=actor)
    if row is None:
        raise accounts.KeyNotFound()
    return KeyPublic.of(row)
