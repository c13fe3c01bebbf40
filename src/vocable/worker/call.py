"""One call: configure an AgentSession from the session's effective config and run it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import langcodes
from livekit import rtc
from livekit.agents import AgentSession, APIError, JobContext
from livekit.agents.llm import ChatContext
from livekit.agents.voice import room_io
from livekit.agents.voice.events import AgentStateChangedEvent, CloseEvent

from vocable.contracts.conversation import ConversationSettings
from vocable.contracts.sessions import WorkerSessionConfig
from vocable.providers.llama_llm import LlamaLLM
from vocable.providers.registry import EngineFactory, Engines
from vocable.providers.speech_chunks import speaks_first_clause
from vocable.worker.bridge import ChatBridge
from vocable.worker.channel import WorkerChannel
from vocable.worker.conversation import Conversation
from vocable.worker.knowledge import knowledge_agent
from vocable.worker.tools import CallTools, call_tools
from vocable.worker.voice import call_voice

log = logging.getLogger(__name__)

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


def build_session(
    engines: Engines, conversation: ConversationSettings | None = None
) -> AgentSession[None]:
    """The framework's session with the agent's interruption and silence settings."""
    conversation = conversation or ConversationSettings()
    return AgentSession(
        stt=engines.stt,
        llm=engines.llm,
        tts=engines.tts,
        vad=engines.vad,
        turn_handling={
            # VAD endpointing: our Whisper stream hands its transcript over just before
            # the VAD's silence ends the turn, and nothing may reach a cloud service (the
            # adaptive modes are LiveKit Cloud only)
            "turn_detection": "vad",
            "endpointing": {"min_delay": 0.35, "max_delay": 2.0},
            "interruption": {
                "enabled": conversation.interruptions,
                "mode": "vad",
                "min_duration": conversation.interruption_min_seconds,
                "min_words": conversation.interruption_min_words,
            },
            "preemptive_generation": {"enabled": False},
        },
        # the caller's silence: Conversation reminds, then hangs up
        user_away_timeout=conversation.silence_timeout_seconds,
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


class Call:
    """One call, from the session's configuration to its outcome.

    Its life: :meth:`prepare` (configuration, engines, voice, agent session),
    :meth:`connect` (join the room and wait for the caller), :meth:`greet` (start the
    agent, whose ``on_enter`` speaks the greeting), :meth:`converse` (until the caller
    leaves, the room closes or time runs out) and :meth:`finish` (the one cleanup path:
    cancel what the call started, drain, report usage). :meth:`run` does them in order.
    """

    def __init__(
        self, ctx: JobContext, channel: WorkerChannel, factory: EngineFactory, session_id: str
    ) -> None:
        self._ctx = ctx
        self._channel = channel
        self._factory = factory
        self._session_id = session_id
        self._ended = asyncio.Event()
        self._reason = "max_duration"
        self._joins = 0
        self._tasks: list[asyncio.Task[Any]] = []
        self._reports: list[asyncio.Task[Any]] = []  # call record writes: awaited, not cancelled
        self._speaking = asyncio.Event()

    async def run(self) -> CallOutcome:
        """Greet, converse until the caller leaves or time runs out; say why it ended."""
        await self.prepare()
        try:
            if not await self.connect():
                self._end("caller_left")
                return CallOutcome(reason=self._reason)
            await self.greet()
            await self.converse()
        finally:
            usage = await self.finish()
        return CallOutcome(reason=self._reason, usage=usage)

    # --- the life cycle ---------------------------------------------------------------

    async def prepare(self) -> None:
        """The session's configuration, its engines and voice, and the agent session."""
        self.config = config = await self._channel.session_config(self._session_id)
        # a cache miss loads a model: seconds of blocking work, kept off the call's loop
        engines = await asyncio.to_thread(self._factory.build, config)
        self.voice = await call_voice(
            config, base=engines.tts, channel=self._channel, settings=self._factory.settings
        )
        self.engines = dataclasses.replace(engines, tts=speaks_first_clause(self.voice.tts))
        self.session = build_session(self.engines, config.conversation)
        self.bridge = ChatBridge(
            room=self._ctx.room,
            session=self.session,
            channel=self._channel,
            session_id=self._session_id,
            caller_identity=config.participant_identity,
        )
        self.conversation = Conversation(
            config.conversation,
            config.call_tools,
            session=self.session,
            publish_event=self.bridge.publish_event,
            end=self._end,
        )
        self.instructions = instructions_for(config)
        self.agent = knowledge_agent(
            instructions=self.instructions,
            channel=self._channel,
            factory=self._factory,
            session_id=self._session_id,
            searchable=config.has_knowledge,
            held=self.bridge.held,
            greeting=config.greeting.strip() if self.conversation.greets_first else "",
            ends_on=self.conversation.ends_on if config.conversation.end_call_phrases else None,
        )
        self.tools: CallTools | None = None

    async def connect(self) -> bool:
        """Join the room and wait for the caller; ``False`` if they never came."""
        room = self._ctx.room
        # subscribed before connecting: a caller who hangs up, or types, during start-up
        # is seen
        self.bridge.attach()
        room.on("participant_disconnected", self._on_leave)
        room.on("participant_connected", self._on_join)
        room.on("reconnected", self._on_reconnected)
        room.on("disconnected", self._on_disconnected)
        await self._ctx.connect()
        try:
            await asyncio.wait_for(
                self._ctx.wait_for_participant(identity=self.config.participant_identity),
                timeout=15,
            )
        except TimeoutError:
            return False
        self._joins = max(self._joins, 1)  # the caller may have been there before the agent
        # recorded beside the greeting, not before it: the caller is waiting to hear it
        self._reports.append(
            asyncio.create_task(self._channel.report_event(self._session_id, "started"))
        )
        self.voice.attach(self.bridge.publish_event)  # a fallen-back voice says so now
        self._spawn(self._channel.keep_alive(self._session_id))
        return True

    async def greet(self) -> None:
        """Start the agent session (its agent greets on entering), then its tools."""
        config = self.config
        self.session.on("close", self._on_close)
        self.session.on("agent_state_changed", self._on_agent_state)
        self.conversation.attach()
        await self.session.start(
            agent=self.agent,
            room=self._ctx.room,
            room_options=room_io.RoomOptions(
                # our text protocol is voice.user_text / voice.reply, handled by the bridge
                text_input=False,
                # no automatic gain on our side: livekit-agents turns it on by default,
                # and on a caller's normal level it doubled the speech into clipping
                # ("help me with today" came back as "help me, Winter Day"); Whisper
                # normalises its own input, and browsers already apply their own gain
                audio_input=(
                    False
                    if config.text_only
                    else room_io.AudioInputOptions(auto_gain_control=False)
                ),
                audio_output=not config.text_only,
                participant_identity=config.participant_identity,
                close_on_disconnect=False,
            ),
            record=False,
        )
        # MCP: a server that is down is skipped
        self.tools = await call_tools(config, factory=self._factory)
        tools = [*self.conversation.tools(), *self.tools.tools]
        await self.agent.update_tools(tools)
        self.bridge.start()
        self._spawn(warm_prompt_cache(self.engines, self.instructions, tools, after=self._speaking))

    async def converse(self) -> None:
        """Until the call ends, or its maximum duration passes."""
        try:
            await asyncio.wait_for(self._ended.wait(), timeout=self.config.max_call_seconds)
        except TimeoutError:
            self._end("max_duration")  # set first: our own aclose() is not another reason

    async def finish(self) -> dict[str, Any]:
        """Stop everything the call started, let the record catch up, and sum up usage."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*self._reports, return_exceptions=True)
        await self.conversation.aclose()
        await self.bridge.drain()
        await self.session.aclose()
        await self.bridge.drain()
        usage = usage_summary(self.session, self.bridge)
        usage["knowledge"] = self.agent.usage()
        usage["voice"] = self.voice.usage()
        usage["conversation"] = self.conversation.usage()
        if self.tools is not None:
            usage["tools"] = self.tools.usage()
            await self.tools.aclose()
        # an embedded model's KV cache goes back for the next call
        await self.engines.llm.aclose()
        return usage

    # --- events -------------------------------------------------------------------------

    def _end(self, why: str) -> None:
        if not self._ended.is_set():
            self._reason = why
            self._ended.set()

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        self._tasks.append(asyncio.create_task(work))

    def _on_join(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self.config.participant_identity:
            self._joins += 1

    def _on_leave(self, participant: rtc.RemoteParticipant) -> None:
        if participant.identity != self.config.participant_identity or self._ended.is_set():
            return
        if participant.disconnect_reason == rtc.DisconnectReason.DUPLICATE_IDENTITY:
            self._end("duplicate_join")
            return
        if self._ctx.room.connection_state != rtc.ConnectionState.CONN_CONNECTED:
            # reconnecting to LiveKit unwinds every participant: not the caller leaving.
            # Either the room comes back (see _on_reconnected) or it is lost.
            return
        self._spawn(self._caller_gone())

    async def _caller_gone(self) -> None:
        # LiveKit lets a second join with the same token replace the first (the old one
        # leaves, the new one arrives, in either order). A session is joined once: that
        # ends the call for both instead of handing it over, and the record says so.
        await asyncio.sleep(REJOIN_GRACE_SECONDS)
        identity = self.config.participant_identity
        back = self._joins > 1 or identity in self._ctx.room.remote_participants
        self._end("duplicate_join" if back else "caller_left")

    def _on_reconnected(self) -> None:
        if self._ended.is_set():
            return
        present = self.config.participant_identity in self._ctx.room.remote_participants
        self._joins = 1 if present else 0  # a caller rejoining after an outage: no duplicate
        if not present:
            self._spawn(self._caller_lost_in_outage())

    async def _caller_lost_in_outage(self) -> None:
        # the connection to LiveKit came back without the caller: the media was lost (a
        # LiveKit restart drops everyone). The caller's client may still find its way
        # back; if it does not within the grace period, the call ends as media_lost.
        await asyncio.sleep(OUTAGE_REJOIN_SECONDS)
        if self.config.participant_identity not in self._ctx.room.remote_participants:
            self._end("media_lost")

    def _on_disconnected(self, why: rtc.DisconnectReason.ValueType | None = None) -> None:
        self._end(room_closed_reason(why))

    def _on_close(self, ev: CloseEvent) -> None:
        if not self._ended.is_set():
            log.warning("agent session closed: %s", ev.reason)
            self._end(f"session_closed:{ev.reason}"[:64])

    def _on_agent_state(self, ev: AgentStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            self._speaking.set()


async def run_call(
    ctx: JobContext, channel: WorkerChannel, factory: EngineFactory, session_id: str
) -> CallOutcome:
    """Run one call (:class:`Call`) and say why it ended."""
    return await Call(ctx, channel, factory, session_id).run()
