"""What an agent is made of, as its create and update requests carry it."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from vocable.contracts import catalog
from vocable.contracts.conversation import (
    OVERRIDABLE,
    CallTools,
    ConversationSettings,
    OverridableField,
)
from vocable.contracts.fields import (
    Greeting,
    HttpUrlStr,
    LanguageTag,
    LlmEngine,
    MaxCallSeconds,
    Name,
    Prompt,
    SttEngine,
    TimeZone,
    TtsEngine,
    VariableDefaults,
    VoiceId,
    VoiceModelChoice,
)
from vocable.contracts.variables import unknown_system_names


def _check_system_names(prompt: str | None, greeting: str | None) -> None:
    wrong = unknown_system_names(prompt or "", greeting or "")
    if wrong:
        raise ValueError(
            "unknown system variables "
            + ", ".join("{{" + n + "}}" for n in wrong)
            + "; there are system.date, system.time, system.timezone and system.language"
        )


def _overrides(value: list[OverridableField]) -> list[OverridableField]:
    return [name for name in OVERRIDABLE if name in value]  # one order, no repeats


SessionOverrides = Annotated[list[OverridableField], AfterValidator(_overrides)]


class AgentBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _system_variables_exist(self) -> AgentBase:
        _check_system_names(getattr(self, "system_prompt", None), getattr(self, "greeting", None))
        return self


class AgentCreate(AgentBase):
    name: Name
    system_prompt: Prompt = "You are a helpful voice assistant. Keep answers short."
    greeting: Greeting = "Hello! How can I help you today?"
    language: LanguageTag = "en"
    reference_audio_url: HttpUrlStr | None = None
    """Fetched, checked and stored as the agent's voice when the agent is created."""
    voice_id: VoiceId | None = None
    """An existing voice of the organisation (instead of ``reference_audio_url``)."""
    stt_engine: SttEngine = catalog.DEFAULTS["stt"]
    llm_engine: LlmEngine = catalog.DEFAULTS["llm"]
    tts_engine: TtsEngine = catalog.DEFAULTS["tts"]
    voice_model: VoiceModelChoice = None
    """``None``: the deployment's default (``VOCABLE_DEFAULT_VOICE_MODEL``)."""
    max_call_seconds: MaxCallSeconds = 900
    active: bool = True
    timezone: TimeZone = "UTC"
    """Where ``{{system.date}}`` and ``{{system.time}}`` are told."""
    variable_defaults: VariableDefaults = Field(default_factory=dict)
    """Values for ``{{variables}}`` a session's ``metadata`` leaves out."""
    conversation: ConversationSettings = Field(default_factory=ConversationSettings)
    call_tools: CallTools = Field(default_factory=CallTools)
    session_overrides: SessionOverrides = Field(default_factory=lambda: list(OVERRIDABLE))
    """What a session request may override; anything else is refused with a 403."""


class AgentUpdate(AgentBase):
    """Partial update: fields left out stay as they are.

    A ``reference_audio_url`` is fetched and becomes the agent's voice; ``null`` clears
    it (and the voice fetched from it). ``voice_id`` links an existing voice of the
    organisation; ``null`` unlinks the agent's voice.
    """

    name: Name | None = None
    system_prompt: Prompt | None = None
    greeting: Greeting | None = None
    language: LanguageTag | None = None
    reference_audio_url: HttpUrlStr | None = None
    voice_id: VoiceId | None = None
    stt_engine: SttEngine | None = None
    llm_engine: LlmEngine | None = None
    tts_engine: TtsEngine | None = None
    voice_model: VoiceModelChoice = None
    """``null`` returns the agent to the deployment's default voice engine."""
    max_call_seconds: MaxCallSeconds | None = None
    active: bool | None = None
    timezone: TimeZone | None = None
    variable_defaults: VariableDefaults | None = None
    conversation: ConversationSettings | None = None
    """Only the settings given change; the others keep their saved values."""
    call_tools: CallTools | None = None
    """As ``conversation``: only what is given changes."""
    session_overrides: SessionOverrides | None = None
