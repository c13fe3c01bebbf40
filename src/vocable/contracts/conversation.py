"""How an agent converses: who speaks first, interruptions, silence, ending the call and
the LLM's temperature and reply length. Stored on the agent, frozen into each session,
honoured by the worker."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

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


Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), NoNul
]
"""What the LLM reads about a tool: when to call it."""

END_CALL_DESCRIPTION = (
    "End the call. Call it only when the caller clearly says they are done (for example "
    "'that is all, bye'), never when they ask to wait or are unsure. Say nothing else."
)
TRANSFER_DESCRIPTION = (
    "Hand the caller over to a human colleague. Call it when the caller asks for a person, "
    "or when you cannot help them. Give the reason and a one-sentence summary of the call."
)


class EndCallTool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    description: Description = END_CALL_DESCRIPTION


class TransferTool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    description: Description = TRANSFER_DESCRIPTION
    message: Line = "Let me connect you with a colleague. One moment, please."
    """What the agent says before handing over (then the call ends as ``transferred``)."""


class CallTools(BaseModel):
    """Tools every agent can switch on: no server of the business needed."""

    model_config = ConfigDict(extra="forbid")

    end_call: EndCallTool = Field(default_factory=EndCallTool)
    transfer_to_human: TransferTool = Field(default_factory=TransferTool)


M = TypeVar("M", bound=BaseModel)


def merged(saved: dict[str, Any], change: M) -> M:
    """``saved`` settings with the fields ``change`` was given, nested models field by
    field (an update names only what it changes; ``null`` is a value, e.g. no silence
    timeout)."""
    base = type(change).model_validate(saved)
    return _merge(base, change)


def _merge(base: M, change: M) -> M:
    update: dict[str, Any] = {}
    for name in change.model_fields_set:
        new = getattr(change, name)
        old = getattr(base, name)
        update[name] = (
            _merge(old, new) if isinstance(new, BaseModel) and isinstance(old, BaseModel) else new
        )
    return base.model_copy(update=update)


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
