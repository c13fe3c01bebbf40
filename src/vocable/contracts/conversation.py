"""How an agent converses: who speaks first, interruptions, silence, ending the call and
the LLM's temperature and reply length. Stored on the agent, frozen into each session,
honoured by the worker."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from vocable.contracts.fields import NoNul

MAX_END_CALL_PHRASES = 20

Line = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), NoNul]
"""Something the agent says (a reminder, a goodbye)."""


def _phrases(value: list[str]) -> list[str]:
    cleaned: list[str] = []
    for phrase in value:
        text = " ".join(phrase.split()).lower()
        if not text:
            raise ValueError("phrases must not be empty")
        if len(text) > 100 or "\x00" in text:
            raise ValueError("each phrase must be at most 100 characters without NUL")
        if text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_END_CALL_PHRASES:
        raise ValueError(f"at most {MAX_END_CALL_PHRASES} phrases")
    return cleaned


EndCallPhrases = Annotated[list[str], AfterValidator(_phrases)]


class ConversationSettings(BaseModel):
    """Every field has a default, so an agent saved before these existed (``{}``) and a
    partial update both read as complete settings."""

    model_config = ConfigDict(extra="forbid")

    first_message: Literal["agent", "caller"] = "agent"
    """``agent``: the agent greets as soon as the caller joins; ``caller``: it waits
    for the caller to speak (or type) first and says no greeting."""
    interruptions: bool = True
    """Whether the caller's speech stops the agent mid-reply (barge-in)."""
    interruption_min_seconds: Annotated[float, Field(ge=0.1, le=5.0)] = 0.4
    """How long the caller must speak over the agent to interrupt it."""
    interruption_min_words: Annotated[int, Field(ge=0, le=10)] = 0
    """How many recognised words it takes to interrupt (0: speech alone is enough)."""
    silence_timeout_seconds: Annotated[int, Field(ge=5, le=600)] | None = None
    """After this long with nobody speaking, the agent says ``silence_reminder``;
    ``null``: never."""
    silence_reminder: Line = "Are you still there?"
    silence_reminders: Annotated[int, Field(ge=0, le=5)] = 2
    """Reminders before the agent says ``goodbye`` and ends the call."""
    end_call_phrases: EndCallPhrases = Field(default_factory=list)
    """When the caller says (or types) one of these, the agent says ``goodbye`` and
    ends the call. Matched as whole words, case-insensitive."""
    goodbye: Line = "Goodbye!"
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.4
    """The LLM's sampling temperature (replies that call tools are decoded greedily)."""
    max_reply_tokens: Annotated[int, Field(ge=16, le=1024)] = 160
    """The most tokens one reply may have (a spoken reply of 160 tokens is ~45 s)."""


def merged(saved: dict[str, object], change: ConversationSettings) -> ConversationSettings:
    """``saved`` settings with the fields ``change`` was given (an update names only what
    it changes; ``null`` is a value, e.g. no silence timeout)."""
    base = ConversationSettings.model_validate(saved)
    return base.model_copy(update={name: getattr(change, name) for name in change.model_fields_set})


OverridableField = Literal["system_prompt", "greeting", "language", "voice", "variables"]
OVERRIDABLE: tuple[OverridableField, ...] = (
    "system_prompt",
    "greeting",
    "language",
    "voice",
    "variables",
)
"""What a session may override when the agent says nothing else: all the guide allows
(``voice`` is ``reference_audio_url`` and ``voice_model``; ``variables`` is metadata
filling the prompt's and greeting's ``{{placeholders}}``)."""
