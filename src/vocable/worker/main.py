"""Worker process: registers for explicit dispatch and runs one job per session.

This slice joins the room, reports the call's start and end (caller left, or the
agent's maximum duration) and frees the room. The speech pipeline plugs in at
``run_call``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from functools import cache

from livekit import rtc
from livekit.agents import AgentServer, JobContext

from vocable.platform_secrets import PlatformSecrets, load_or_create_secrets
from vocable.settings import Settings
from vocable.worker.channel import WorkerChannel

log = logging.getLogger("vocable.worker")


@cache
def _config() -> tuple[Settings, PlatformSecrets]:
    # Job processes are forked from the worker and read the same settings once.
    settings = Settings()
    return settings, load_or_create_secrets(settings)


def session_id_from_metadata(metadata: str) -> str | None:
    """The dispatch metadata holds only ``{"session_id": ...}``; anything else is refused."""
    try:
        data = json.loads(metadata or "{}")
    except json.JSONDecodeError:
        return None
    value = data.get("session_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value.startswith("ses_") else None


async def run_call(ctx: JobContext, channel: WorkerChannel, session_id: str) -> str:
    """Hold the call until the caller leaves or the maximum duration passes; return why."""
    config = await channel.session_config(session_id)
    await ctx.connect()
    await channel.report_event(session_id, "started")
    caller_left = asyncio.Event()

    def _on_leave(participant: rtc.RemoteParticipant) -> None:
        if participant.identity == config.participant_identity:
            caller_left.set()

    ctx.room.on("participant_disconnected", _on_leave)
    try:
        await asyncio.wait_for(caller_left.wait(), timeout=config.max_call_seconds)
        return "caller_left"
    except TimeoutError:
        return "max_duration"


async def entrypoint(ctx: JobContext) -> None:
    settings, secrets = _config()
    session_id = session_id_from_metadata(ctx.job.metadata)
    if session_id is None:
        log.warning("job without a valid session id; leaving", extra={"room": ctx.job.room.name})
        ctx.shutdown(reason="invalid_dispatch")
        return
    channel = WorkerChannel(api_url=settings.resolved_api_url, worker_token=secrets.worker_token)
    started = time.monotonic()
    reason = "error"
    try:
        reason = await run_call(ctx, channel, session_id)
    finally:
        usage = {"duration_seconds": round(time.monotonic() - started, 3)}
        try:
            await channel.report_event(session_id, "ended", reason=reason, usage=usage)
        finally:
            await channel.aclose()
        # free the room at once so the caller sees the call end
        await ctx.delete_room()
        ctx.shutdown(reason=reason)


def build_server(settings: Settings, secrets: PlatformSecrets) -> AgentServer:
    max_jobs = settings.worker_max_jobs

    def load_by_calls(server: AgentServer) -> float:
        return len(server.active_jobs) / max_jobs

    server = AgentServer(
        ws_url=settings.resolved_livekit_url,
        api_key=secrets.livekit_api_key,
        api_secret=secrets.livekit_api_secret,
        port=0,
        num_idle_processes=1,
        # The framework's default measures CPU and refuses jobs above 70 %: on a 2-core
        # laptop that turns a busy moment into a call nobody answers. We count calls.
        load_fnc=load_by_calls,
        load_threshold=1.0,
    )
    server.rtc_session(entrypoint, agent_name=settings.agent_name)
    return server


def run_worker(settings: Settings) -> None:
    secrets = load_or_create_secrets(settings)
    server = build_server(settings, secrets)
    asyncio.run(server.run(devmode=False))
