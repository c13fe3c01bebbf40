"""The browser protocol on LiveKit data packets (see docs/protocol.md).

- ``voice.user_text`` (browser → agent): ``{"type": "user_text", "text": ...}``.
- ``voice.reply`` (agent → browser): chat bubbles only. ``{"type": "user_text", "text"}``
  echoes typed messages (exact text as sent) and carries final transcripts of speech;
  ``{"type": "agent_text", "text"}`` is one agent turn (``"interrupted": true`` when the
  caller talked over it: the text is then what was spoken before it stopped).
- ``voice.events`` (agent → browser): everything that is not a bubble: agent state,
  interim transcripts, warnings.
"""

from __future__ import annotations

import json
from typing import Any

TOPIC_USER_TEXT = "voice.user_text"
TOPIC_REPLY = "voice.reply"
TOPIC_EVENTS = "voice.events"

MAX_PAYLOAD_BYTES = 16_384
MAX_TEXT_CHARS = 4_000


def parse_user_text(payload: bytes) -> str | None:
    """The text of a well-formed ``user_text`` message, exactly as sent; else ``None``.

    Oversized, non-JSON, non-object, wrongly typed, empty or over-long messages are refused,
    and so are texts with NUL or lone surrogates.
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("type") != "user_text":
        return None
    text = data.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_CHARS:
        return None
    if "\x00" in text or not _encodable(text):
        # JSON escapes can carry NUL and lone surrogates ("\\ud800"): the echo, the LLM
        # and the call record cannot take them (a lone surrogate ended the call)
        return None
    return text


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def user_text(text: str) -> bytes:
    return encode({"type": "user_text", "text": text})


def agent_text(text: str, *, interrupted: bool = False) -> bytes:
    """One agent turn; an interrupted one holds only what the caller heard, and says so."""
    message: dict[str, Any] = {"type": "agent_text", "text": text}
    if interrupted:
        message["interrupted"] = True
    return encode(message)


def event(kind: str, **fields: Any) -> bytes:
    return encode({"type": kind, **fields})
