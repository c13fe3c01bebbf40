"""The session's effective configuration as it is stored and read back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vocable.contracts.sessions import SessionConfig

# exactly what the API stored before the configuration had a version (2026-11)
UNVERSIONED_ROW = {
    "language": "en",
    "system_prompt": "You are the receptionist.",
    "greeting": "Hello!",
    "reference_audio_url": None,
    "reference_audio_sha256": None,
    "voice_id": None,
    "voice_model": None,
    "stt_engine": "auto",
    "llm_engine": "qwen2.5-1.5b",
    "tts_engine": "auto",
    "max_call_seconds": 900,
    "metadata": {"customer": "42"},
    "origin_url": None,
    "text_only": False,
}


def test_a_row_written_before_versions_still_loads() -> None:
    config = SessionConfig.from_stored(UNVERSIONED_ROW)
    assert config.version == 1
    assert config.system_prompt == "You are the receptionist."
    assert config.metadata == {"customer": "42"}


def test_what_is_stored_reads_back_the_same() -> None:
    config = SessionConfig.from_stored(UNVERSIONED_ROW)
    stored = config.stored()
    assert stored["version"] == 1
    assert SessionConfig.from_stored(stored) == config


def test_a_row_missing_a_required_setting_is_refused() -> None:
    broken = {k: v for k, v in UNVERSIONED_ROW.items() if k != "llm_engine"}
    with pytest.raises(ValidationError, match="llm_engine"):
        SessionConfig.from_stored(broken)
