"""``POST /api/agents/agent-session/``: the endpoint a customer backend calls."""

from __future__ import annotations

from fastapi import APIRouter, Request

from vocable.api.deps import DbDep, PlatformDep, SessionsCreate, SessionSlot, request_ip
from vocable.api.schemas import SessionCredentials, SessionEnvelope
from vocable.contracts.scopes import KeyAccess
from vocable.contracts.sessions import SessionRequest
from vocable.platform import Platform
from vocable.sessions.service import CreatedSession, create_session

router = APIRouter(tags=["sessions"])


def _create(
    _slot: SessionSlot,
    request: Request,
    req: SessionRequest,
    key: SessionsCreate,
    db: DbDep,
    platform: PlatformDep,
) -> SessionEnvelope:
    KeyAccess.of(key.scopes, key.agent_ids).require_agent(req.agent)
    created = create_session(
        db, platform, org_id=key.org_id, key=key, req=req, client_ip=request_ip(request, platform)
    )
    return session_envelope(created, platform)


def session_envelope(created: CreatedSession, platform: Platform) -> SessionEnvelope:
    """The response a browser needs to join: a join grant and where to connect, no secret."""
    row = created.row
    return SessionEnvelope(
        data=SessionCredentials(
            token=created.token,
            livekit_url=platform.settings.resolved_livekit_public_url,
            room_name=row.room_name,
            session_id=row.id,
            participant_identity=row.participant_identity,
            expires_in_seconds=platform.settings.token_ttl_seconds,
        )
    )


_doc = dict(
    summary="Create a voice session",
    description=(
        "Called from your backend with `x-api-key`. Returns a short-lived LiveKit token and "
        "URL for one browser to join one new room, where the agent is dispatched."
    ),
    responses={401: {}, 403: {}, 404: {}, 422: {}, 429: {}, 503: {}},
)
router.add_api_route("/api/agents/agent-session/", _create, methods=["POST"], **_doc)  # type: ignore[arg-type]
router.add_api_route(
    "/api/agents/agent-session", _create, methods=["POST"], include_in_schema=False
)
