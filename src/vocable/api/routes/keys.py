"""API keys, managed by dashboard users only (a key cannot mint or revoke keys)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from vocable.api.deps import CurrentUser, DbDep
from vocable.api.errors import ApiError
from vocable.api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from vocable.db.models import ApiKey
from vocable.services.accounts import create_api_key, revoke_api_key

router = APIRouter(prefix="/api/keys", tags=["api keys"])


@router.get("")
def list_keys(db: DbDep, user: CurrentUser) -> list[ApiKeyPublic]:
    rows = db.scalars(
        select(ApiKey).where(ApiKey.org_id == user.org_id).order_by(ApiKey.created_at.desc())
    )
    return [ApiKeyPublic.model_validate(r) for r in rows]


@router.post("", status_code=201)
def create_key(body: ApiKeyCreate, db: DbDep, user: CurrentUser) -> ApiKeyCreated:
    created = create_api_key(db, org_id=user.org_id, name=body.name, created_by=user.id)
    public = ApiKeyPublic.model_validate(created.row)
    return ApiKeyCreated(**public.model_dump(), key=created.secret)


@router.delete("/{key_id}")
def revoke_key(key_id: str, db: DbDep, user: CurrentUser) -> ApiKeyPublic:
    row = revoke_api_key(db, org_id=user.org_id, key_id=key_id)
    if row is None:
        raise ApiError(404, "key_not_found", "API key not found")
    return ApiKeyPublic.model_validate(row)
