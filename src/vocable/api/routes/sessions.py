"""``POST /api/agents/agent-session/``: the endpoint a customer backend calls.

It is the one call every customer backend makes for every call, so it is written lean: a
plain ``async`` endpoint with no dependencies, whose database work (key, limits, session
row) runs in one trip to a thread. FastAPI would run each sync dependency and the body
in a thread of its own; the work is the same.

On SQLite that thread is always the same one: SQLite takes one writer at a time anyway,
and threads queueing for it cost more than the work (GIL and lock hand-offs: 0.31x the
bare endpoint's throughput with the shared pool against 0.43x with one thread, one run
each, docs/benchmarks.md). PostgreSQL requests wait on the network, so a few threads
overlap those waits (4: 1 gave 0.37x, 2 and 4 0.42x, 8 0.34x, one run each; more threads
spend their time handing Python's lock to each other). A request that fetches a voice
URL first takes the shared pool: it may wait seconds.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from vocable.api.deps import (
    authenticate_api_key,
    check_key_allowlists,
    close_session,
    request_ip,
    require_key_scope,
    unauthorised,
    usable_key,
)
from vocable.api.openapi import own_body
from vocable.api.schemas import SessionCredentials, SessionEnvelope
from vocable.contracts.scopes import KeyAccess, Scope
from vocable.contracts.sessions import SessionRequest
from vocable.db.engine import autocommit
from vocable.platform import Platform
from vocable.security.tokens import hash_secret, looks_like_api_key
from vocable.sessions.service import CreatedSession, create_session, read_key_and_agent

router = APIRouter(tags=["sessions"])
_SQLITE_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="session-writes")
_POSTGRES_THREADS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="session-requests")

SCOPE: Scope = "sessions:create"
"""The scope a key needs here (declared to the OpenAPI document and the scope table as
``x-scope``: the route has no dependency to carry it)."""


async def _create(request: Request) -> Response:
    platform: Platform = request.app.state.platform
    async with request.app.state.admission.sessions.slot():
        # bounded by the body-limit middleware; a body that is not valid is refused only
        # after the key is checked (401 comes first, as on every route)
        parsed = _parse(await request.body())
        fetches = isinstance(parsed, SessionRequest) and parsed.reference_audio_url is not None
        if fetches:  # a voice URL is fetched first (seconds at worst): the shared pool
            created = await run_in_threadpool(_open_session, platform, request, parsed)
        else:
            sqlite = platform.engine.dialect.name == "sqlite"
            created = await asyncio.get_running_loop().run_in_executor(
                _SQLITE_THREAD if sqlite else _POSTGRES_THREADS,
                _open_session,
                platform,
                request,
                parsed,
            )
    return Response(
        session_envelope(created, platform).model_dump_json(), media_type="application/json"
    )


def _parse(body: bytes) -> SessionRequest | RequestValidationError:
    try:
        return SessionRequest.model_validate_json(body)
    except ValidationError as e:
        return RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in e.errors()])


def _open_session(
    platform: Platform, request: Request, parsed: SessionRequest | RequestValidationError
) -> CreatedSession:
    """The key (401, its allow-lists and scope 403), then the body (422), then the session.

    The key, the agent and the workers' capacity are one read; on PostgreSQL it runs in
    autocommit (no ``BEGIN``/``COMMIT`` round trips around it: the session is written in
    a statement of its own, ``sessions.service``)."""
    raw_key = request.headers.get("x-api-key")
    if not raw_key:
        raise unauthorised("Missing x-api-key header")
    if not looks_like_api_key(raw_key):
        raise unauthorised("Invalid API key")
    postgres = platform.engine.dialect.name == "postgresql"
    db = platform.sessions(bind=autocommit(platform.engine)) if postgres else platform.sessions()
    try:
        prefetched = None
        if isinstance(parsed, RequestValidationError):
            key = authenticate_api_key(db, raw_key)
        else:
            found, prefetched = read_key_and_agent(
                db,
                key_hash=hash_secret(raw_key),
                agent_id=parsed.agent,
                now=datetime.now(UTC),
                live_for=timedelta(seconds=platform.settings.worker_report_timeout_seconds),
            )
            key = usable_key(found)
        check_key_allowlists(db, key, request, platform)
        access = KeyAccess.of(key.scopes, key.agent_ids)
        require_key_scope(db, key, access, SCOPE)
        if isinstance(parsed, RequestValidationError):
            raise parsed
        access.require_agent(parsed.agent)
        return create_session(
            db,
            platform,
            org_id=key.org_id,
            key=key,
            req=parsed,
            client_ip=request_ip(request, platform),
            prefetched=prefetched,
        )
    finally:
        close_session(db)  # also when the database died under the request


def session_envelope(created: CreatedSession, platform: Platform) -> SessionEnvelope:
    """The response a browser needs to join: a join grant and where to connect, no secret."""
    return SessionEnvelope(
        data=SessionCredentials(
            token=created.token,
            livekit_url=platform.settings.resolved_livekit_public_url,
            room_name=created.room_name,
            session_id=created.session_id,
            participant_identity=created.participant_identity,
            expires_in_seconds=platform.settings.token_ttl_seconds,
        )
    )


_doc = dict(
    summary="Create a voice session",
    description=(
        "Called from your backend with `x-api-key`. Returns a short-lived LiveKit token and "
        "URL for one browser to join one new room, where the agent is dispatched."
    ),
    response_model=SessionEnvelope,
    responses={401: {}, 403: {}, 404: {}, 422: {}, 429: {}, 503: {}},
    openapi_extra={"x-scope": SCOPE, **own_body(SessionRequest)},
)
# Served by plain Starlette routes (the endpoint takes the request and answers a
# response: FastAPI's request handling around it, dependency solving and its wrappers,
# was 6 % of the server's samples under load); documented by an API route of the same
# path after them, which the plain route always matches first.
for _path in ("/api/agents/agent-session/", "/api/agents/agent-session"):
    router.add_route(_path, _create, methods=["POST"], include_in_schema=False)
router.add_api_route("/api/agents/agent-session/", _create, methods=["POST"], **_doc)  # type: ignore[arg-type]
