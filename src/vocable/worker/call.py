"""One call: configure an AgentSession from the session's effective config and run it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import langcodes
from livekit import rtc
from livekit.agents import AgentSession, APIError, JobContext
from livekit.agents.llm import ChatContext
from livekit.agents.voice import room_io
from livekit.agents.voice.events import AgentStateChangedEvent, CloseEvent

from vocable.api.schemas import WorkerSessionConfig
from vocable.providers.llama_llm import LlamaLLM
from vocable.providers.registry import EngineFactory, Engines
from vocable.providers.speech_chunks import speaks_first_clause
from vocable.worker.bridge import ChatBridge
from vocable.worker.channel import WorkerChannel
from vocable.worker.knowledge import knowledge_agent
from vocable.worker.tools import call_tools
from vocable.worker.voice import call_voice

log = logging.getLogger("vocable.worker.call")

REJOIN_GRACE_SECONDS = 1.0
"""How long after the caller leaves a join with the same identity counts as a duplicate."""
OUTAGE_REJOIN_SECONDS = 5.0
"""After the worker reconnects to LiveKit, how long the caller has to come back too."""

WARM_AFTER_SECONDS = 1.5
"""Start warming the prompt then at the latest, even if the greeting is not playing yet."""

SPEECH_STYLE = (
    "You are speaking on a live voice call. Answer in one to three short sentences of plain "
    "spoken {language}: no lists, no markdown, no emojis."
)


def instructions_for(config: WorkerSessionConfig) -> str:
    """The agent's system prompt followed by our speech-style rule in the session language."""
    language = langcodes.Language.get(config.language).display_name("en")
    style = SPEECH_STYLE.format(language=language)
    prompt = config.system_prompt.strip()
    return f"{prompt}\n\n{style}" if prompt else style


def build_session(engines: Engines) -> AgentSession[None]:
    return AgentSession(
        stt=engines.stt,
        llm=engines.llm,
        tts=engines.tts,
        vad=engines.vad,
        turn_handling={
            # VAD endpointing: Whisper gives no partial transcripts, and nothing may
            # reach a cloud service (the adaptive modes are LiveKit Cloud only)
            "turn_detection": "vad",
            "endpointing": {"min_delay": 0.35, "max_delay": 2.0},
            "interruption": {"enabled": True, "mode": "vad", "min_duration": 0.4},
            "preemptive_generation": {"enabled": False},
        },
        user_away_timeout=None,
    )


async def warm_prompt_cache(
    engines: Engines,
    instructions: str,
    tools: list[Any] | None = None,
    *,
    after: asyncio.Event | None = None,
) -> None:
    """Evaluate the system prompt while the greeting plays.

    llama.cpp reuses the longest common token prefix of consecutive requests, so the
    caller's first question then costs only its own tokens (seconds saved on 2 cores).
    It starts once ``after`` is set (the greeting is audible) or after
    ``WARM_AFTER_SECONDS``: on 2 cores, prefill beside the greeting's synthesis delays the
    first sound the caller hears.
    """
    if not isinstance(engines.llm, LlamaLLM):
        return
    if after is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(after.wait(), timeout=WARM_AFTER_SECONDS)
    ctx = ChatContext.empty()
    ctx.add_message(role="system", content=instructions)
    try:
        warm = engines.llm.chat(chat_ctx=ctx, tools=tools, extra_kwargs={"max_tokens": 1})
        async with warm as stream:
            async for _ in stream:
                pass
    except APIError:
        log.warning("warming the prompt cache failed; the first turn will be slower")


def room_closed_reason(why: rtc.DisconnectReason.ValueType | None) -> str:
    """``room_closed`` when the room was closed on purpose; ``media_lost`` when the
    connection to LiveKit was lost (the server stopped or restarted)."""
    return "room_closed" if why in _CLOSED_ON_PURPOSE else "media_lost"


_CLOSED_ON_PURPOSE = {
    rtc.DisconnectReason.ROOM_DELETED,
    rtc.DisconnectReason.ROOM_CLOSED,
    rtc.DisconnectReason.PARTICIPANT_REMOVED,
    rtc.DisconnectReason.CLIENT_INITIATED,
}


@dataclass
class CallOutcome:
    reason: str
    usage: dict[str, Any] = field(default_factory=dict)


def usage_summary(session: AgentSession[None], bridge: ChatBridge) -> dict[str, Any]:
    """Per-engine usage (tokens, audio seconds, characters) and message counts."""
    return {
        "models": [u.model_dump(mode="json") for u in session.usage.model_usage],
        "turns": bridge.turns_reported,
        "ignored_messages": bridge.ignored_messages,
    }


