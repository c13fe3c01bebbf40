"""Field rules shared by the agent and session APIs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vocable.contracts.agents import AgentCreate
from vocable.contracts.fields import file_name
from vocable.contracts.languages import normalise_language
from vocable.contracts.sessions import SessionRequest


@pytest.mark.parametrize(
    ("tag", "normal"),
    [("en", "en"), ("EN-us", "en-US"), ("es-419", "es-419"), ("zh-Hant", "zh-Hant")],
)
def test_valid_language_tags_are_normalised(tag: str, normal: str) -> None:
    assert normalise_language(tag) == normal


@pytest.mark.parametrize("tag", ["", "english", "e", "en-US-x-" + "a" * 40, "123"])
def test_invalid_language_tags_are_refused(tag: str) -> None:
    with pytest.raises(ValueError, match="BCP-47"):
        normalise_language(tag)


def test_unknown_engine_is_refused_when_the_agent_is_saved() -> None:
    with pytest.raises(ValidationError) as exc:
        AgentCreate(name="a", tts_engine="cloud-magic")
    assert exc.value.errors()[0]["loc"] == ("tts_engine",)


def test_empty_greeting_override_is_kept_as_no_greeting() -> None:
    assert SessionRequest(agent="agt_x", greeting="").greeting == ""


def test_whisper_language_list_matches_the_installed_engine() -> None:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    from vocable.contracts.catalog import WHISPER_LANGUAGES

    assert set(_LANGUAGE_CODES) == WHISPER_LANGUAGES


@pytest.mark.parametrize(
    ("engine", "language", "ok"),
    [
        ("auto", "en-US", True),
        ("auto", "es-419", True),
        ("whisper-base", "nb-NO", True),
        ("auto", "zh-Hant-TW", True),
        ("auto", "ga", False),
        ("whisper-tiny-en", "zu", False),
        ("openai-compatible", "ga", True),
    ],
)
def test_stt_language_support(engine: str, language: str, ok: bool) -> None:
    from vocable.contracts.catalog import stt_supports

    assert stt_supports(engine, language) is ok


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\clip.wav", "clip.wav"),
        ("line\nbreak\x00\x7f.md", "line break .md"),
        ("   ", "fallback"),
        (None, "fallback"),
        ("x" * 300, "x" * 120),
    ],
)
def test_file_names_are_names_never_paths(raw: str | None, shown: str) -> None:
    assert file_name(raw, "fallback") == shown
