"""LiveKit's server webhooks, the workers' call heartbeats, and the session sweeper that
runs with the API.

LiveKit posts room and participant events here (the server config we write names this
URL). Three matter: the agent leaving a call that is still open (its worker died), a room
finishing under an open call, and a room starting again after its call started (its
LiveKit node died and a reconnect recreated it elsewhere, empty of the call). Each ends
the call record at once with a reason, and the room is closed so a caller in it is told.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, FastAPI, Header, Request
from fastapi.concurrency import run_in_threadpool
from livekit.api import WebhookEvent
from sqlalchemy import select

from vocable.api.deps import DbDep, PlatformDep, WorkerDep
from vocable.api.errors import ApiError
from vocable.db.models import VoiceSession
from vocable.livekit.rooms import RoomAdmin
from vocable.livekit.webhooks import (
    WEBHOOK_PATH,
    WebhookRefused,
    WebhookVerifier,
    lost_call_reason,
)
from vocable.platform import Platform
from vocable.sessions.sweeper import SessionSweeper, close_rooms, end_open_session
from vocable.sessions.worker import require_session


def room_admin(platform: Platform) -> RoomAdmin:
    return RoomAdmin(
        livekit_url=platform.settings.resolved_livekit_url,
        api_key=platform.secrets.livekit_api_key,
        api_secret=platform.secrets.livekit_api_secret,
    )


@asynccontextmanager
async def sweeper_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Starts the session sweeper (and its webhook delivery purge) with the API and stops
    it on shutdown."""
    platform: Platform = app.state.platform
    retention_days = platform.settings.webhook_delivery_retention_days
    sweeper = SessionSweeper(
        sessions=platform.sessions,
        rooms=room_admin(platform),
        interval_seconds=platform.settings.session_sweep_seconds,
        worker_silent_seconds=platform.settings.worker_heartbeat_timeout_seconds,
        delivery_retention=timedelta(days=retention_days) if retention_days else None,
    )
    sweeper.start()
    try:
        yield
    finally:
        await run_in_threadpool(sweeper.stop)


router = APIRouter(tags=["livekit"], include_in_schema=False, lifespan=sweeper_lifespan)


@router.post(WEBHOOK_PATH)
async def livekit_webhook(
    request: Request,
    platform: PlatformDep,
    background: BackgroundTasks,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, str]:
    """Verify a LiveKit webhook (401 if it is not signed with our key pair) and apply it."""
    verifier = WebhookVerifier(
        api_key=platform.secrets.livekit_api_key, api_secret=platform.secrets.livekit_api_secret
    )
    try:
        event = verifier.verify(await request.body(), authorization)
    except WebhookRefused as e:
        raise ApiError(401, "unauthorized", f"Webhook refused: {e}") from None
    if event.event not in ("participant_left", "room_finished", "room_started"):
        return {"status": "ignored"}
    if not event.room.name:
        return {"status": "ignored"}
    return await run_in_threadpool(_apply, platform, background, event.room.name, event)


def _apply(
    platform: Platform, background: BackgroundTasks, room_name: str, event: WebhookEvent
) -> dict[str, str]:
    with platform.sessions() as db:
        row = db.scalar(select(VoiceSession).where(VoiceSession.room_name == room_name))
        # only a call in progress: a worker that leaves a spent session's room (it found
        # the session closed) or a room nobody joined is not a lost call
        if row is None or row.status != "active":
            return {"status": "ignored"}
        reason = lost_call_reason(
            event, caller_identity=row.participant_identity, started_at=row.started_at
        )
        if reason is None:
            return {"status": "ignored"}
        closed = end_open_session(db, row.id, reason)
    if closed is None:
        return {"status": "ignored"}
    # after the answer: LiveKit waits for it before it sends the next webhook
    background.add_task(close_rooms, room_admin(platform), [closed])
    return {"status": "ended", "reason": reason}


@router.post("/internal/sessions/{session_id}/heartbeat")
def worker_heartbeat(session_id: str, db: DbDep, _: WorkerDep) -> dict[str, str]:
    """The worker running this call is alive (the sweeper ends calls whose worker is not)."""
    row = require_session(db, session_id)
    # a beat may arrive before the worker's own "started" report (both leave at once): it
    # counts, so a worker killed in its first seconds is still judged by its silence
    if row.status != "ended":
        row.worker_seen_at = datetime.now(UTC)
        db.commit()
    return {"status": row.status}
