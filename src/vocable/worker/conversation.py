"""An agent's conversation settings at work during one call: reminders when the caller
goes quiet, end-call phrases, the built-in call tools, and hanging up with a goodbye.

The settings that the framework runs itself (interruptions, the silence timer, the LLM's
temperature and reply length) are passed to it in ``call.build_session`` and
``EngineFactory.build``; what is here is what happens when those fire.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from livekit.agents import AgentSession, RunContext
from livekit.agents.llm import ChatMessage, Tool, function_tool
from livekit.agents.voice.events import ConversationItemAddedEvent, UserStateChangedEvent

from vocable.contracts.conversation import CallTools, ConversationSettings
from vocable.worker import protocol

log = logging.getLogger(__name__)

GOODBYE_PLAYOUT_SECONDS = 20.0
"""The longest a goodbye may take to play before the call ends anyway."""

# why a call ended, as the call record says it
SILENCE_TIMEOUT = "silence_timeout"
END_CALL_PHRASE = "end_call_phrase"
AGENT_ENDED = "agent_ended"
TRANSFERRED = "transferred"

_WORD = re.compile(r"[\w']+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))  # a typographic apostrophe


def says_phrase(text: str, phrases: list[str]) -> bool:
    """Whether ``text`` contains one of ``phrases`` as whole words, in order (punctuation
    and case aside: "OK, bye!" says "bye"; "goodbye" does not)."""
    said = words(text)
    for phrase in phrases:
        wanted = words(phrase)
        n = len(wanted)
        if n and any(said[i : i + n] == wanted for i in range(len(said) - n + 1)):
            return True
    return False


class Conversation:
    """One call's conversation rules; ``end`` ends the call with a reason."""

    def __init__(
        self,
        settings: ConversationSettings,
        call_tools: CallTools,
        *,
        session: AgentSession[None],
        publish_event: Callable[[bytes], None],
        end: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self._call_tools = call_tools
        self._session = session
        self._publish_event = publish_event
        self._end = end
        self._reminders = 0
        self._reminders_said = 0
        self._hanging_up = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.handoff: dict[str, str] | None = None
        """The transfer the agent asked for, if it did (reported with the call's usage)."""

    def attach(self) -> None:
        self._session.on("user_state_changed", self._on_user_state)
        self._session.on("conversation_item_added", self._on_item)

    @property
    def greets_first(self) -> bool:
        return self.settings.first_message == "agent"

    # --- the caller goes quiet -----------------------------------------------------------

    def _on_user_state(self, ev: UserStateChangedEvent) -> None:
        if ev.new_state == "speaking":
            self._reminders = 0
        if ev.new_state != "away" or self._hanging_up:
            return
        if self._reminders < self.settings.silence_reminders:
            self._reminders += 1
            self._reminders_said += 1
            self._session.say(self.settings.silence_reminder)
            # away → listening: the timer starts again once the reminder has been said
            self._session.reset_away_timer()
            return
        self.hang_up(SILENCE_TIMEOUT)

    def _on_item(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if isinstance(item, ChatMessage) and item.role == "user":
            self._reminders = 0  # a typed message counts as the caller being there

    # --- the caller says goodbye ---------------------------------------------------------

    def ends_on(self, text: str) -> bool:
        """Called with the caller's message before the LLM answers it: an end-call phrase
        hangs up (with the goodbye) instead of an answer."""
        if self._hanging_up or not says_phrase(text, self.settings.end_call_phrases):
            return False
        self.hang_up(END_CALL_PHRASE)
        return True

    # --- built-in tools ------------------------------------------------------------------

    def tools(self) -> list[Tool]:
        """The built-in tools the agent has switched on, as the LLM sees them."""
        tools: list[Tool] = []
        if self._call_tools.end_call.enabled:
            tools.append(
                function_tool(
                    self._end_call_tool,
                    name="end_call",
                    description=self._call_tools.end_call.description,
                )
            )
        if self._call_tools.transfer_to_human.enabled:
            tools.append(
                function_tool(
                    self._transfer_tool,
                    name="transfer_to_human",
                    description=self._call_tools.transfer_to_human.description,
                )
            )
        return tools

    async def _end_call_tool(self, context: RunContext[None]) -> None:
        """Returns nothing: the LLM says no more; the goodbye follows this turn."""
        self._after(context, lambda: self.hang_up(AGENT_ENDED))

    async def _transfer_tool(self, context: RunContext[None], reason: str, summary: str) -> None:
        """
        Args:
            reason: Why the caller needs a person, in a few words.
            summary: One sentence on what the caller wants and what was said so far.
        """
        self.handoff = {"reason": reason.strip()[:300], "summary": summary.strip()[:1000]}
        self._publish_event(protocol.event("handoff", **self.handoff))
        message = self._call_tools.transfer_to_human.message
        self._after(context, lambda: self.hang_up(TRANSFERRED, message))

    def _after(self, context: RunContext[None], then: Callable[[], None]) -> None:
        """Run ``then`` once the turn that called the tool is done."""
        context.speech_handle.add_done_callback(lambda _: then())

    # --- hanging up ----------------------------------------------------------------------

    def hang_up(self, reason: str, line: str | None = None) -> None:
        """Say ``line`` (the goodbye by default), then end the call as ``reason``."""
        if self._hanging_up:
            return
        self._hanging_up = True
        task = asyncio.ensure_future(self._say_and_end(reason, line or self.settings.goodbye))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _say_and_end(self, reason: str, line: str) -> None:
        try:
            handle = self._session.say(line, allow_interruptions=False)
            await asyncio.wait_for(handle.wait_for_playout(), timeout=GOODBYE_PLAYOUT_SECONDS)
        except (RuntimeError, TimeoutError) as e:
            log.warning("the goodbye was not played: %s", type(e).__name__)
        self._end(reason)

    def usage(self) -> dict[str, Any]:
        return {"silence_reminders": self._reminders_said, "handoff": self.handoff}

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
