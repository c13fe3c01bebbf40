"""Bridges an AgentSession to the browser protocol and to the call record."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.llm import ChatMessage
from livekit.agents.voice.events import (
    AgentStateChangedEvent,
    ConversationItemAddedEvent,
    UserInputTranscribedEvent,
)

from vocable.worker import protocol
from vocable.worker.channel import WorkerChannel

log = logging.getLogger(__name__)

HELD_TYPED_GRACE_SECONDS = 2.0
"""A message typed while the caller talked waits this long after they stop for their spoken
turn to take it along; if no spoken turn comes (a cough, noise), it is answered alone."""


class HeldMessages:
    """Messages typed while the caller was talking, for the spoken turn to answer with it.

    Answering a typed message at once would be cut off a moment later by the spoken turn
    (each new turn interrupts the reply in progress), and the typed message would never be
    answered. Instead the spoken turn's message carries it (``KnowledgeAgent``), so the one
    reply addresses both.
    """

    def __init__(self) -> None:
        self._texts: list[str] = []

    def hold(self, text: str) -> None:
        self._texts.append(text)

    def take(self) -> list[str]:
        texts, self._texts = self._texts, []
        return texts

    def take_one(self, text: str) -> bool:
        """Remove ``text`` if it is still held (it was not taken by a spoken turn)."""
        if text in self._texts:
            self._texts.remove(text)
            return True
        return False


_METRIC_KEYS = (
    "end_of_turn_delay",
    "transcription_delay",
    "on_user_turn_completed_delay",
    "llm_node_ttft",
    "tts_node_ttfb",
    "e2e_latency",
    "started_speaking_at",
    "stopped_speaking_at",
)


def turn_metrics(item: ChatMessage) -> dict[str, float]:
    """The per-turn latency figures livekit-agents attached to a message, rounded."""
    report: dict[str, Any] = dict(item.metrics or {})
    return {k: round(float(report[k]), 4) for k in _METRIC_KEYS if report.get(k) is not None}


class ChatBridge:
    """Text chat in and out, transcripts out, and transcript turns to the API."""

    def __init__(
        self,
        *,
        room: rtc.Room,
        session: AgentSession[None],
        channel: WorkerChannel,
        session_id: str,
        caller_identity: str,
    ) -> None:
        self._room = room
        self.held = HeldMessages()
        self._session = session
        self._channel = channel
        self._session_id = session_id
        self._caller = caller_identity
        self._seq = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.turns_reported = 0
        self.ignored_messages = 0
        # typed messages that arrive before the agent session runs wait here
        self._early: list[str] | None = []

    def attach(self) -> None:
        self._room.on("data_received", self._on_data)
        self._session.on("user_input_transcribed", self._on_transcribed)
        self._session.on("conversation_item_added", self._on_item)
        self._session.on("agent_state_changed", self._on_state)

    # --- inbound ----------------------------------------------------------------------

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != protocol.TOPIC_USER_TEXT:
            return
        sender = packet.participant.identity if packet.participant else None
        text = protocol.parse_user_text(packet.data) if sender == self._caller else None
        if text is None:
            self.ignored_messages += 1
            # no content in the log: it may be personal data
            log.warning("ignored a data message", extra={"bytes": len(packet.data)})
            return
        if self._early is not None:
            self._early.append(text)
            return
        if self._session.user_state == "speaking":
            self.held.hold(text)
            self._spawn(self._publish(protocol.TOPIC_REPLY, protocol.user_text(text)))
            self._spawn(self._answer_if_still_held(text))
            return
        self._answer(text)

    async def _answer_if_still_held(self, text: str) -> None:
        while self._session.user_state == "speaking":
            await asyncio.sleep(0.1)
        await asyncio.sleep(HELD_TYPED_GRACE_SECONDS)
        if self.held.take_one(text):
            self._answer(text, echo=False)

    def start(self) -> None:
        """The agent session is running: answer, in order, what was typed before."""
        early, self._early = self._early or [], None
        for text in early:
            self._answer(text)

    def _answer(self, text: str, *, echo: bool = True) -> None:
        try:
            self._session.reset_away_timer()  # typing is being there (silence timeout)
            self._session.interrupt()
            self._session.generate_reply(user_input=text.strip())
        except RuntimeError:
            # the agent session is starting or closing: the message cannot be answered,
            # so it is not echoed either (the caller sees it was not taken)
            self.ignored_messages += 1
            log.warning("a message arrived while the agent was not running")
            return
        if echo:
            self._spawn(self._publish(protocol.TOPIC_REPLY, protocol.user_text(text)))

    # --- outbound ---------------------------------------------------------------------

    def _on_transcribed(self, ev: UserInputTranscribedEvent) -> None:
        text = ev.transcript.strip()
        if not text:
            return
        if ev.is_final:
            self._spawn(self._publish(protocol.TOPIC_REPLY, protocol.user_text(text)))
        else:
            self._spawn(self._publish(protocol.TOPIC_EVENTS, protocol.event("interim", text=text)))

    def _on_item(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if not isinstance(item, ChatMessage) or item.role not in ("user", "assistant"):
            return
        text = (item.text_content or "").strip()
        if not text:
            return
        if item.role == "assistant":
            reply = protocol.agent_text(text, interrupted=bool(item.interrupted))
            self._spawn(self._publish(protocol.TOPIC_REPLY, reply))
        seq = self._seq
        self._seq += 1
        role = "agent" if item.role == "assistant" else "user"
        metrics: dict[str, Any] = turn_metrics(item)
        if item.interrupted:
            metrics["interrupted"] = True
        self._spawn(self._record(seq, role, text, metrics))

    def _on_state(self, ev: AgentStateChangedEvent) -> None:
        self._spawn(
            self._publish(protocol.TOPIC_EVENTS, protocol.event("agent_state", state=ev.new_state))
        )

    def publish_event(self, payload: bytes) -> None:
        """Send one ``voice.events`` frame to the browser (in the background)."""
        self._spawn(self._publish(protocol.TOPIC_EVENTS, payload))

    # --- plumbing ---------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, topic: str, payload: bytes) -> None:
        try:
            await self._room.local_participant.publish_data(payload, reliable=True, topic=topic)
        except rtc.ConnectError:
            log.info("room closed before a message could be sent")
        except Exception:
            log.exception("publishing a data message failed")

    async def _record(self, seq: int, role: str, text: str, metrics: dict[str, Any]) -> None:
        for attempt in range(3):
            try:
                await self._channel.report_turn(
                    self._session_id, seq=seq, role=role, text=text, metrics=metrics
                )
                self.turns_reported += 1
                return
            except Exception:  # noqa: BLE001 - task boundary: retried, then logged
                await asyncio.sleep(0.5 * (attempt + 1))
        log.error("could not record a transcript turn", extra={"seq": seq})

    async def drain(self, timeout: float = 15.0) -> None:
        """Wait for outstanding publishes and turn reports (the call record must be whole)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
