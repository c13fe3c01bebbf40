"""Worker process: registers for explicit dispatch and runs one job per session.

Jobs run as threads of this process so that the embedded models, loaded once at start,
serve every call (a process per job would load them again for each call).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import dataclass

from livekit.agents import AgentServer, JobContext, JobExecutorType

from vocable.platform_secrets import PlatformSecrets, load_or_create_secrets
from vocable.providers.registry import EngineFactory
from vocable.settings import Settings
from vocable.worker.call import CallOutcome, run_call
from vocable.worker.channel import SessionAnsweredError, SessionClosedError, WorkerChannel
from vocable.worker.enrolments import prune_if_due

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerRuntime:
    settings: Settings
    secrets: PlatformSecrets
    engines: EngineFactory


_runtime: WorkerRuntime | None = None

DUPLICATE_DISPATCH = "duplicate_dispatch"
"""A job for a call whose agent still runs: it neither joins, reports nor closes the room."""


def _get_runtime() -> WorkerRuntime:
    global _runtime
    if _runtime is None:
        settings = Settings()
        _runtime = WorkerRuntime(
            settings, load_or_create_secrets(settings), EngineFactory(settings=settings)
        )
    return _runtime


def session_id_from_metadata(metadata: str) -> str | None:
    """The dispatch metadata holds only ``{"session_id": ...}``; anything else is refused."""
    try:
        data = json.loads(metadata or "{}")
    except json.JSONDecodeError:
        return None
    value = data.get("session_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) and value.startswith("ses_") else None


async def entrypoint(ctx: JobContext) -> None:
    runtime = _get_runtime()
    session_id = session_id_from_metadata(ctx.job.metadata)
    if session_id is None:
        log.warning("job without a valid session id; leaving", extra={"room": ctx.job.room.name})
        ctx.shutdown(reason="invalid_dispatch")
        return
    channel = WorkerChannel(
        api_url=runtime.settings.resolved_api_url, worker_token=runtime.secrets.worker_token
    )
    started = time.monotonic()
    outcome = CallOutcome(reason="error")
    try:
        outcome = await run_call(ctx, channel, runtime.engines, session_id)
    except SessionAnsweredError:
        # LiveKit dispatched the call again (a caller's reconnect recreated its room on
        # another node) while its agent runs on: leave before joining, room untouched
        log.info("dispatch for a call another agent runs", extra={"session_id": session_id})
        outcome = CallOutcome(reason=DUPLICATE_DISPATCH)
    except SessionClosedError:
        # the token outlived its call (or its join window): not a new call; leave quietly
        log.info("dispatch for a closed session; leaving", extra={"session_id": session_id})
        outcome = CallOutcome(reason="session_closed")
    finally:
        # the one way out of a call: its record (unless it was no call), then the room
        try:
            if outcome.reason not in ("session_closed", DUPLICATE_DISPATCH):
                usage = {**outcome.usage, "duration_seconds": round(time.monotonic() - started, 3)}
                await channel.report_ended(session_id, reason=outcome.reason, usage=usage)
                await prune_if_due(channel, runtime.settings.cache_dir / "voices")
        finally:
            await channel.aclose()
            if outcome.reason != DUPLICATE_DISPATCH:
                # free the room at once so the caller sees the call end
                await ctx.delete_room()
            ctx.shutdown(reason=outcome.reason)


def build_server(runtime: WorkerRuntime) -> AgentServer:
    max_jobs = runtime.settings.worker_max_jobs

    def load_by_calls(server: AgentServer) -> float:
        return len(server.active_jobs) / max_jobs

    server = AgentServer(
        ws_url=runtime.settings.resolved_livekit_url,
        api_key=runtime.secrets.livekit_api_key,
        api_secret=runtime.secrets.livekit_api_secret,
        # the framework's health endpoint: on loopback (its default host is every interface)
        host="127.0.0.1",
        port=0,
        job_executor_type=JobExecutorType.THREAD,
        num_idle_processes=1,
        # The framework's default measures CPU and refuses jobs above 70 %: on a 2-core
        # laptop that turns a busy moment into a call nobody answers. We count calls.
        load_fnc=load_by_calls,
        load_threshold=1.0,
    )
    server.rtc_session(entrypoint, agent_name=runtime.settings.agent_name)
    return server


def run_worker(settings: Settings) -> None:
    global _runtime
    _runtime = WorkerRuntime(
        settings, load_or_create_secrets(settings), EngineFactory(settings=settings)
    )
    logging.basicConfig(level=settings.log_level)
    if settings.worker_prewarm_llm:
        log.info("loading embedded models")
        _runtime.engines.prewarm(llm_engine=settings.worker_prewarm_llm)
    asyncio.run(serve(_runtime))


async def serve(runtime: WorkerRuntime) -> None:
    """Take calls, and tell the API how many this worker can still take (its capacity
    and load: the session endpoint refuses sessions no worker could answer)."""
    server = build_server(runtime)
    channel = WorkerChannel(
        api_url=runtime.settings.resolved_api_url, worker_token=runtime.secrets.worker_token
    )
    worker_id = f"wrk_{secrets.token_hex(8)}"
    # names this process in the API's workers table (a cluster has several)
    log.info("reporting capacity and load to the API as %s", worker_id)
    reports = asyncio.create_task(
        channel.report_load(
            worker_id,
            capacity=lambda: runtime.settings.worker_max_jobs,
            active=lambda: len(server.active_jobs),
            interval=runtime.settings.worker_report_seconds,
        )
    )
    try:
        await server.run(devmode=False)
    finally:
        reports.cancel()
        await asyncio.gather(reports, return_exceptions=True)
        await channel.aclose()
