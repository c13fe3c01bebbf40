"""Dashboard sign-in: email and password, then an HttpOnly cookie plus a CSRF token."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response
from sqlalchemy import delete

from vocable.accounts.sign_in import SignInPolicy, WrongCredentials, sign_in
from vocable.api.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentUser,
    DbDep,
    LoginSlot,
    PlatformDep,
    request_ip,
)
from vocable.api.errors import ApiError
from vocable.api.openapi import error_responses
from vocable.api.schemas import LoginRequest, LoginResponse, UserPublic
from vocable.db.models import LoginSession, Organization, User
from vocable.ids import new_id
from vocable.security.tokens import hash_secret

router = APIRouter(prefix="/api/auth", tags=["dashboard auth"])
SESSION_LIFETIME = timedelta(hours=12)


def _public(db: DbDep, user: User) -> UserPublic:
    org = db.get(Organization, user.org_id)
    return UserPublic(
        id=user.id,
        email=user.email,
        org_id=user.org_id,
        org_name=org.name if org else "",
        role=user.role,
    )


@router.post("/login", responses=error_responses(401, 422, 429, 503))
def login(
    _slot: LoginSlot,
    body: LoginRequest,
    request: Request,
    response: Response,
    db: DbDep,
    platform: PlatformDep,
) -> LoginResponse:
    try:
        signed_in = sign_in(
            db,
            SignInPolicy.from_settings(platform.settings),
            email=body.email,
            password=body.password,
            ip=request_ip(request, platform),
        )
    except WrongCredentials:
        raise ApiError(401, "invalid_credentials", "Email or password is incorrect") from None
    user = signed_in.user
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = datetime.now(UTC)
    db.add(
        LoginSession(
            id=new_id("lgn"),
            user_id=user.id,
            token_hash=hash_secret(cookie),
            csrf_token=csrf,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    db.commit()
    # behind a TLS-terminating proxy the scheme seen here is http: production always
    # marks the cookies Secure
    secure = request.url.scheme == "https" or platform.settings.environment == "production"
    max_age = int(SESSION_LIFETIME.total_seconds())
    response.set_cookie(
        SESSION_COOKIE, cookie, httponly=True, samesite="lax", secure=secure, max_age=max_age
    )
    # readable by the dashboard's script, which echoes it in x-csrf-token (double submit)
    response.set_cookie(CSRF_COOKIE, csrf, samesite="lax", secure=secure, max_age=max_age)
    return LoginResponse(
        user=_public(db, user), csrf_token=csrf, failed_attempts=signed_in.failures_before
    )


@router.post("/logout", status_code=204, responses=error_responses(401, 403, 503))
def logout(request: Request, response: Response, db: DbDep, user: CurrentUser) -> None:
    cookie = request.cookies.get(SESSION_COOKIE, "")
    db.execute(delete(LoginSession).where(LoginSession.token_hash == hash_secret(cookie)))
    db.commit()
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


@router.get("/me", responses=error_responses(401, 503))
def me(db: DbDep, user: CurrentUser) -> UserPublic:
    return _public(db, user)
