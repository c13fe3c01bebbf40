"""Request dependencies as named ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from vocable.api.errors import ApiError
from vocable.db.models import ApiKey, LoginSession, User
from vocable.platform import Platform
from vocable.security.tokens import constant_time_equal, hash_secret, looks_like_api_key

SESSION_COOKIE = "vocable_session"
CSRF_COOKIE = "vocable_csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_db(platform: PlatformDep) -> Iterator[Session]:
    with platform.sessions() as db:
        yield db


DbDep = Annotated[Session, Depends(get_db)]


@dataclass
class Principal:
    """Who is calling: a dashboard user or an API key, always within one organisation."""

    org_id: str
    user: User | None = None
    api_key: ApiKey | None = None


def _unauthorised(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


def authenticate_api_key(db: Session, raw_key: str) -> ApiKey:
    if not looks_like_api_key(raw_key):
        raise _unauthorised("Invalid API key")
    key = db.scalar(select(ApiKey).where(ApiKey.key_hash == hash_secret(raw_key)))
    if key is None or key.revoked_at is not None:
        raise _unauthorised("Invalid API key")
    return key


def _user_from_cookie(request: Request, db: Session) -> User | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    login = db.scalar(select(LoginSession).where(LoginSession.token_hash == hash_secret(cookie)))
    if login is None or login.expires_at <= datetime.now(UTC):
        return None
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not constant_time_equal(sent, login.csrf_token):
            raise ApiError(403, "csrf_failed", "Missing or invalid CSRF token")
    return db.get(User, login.user_id)


def get_api_key(
    db: DbDep, x_api_key: Annotated[str | None, Header(alias="x-api-key")] = None
) -> ApiKey:
    if not x_api_key:
        raise _unauthorised("Missing x-api-key header")
    return authenticate_api_key(db, x_api_key)


def get_current_user(request: Request, db: DbDep) -> User:
    user = _user_from_cookie(request, db)
    if user is None:
        raise _unauthorised("Sign in required")
    return user


def get_principal(
    request: Request,
    db: DbDep,
    x_api_key: Annotated[str | None, Header(alias="x-api-key")] = None,
) -> Principal:
    """An API key (server-to-server) or a dashboard cookie session (with CSRF on writes)."""
    if x_api_key:
        key = authenticate_api_key(db, x_api_key)
        return Principal(org_id=key.org_id, api_key=key)
    user = _user_from_cookie(request, db)
    if user is None:
        raise _unauthorised("Sign in or send an x-api-key header")
    return Principal(org_id=user.org_id, user=user)


def get_worker(
    platform: PlatformDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    expected = "Bearer " + platform.secrets.worker_token
    if not authorization or not constant_time_equal(authorization, expected):
        raise _unauthorised("Worker credential required")


ApiKeyDep = Annotated[ApiKey, Depends(get_api_key)]
CurrentUser = Annotated[User, Depends(get_current_user)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
WorkerDep = Annotated[None, Depends(get_worker)]
