"""Dashboard sign-in: email and password, then an HttpOnly cookie plus a CSRF token."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, StringConstraints
from sqlalchemy import delete

from vocable.accounts import members
from vocable.accounts.mail import mail_configured, send_mail_later
from vocable.accounts.service import forget_first_admin_password
from vocable.accounts.sign_in import SignInPolicy, WrongCredentials, sign_in
from vocable.api.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentUser,
    DbDep,
    LoginSlot,
    PlatformDep,
    UserActorDep,
    request_ip,
)
from vocable.api.errors import ApiError
from vocable.api.openapi import error_responses
from vocable.api.schemas import LoginRequest, LoginResponse, UserPublic
from vocable.db.models import LoginSession
from vocable.ids import new_id
from vocable.security.tokens import hash_secret

router = APIRouter(prefix="/api/auth", tags=["dashboard auth"])
SESSION_LIFETIME = timedelta(hours=12)


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
        user=UserPublic.of(db, user), csrf_token=csrf, failed_attempts=signed_in.failures_before
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
    return UserPublic.of(db, user)


class PasswordChange(BaseModel):
    current_password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    new_password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class ResetRequest(BaseModel):
    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]


class ResetConfirm(BaseModel):
    token: Annotated[str, StringConstraints(min_length=8, max_length=100)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class AuthOptions(BaseModel):
    password_reset_by_email: bool
    """Whether "Forgot password?" can send a link (SMTP is configured)."""


@router.get("/options", responses=error_responses())
def options(platform: PlatformDep) -> AuthOptions:
    return AuthOptions(password_reset_by_email=mail_configured(platform.settings))


@router.post("/password", status_code=204, responses=error_responses(401, 403, 422, 503))
def change_password(
    body: PasswordChange,
    request: Request,
    db: DbDep,
    user: CurrentUser,
    actor: UserActorDep,
    platform: PlatformDep,
) -> None:
    """Change your own password; your other sign-ins end, this one stays."""
    members.change_password(
        db,
        user,
        current=body.current_password,
        new=body.new_password,
        keep_session=hash_secret(request.cookies.get(SESSION_COOKIE, "")),
        actor=actor,
    )
    forget_first_admin_password(platform.settings.data_dir, user.email)


@router.post("/password-reset", status_code=202, responses=error_responses(422, 503))
def request_reset(body: ResetRequest, db: DbDep, platform: PlatformDep) -> dict[str, str]:
    """E-mail a one-hour reset link when SMTP is configured and the account exists; the
    answer is the same either way (it does not tell who has an account)."""
    settings = platform.settings
    if mail_configured(settings):
        made = members.start_reset(db, body.email)
        if made is not None:
            user, token = made
            send_mail_later(
                settings,
                to=user.email,
                subject="Reset your Vocable password",
                body=(
                    "Someone asked to reset the password of your Vocable account.\n\n"
                    f"Choose a new one here within an hour:\n{settings.resolved_api_url}"
                    f"/reset-password#{token}\n\nIf it was not you, ignore this message."
                ),
            )
    return {"message": "If the address has an account, a reset link is on its way"}


@router.post("/password-reset/confirm", status_code=204, responses=error_responses(404, 422, 503))
def confirm_reset(body: ResetConfirm, request: Request, db: DbDep, platform: PlatformDep) -> None:
    """Set a new password from a reset link; every sign-in of the account ends."""
    user = members.finish_reset(
        db, token=body.token, password=body.password, ip=request_ip(request, platform)
    )
    forget_first_admin_password(platform.settings.data_dir, user.email)
