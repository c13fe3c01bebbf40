"""Request dependencies as named ``Annotated`` aliases."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from vocable.accounts.members import require_role
from vocable.accounts.service import IpAddress, address_allowed, key_is_usable, origin_allowed
from vocable.agents.service import require_org_agent
from vocable.api.admission import Admission
from vocable.api.errors import ApiError
from vocable.audit import Actor
from vocable.contracts.errors import ForbiddenError
from vocable.contracts.scopes import KeyAccess, Scope
from vocable.db.models import Agent, ApiKey, LoginSession, User, detached
from vocable.platform import Platform
from vocable.security.tokens import constant_time_equal, hash_secret, looks_like_api_key

log = logging.getLogger("vocable.api.auth")

SESSION_COOKIE = "vocable_session"
CSRF_COOKIE = "vocable_csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


async def get_platform(request: Request) -> Platform:
    """Async, as every dependency that does no I/O: a sync one costs a thread hop."""
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_db(platform: PlatformDep) -> Iterator[Session]:
    db = platform.sessions()
    try:
        yield db
    finally:
        close_session(db)


def close_session(db: Session) -> None:
    """Close the request's session, also when the database died under it.

    Closing rolls back; on a connection the database dropped that raises again after
    the 503 is already on its way, and the client would see a reset connection instead.
    The dead connection is discarded (the pool opens a fresh one when it is back).
    """
    try:
        db.close()
    except DBAPIError:
        log.warning("database connection lost while closing a request's session")
        with contextlib.suppress(DBAPIError):
            db.invalidate()


DbDep = Annotated[Session, Depends(get_db)]


def _admission(request: Request) -> Admission:
    admission: Admission = request.app.state.admission
    return admission


async def hold_session_slot(request: Request) -> AsyncIterator[None]:
    """One of the process's session-creation slots for the endpoint's run, else 503."""
    async with _admission(request).sessions.slot():
        yield


async def hold_login_slot(request: Request) -> AsyncIterator[None]:
    """One of the process's sign-in slots for the endpoint's run, else 503."""
    async with _admission(request).logins.slot():
        yield


# Declared first in a route's parameters, so a refusal comes before any database work;
# "function" scope frees the slot when the route returns, not after the body is sent.
SessionSlot = Annotated[None, Depends(hold_session_slot, scope="function")]
LoginSlot = Annotated[None, Depends(hold_login_slot, scope="function")]


@dataclass
class Principal:
    """Who is calling: a dashboard user or an API key, always within one organisation."""

    org_id: str
    user: User | None = None
    api_key: ApiKey | None = None

    @property
    def access(self) -> KeyAccess | None:
        """The key's scopes and agents; ``None`` for a dashboard user (their role decides)."""
        if self.api_key is None:
            return None
        return KeyAccess.of(self.api_key.scopes, self.api_key.agent_ids)

    def require_agent(self, agent_id: str) -> None:
        """403 ``agent_not_allowed`` for a key limited to other agents."""
        if (access := self.access) is not None:
            access.require_agent(agent_id)

    def require_all_agents(self) -> None:
        """403 ``agent_not_allowed`` for a key limited to some agents (org-wide routes)."""
        if (access := self.access) is not None:
            access.require_all_agents()

    @property
    def agent_ids(self) -> list[str] | None:
        """The agents a listing may show: ``None`` for all of the organisation's."""
        access = self.access
        return sorted(access.agent_ids) if access is not None and access.limited else None


def reachable_agent(db: Session, principal: Principal, agent_id: str) -> Agent:
    """The organisation's agent, if the principal may reach it: 403 ``agent_not_allowed``
    for a key limited to other agents, 404 for another organisation's."""
    principal.require_agent(agent_id)
    return require_org_agent(db, org_id=principal.org_id, agent_id=agent_id)