async def run_call(
    ctx: JobContext, channel: WorkerChannel, factory: EngineFactory, session_id: str
) -> CallOutcome:
    """Greet, converse until the caller leaves or time runs out; say why it ended."""
    config = await channel.session_config(session_id)
    ended = asyncio.Event()
    reason = "max_duration"

    def _end(why: str) -> None:
        nonlocal reason
        if not ended.is_set():
            reason = why
            ended.set()

    async def _caller_gone() -> None:
        # LiveKit lets a second join with the same token replace the first (the old one
        # leaves, the new one arrives, in either order). A session is joined once: that
        # ends the call for both instead of handing it over, and the record says so.
        await asyncio.sleep(REJOIN_GRACE_SECONDS)
        back = joins > 1 or config.participant_identity in ctx.room.remote_participants
        _end("duplicate_join" if back else "caller_left")

    joins = 0

    def _on_join(participant: rtc.RemoteParticipant) -> None:
        nonlocal joins
        if participant.identity == config.participant_identity:
            joins += 1

    def _on_leave(participant: rtc.RemoteParticipant) -> None:
        if participant.identity != config.participant_identity or ended.is_set():
            return
        if participant.disconnect_reason == rtc.DisconnectReason.DUPLICATE_IDENTITY:
            _end("duplicate_join")
            return
        if ctx.room.connection_state != rtc.ConnectionState.CONN_CONNECTED:
            # reconnecting to LiveKit unwinds every participant: not the caller leaving.
            # Either the room comes back (checked in _on_reconnected) or it is lost.
            return
        tasks.append(asyncio.create_task(_caller_gone()))

    async def _caller_lost_in_outage() -> None:
        # the connection to LiveKit came back without the caller: the media was lost (a
        # LiveKit restart drops everyone). The caller's client may still find its way
        # back; if it does not within the grace period, the call ends as media_lost.
        await asyncio.sleep(OUTAGE_REJOIN_SECONDS)
        if config.participant_identity not in ctx.room.remote_participants:
            _end("media_lost")

    def _on_reconnected() -> None:
        nonlocal joins
        if ended.is_set():
            return
        present = config.participant_identity in ctx.room.remote_participants
        joins = 1 if present else 0  # a caller rejoining after an outage is no duplicate
        if not present:
            tasks.append(asyncio.create_task(_caller_lost_in_outage()))

    # a cache miss loads a model: seconds of blocking work, kept off the call's event loop
    engines = await asyncio.to_thread(factory.build, config)
    voice = await call_voice(config, base=engines.tts, channel=channel, settings=factory.settings)
    engines = dataclasses.replace(engines, tts=speaks_first_clause(voice.tts))
    session = build_session(engines)
    bridge = ChatBridge(
        room=ctx.room,
        session=session,
        channel=channel,
        session_id=session_id,
        caller_identity=config.participant_identity,
    )
    # subscribed before connecting: a caller who hangs up, or types, during start-up is seen
    bridge.attach()
    tasks: list[asyncio.Task[None]] = []
    ctx.room.on("participant_disconnected", _on_leave)
    ctx.room.on("participant_connected", _on_join)
    ctx.room.on("reconnected", _on_reconnected)
    ctx.room.on("disconnected", lambda why=None: _end(room_closed_reason(why)))
    await ctx.connect()
    try:
        await asyncio.wait_for(
            ctx.wait_for_participant(identity=config.participant_identity), timeout=15
        )
    except TimeoutError:
        return CallOutcome(reason="caller_left")
    joins = max(joins, 1)  # the caller may have been in the room before the agent came
    # recorded beside the greeting, not before it: the caller is waiting to hear something
    started = asyncio.create_task(channel.report_event(session_id, "started"))
    voice.attach(bridge.publish_event)  # a voice that fell back says so, now the caller is here
    alive = asyncio.create_task(channel.keep_alive(session_id))  # cancelled when it ends

    def _on_close(ev: CloseEvent) -> None:
        if not ended.is_set():
            log.warning("agent session closed: %s", ev.reason)
            _end(f"session_closed:{ev.reason}"[:64])

    session.on("close", _on_close)
    instructions = instructions_for(config)
    agent = knowledge_agent(
        instructions=instructions,
        channel=channel,
        factory=factory,
        session_id=session_id,
        searchable=config.has_knowledge,
        held=bridge.held,
    )
    speaking = asyncio.Event()

    def _on_agent_state(ev: AgentStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            speaking.set()

    session.on("agent_state_changed", _on_agent_state)
    await session.start(
        agent=agent,
        room=ctx.room,
        room_options=room_io.RoomOptions(
            # our text protocol is voice.user_text / voice.reply, handled by the bridge
            text_input=False,
            audio_input=not config.text_only,
            audio_output=not config.text_only,
            participant_identity=config.participant_identity,
            close_on_disconnect=False,
        ),
        record=False,
    )
    if config.greeting.strip():
        session.say(config.greeting.strip(), allow_interruptions=True)
    tools = await call_tools(config, factory=factory)  # MCP: a server that is down is skipped
    await agent.update_tools(tools.tools)
    bridge.start()
    warm = asyncio.create_task(
        warm_prompt_cache(engines, instructions, tools.tools, after=speaking)
    )
    try:
        await asyncio.wait_for(ended.wait(), timeout=config.max_call_seconds)
    except TimeoutError:
        _end("max_duration")  # set first: our own aclose() below is not another reason
    warm.cancel()
    alive.cancel()
    await started
    await bridge.drain()
    await session.aclose()
    await bridge.drain()
    usage = usage_summary(session, bridge)
    usage["knowledge"] = agent.usage()
    usage["tools"] = tools.usage()
    usage["voice"] = voice.usage()
    await tools.aclose()
    await engines.llm.aclose()  # an embedded model's KV cache goes back for the next call
    return CallOutcome(reason=reason, usage=usage)
