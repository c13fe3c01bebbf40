"""Parsing of browser messages on ``voice.user_text``."""

from __future__ import annotations

import json

import pytest

from vocable.worker import protocol


def test_user_text_is_returned_exactly_as_sent() -> None:
    payload = json.dumps({"type": "user_text", "text": "  Hello there "}).encode()
    assert protocol.parse_user_text(payload) == "  Hello there "


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xff\xfe",
        b"null",
        b"[]",
        b'"user_text"',
        b'{"type": "user_text"}',
        b'{"type": "user_text", "text": ""}',
        b'{"type": "user_text", "text": "   "}',
        b'{"type": "user_text", "text": 7}',
        b'{"type": "agent_text", "text": "hi"}',
        b'{"text": "hi"}',
        json.dumps({"type": "user_text", "text": "a" * 4001}).encode(),
        b"[" * 100_000,
        b'{"type": "user_text", "text": "' + b"a" * 20_000 + b'"}',
        b'{"type": "user_text", "text": "hi \\udfff there"}',  # found by the fuzzer
        b'{"type": "user_text", "text": "a\\u0000b"}',
    ],
)
def test_malformed_or_oversized_messages_are_refused(payload: bytes) -> None:
    assert protocol.parse_user_text(payload) is None


def test_replies_are_compact_utf8_json() -> None:
    assert json.loads(protocol.agent_text("¡Hola!")) == {"type": "agent_text", "text": "¡Hola!"}
    assert "¡" in protocol.user_text("¡Hola!").decode()