def unauthorised(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


_KEY_BY_HASH = select(ApiKey.__table__).where(ApiKey.key_hash == bindparam("hash"))


def authenticate_api_key(db: Session, raw_key: str) -> ApiKey:
    """The key with this secret, if it is neither revoked nor expired (else 401).

    A plain read, detached from the session (every request with a key pays for it;
    changes to a key go through ``accounts``, which loads its own row)."""
    if not looks_like_api_key(raw_key):
        raise unauthorised("Invalid API key")
    found = db.connection().execute(_KEY_BY_HASH, {"hash": hash_secret(raw_key)}).first()
    return usable_key(None if found is None else detached(ApiKey, found))


def usable_key(found: ApiKey | None) -> ApiKey:
    """``found`` (the key with the request's secret, if any), unless it is revoked or
    expired; else 401."""
    if found is None or not key_is_usable(found):
        raise unauthorised("Invalid API key")
    return found


def _address(value: str) -> IpAddress | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(request: Request, trusted_proxies: list[str]) -> IpAddress | None:
    """The client's address: the socket peer, unless the peer is a trusted proxy.

    Behind trusted proxies, ``X-Forwarded-For`` is read from the right (each proxy
    appends the address it saw) and the first hop that is not a trusted proxy is the
    client; hops left of it were written by the client and are ignored. ``None`` when
    it cannot be told (an unparsable hop): keys with IP ranges then refuse the request.
    """
    peer = _address(request.client.host) if request.client else None
    networks = [ipaddress.ip_network(n) for n in trusted_proxies]

    def trusted(address: IpAddress) -> bool:
        return any(address in net for net in networks)

    if peer is None or not trusted(peer):
        return peer
    hops = [h for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
    if not hops:
        return peer
    address: IpAddress | None = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None or not trusted(address):
            return address
    return address  # every hop is a proxy: the leftmost is the closest thing to a client


def _refuse_key(db: Session, key: ApiKey, code: str, message: str) -> ApiError:
    """Count the refusal on the key (the dashboard shows it) and build the 403.

    The body says which rule refused, never the key, its lists or the caller's address.
    """
    count_refusal(db, key)
    log.warning("api key refused", extra={"key_id": key.id, "reason": code})
    return ApiError(403, code, message)


def check_key_allowlists(db: Session, key: ApiKey, request: Request, platform: Platform) -> None:
    """Apply the key's allowed origins and IP ranges to this request (403 when outside)."""
    if not origin_allowed(key, request.headers.get("origin")):
        raise _refuse_key(
            db, key, "origin_not_allowed", "This API key is not allowed from this origin"
        )
    if key.allowed_ips:
        address = client_address(request, platform.settings.trusted_proxies)
        if not address_allowed(key, address):
            raise _refuse_key(
                db, key, "ip_not_allowed", "This API key is not allowed from this address"
            )


_OWN_ACCOUNT = "/api/auth/"
"""Routes of a signed-in user's own account (sign out, password): open to every role."""


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
    user = db.get(User, login.user_id)
    if (
        user is not None
        and request.method not in _SAFE_METHODS
        and not request.url.path.startswith(_OWN_ACCOUNT)
    ):
        # a viewer reads everything and changes nothing but their own account
        require_role(user, "developer")
    return user


def get_api_key(
    request: Request,
    db: DbDep,
    platform: PlatformDep,
    x_api_key: Annotated[str | None, Header(alias="x-api-key")] = None,
) -> ApiKey:
    if not x_api_key:
        raise unauthorised("Missing x-api-key header")
    key = authenticate_api_key(db, x_api_key)
    check_key_allowlists(db, key, request, platform)
    return key


def get_current_user(request: Request, db: DbDep) -> User:
    user = _user_from_cookie(request, db)
    if user is None:
        raise unauthorised("Sign in required")
    return user


def get_principal(
    request: Request,
    db: DbDep,
    platform: PlatformDep,
    x_api_key: Annotated[str | None, Header(alias="x-api-key")] = None,
) -> Principal:
    """An API key (server-to-server) or a dashboard cookie session (with CSRF on writes)."""
    if x_api_key:
        key = authenticate_api_key(db, x_api_key)
        check_key_allowlists(db, key, request, platform)
        return Principal(org_id=key.org_id, api_key=key)
    user = _user_from_cookie(request, db)
    if user is None:
        raise unauthorised("Sign in or send an x-api-key header")
    return Principal(org_id=user.org_id, user=user)


async def get_worker(
    platform: PlatformDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    expected = "Bearer " + platform.secrets.worker_token
    if not authorization or not constant_time_equal(authorization, expected):
        raise unauthorised("Worker credential required")


ApiKeyDep = Annotated[ApiKey, Depends(get_api_key)]
CurrentUser = Annotated[User, Depends(get_current_user)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
WorkerDep = Annotated[None, Depends(get_worker)]


# --- scopes: every route an API key reaches declares one (tests/unit/test_route_scopes.py)


@dataclass(frozen=True)
class RequireScope:
    """A dashboard user or an API key holding ``scope`` (else 403 ``insufficient_scope``).

    Routes take the principal through one of the aliases below, never ``PrincipalDep``
    alone; frozen, so FastAPI resolves it once per request like any dependency.
    ``org_wide``: the route reaches what belongs to no one agent (the voice library,
    webhooks), so a key limited to agents is refused (403 ``agent_not_allowed``); other
    routes check the agent they touch, or filter a listing to the key's agents.
    """

    scope: Scope
    org_wide: bool = False

    async def __call__(self, principal: PrincipalDep, db: DbDep) -> Principal:
        if (access := principal.access) is not None and principal.api_key is not None:
            await _require_scope(db, principal.api_key, access, self.scope)
            if self.org_wide:
                access.require_all_agents()
        return principal


async def _require_scope(db: Session, key: ApiKey, access: KeyAccess, scope: Scope) -> None:
    """``require_key_scope`` from the event loop: the refusal's count is a write, so only
    a refused request goes to a thread."""
    if not access.allows(scope):
        await run_in_threadpool(require_key_scope, db, key, access, scope)


def require_key_scope(db: Session, key: ApiKey, access: KeyAccess, scope: Scope) -> None:
    """403 ``insufficient_scope`` when ``key`` lacks ``scope``, counted on the key."""
    try:
        access.require(scope)
    except ForbiddenError:
        count_refusal(db, key)
        raise


def count_refusal(db: Session, key: ApiKey) -> None:
    """A refusal of a valid key (its allow-lists, or a scope it lacks), counted on the
    key: the dashboard shows ``refused_count``, so a misconfigured backend is visible."""
    db.execute(
        update(ApiKey)
        .where(ApiKey.id == key.id)
        .values(refused_count=ApiKey.refused_count + 1, last_refused_at=datetime.now(UTC))
    )
    db.commit()


AgentsRead = Annotated[Principal, Depends(RequireScope("agents:read"))]
AgentsWrite = Annotated[Principal, Depends(RequireScope("agents:write"))]
CallsRead = Annotated[Principal, Depends(RequireScope("calls:read"))]
CallsWrite = Annotated[Principal, Depends(RequireScope("calls:write"))]
KnowledgeRead = Annotated[Principal, Depends(RequireScope("knowledge:read"))]
KnowledgeWrite = Annotated[Principal, Depends(RequireScope("knowledge:write"))]
McpRead = Annotated[Principal, Depends(RequireScope("mcp:read"))]
McpWrite = Annotated[Principal, Depends(RequireScope("mcp:write"))]
VoicesRead = Annotated[Principal, Depends(RequireScope("voices:read", org_wide=True))]
VoicesWrite = Annotated[Principal, Depends(RequireScope("voices:write", org_wide=True))]
WebhooksRead = Annotated[Principal, Depends(RequireScope("webhooks:read", org_wide=True))]
WebhooksWrite = Annotated[Principal, Depends(RequireScope("webhooks:write", org_wide=True))]


def request_ip(request: Request, platform: Platform) -> str | None:
    """The client address as text (for the audit log), or ``None``."""
    address = client_address(request, platform.settings.trusted_proxies)
    return str(address) if address is not None else None


def get_actor(request: Request, principal: PrincipalDep, platform: PlatformDep) -> Actor:
    """Who is making this change, for the audit log."""
    if principal.api_key is not None:
        return Actor(kind="api_key", id=principal.api_key.id, ip=request_ip(request, platform))
    user_id = principal.user.id if principal.user is not None else None
    return Actor(kind="user", id=user_id, ip=request_ip(request, platform))


def get_user_actor(request: Request, user: CurrentUser, platform: PlatformDep) -> Actor:
    """A dashboard user making a change (key management), for the audit log."""
    return Actor(kind="user", id=user.id, ip=request_ip(request, platform))


ActorDep = Annotated[Actor, Depends(get_actor)]
UserActorDep = Annotated[Actor, Depends(get_user_actor)]
