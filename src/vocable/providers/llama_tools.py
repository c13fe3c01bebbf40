"""Tool calls for the embedded LLM: offering tools to the model and reading its calls back.

Qwen2.5's chat template renders the tools into the system prompt and asks for
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``. The small packaged models
often answer with bare JSON instead, or wrap it in a code fence, or put the arguments
beside the name; ``parse_tool_calls`` accepts all of those. ``ToolCallSplitter`` decides,
while tokens stream, which text is speech (forwarded at once) and which is a tool call
(held back, so the caller never hears JSON read aloud).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import json_repair

TOOL_HINT = (
    "If a tool can answer the next message, reply with only "
    '<tool_call>{"name": ..., "arguments": {...}}</tool_call>. '
    "Never describe a tool call in words."
)
"""Said right before the caller's newest message when tools are offered. Placed in the
system prompt, the 1.5B model described the call in words ("I'll call get_order_status")
on 3 of 3 tries; placed here it made the call 2 of 2 times and answered a question no
tool covered in plain text."""
ANSWER_HINT = (
    "Now answer the caller's last message from the tool results above, in plain spoken "
    "sentences. Do not call the same tool again."
)
"""Said after tool results: with only ``TOOL_HINT`` in view, the 1.5B model called the
same tool again instead of answering."""
TOOL_CALL_TAG = "<tool_call>"
_CLOSE_TAG = "</tool_call>"
# How a reply that is a tool call begins (after leading whitespace).
_CALL_STARTS = ("{", "[{", TOOL_CALL_TAG, "```")
_FENCE = re.compile(r"```[a-zA-Z]*\s*(.*?)\s*(?:```|$)", re.DOTALL)
_NAME_KEYS = ("name", "tool", "tool_name", "function_name")
_ARGUMENT_KEYS = ("arguments", "parameters", "args", "input", "params")
_SCHEMA_NOISE = frozenset({"title", "additionalProperties", "$schema"})


@dataclass(frozen=True)
class ParsedToolCall:
    """One call the model asked for: a tool name and its arguments."""

    name: str
    arguments: dict[str, Any]


def parse_tool_calls(text: str) -> list[ParsedToolCall] | None:
    """The tool calls in a model reply, or None when the reply is not (only) tool calls.

    Accepts ``<tool_call>`` tags (closing tag optional), code fences, bare JSON objects,
    a JSON list of calls, several objects in a row, OpenAI's ``{"function": {...}}``
    shape, arguments as a JSON string, and arguments written beside the name.
    Slightly broken JSON (a missing brace, single quotes) is repaired.
    """
    body = text.strip()
    if not body:
        return None
    pieces: list[str]
    if TOOL_CALL_TAG in body:
        parts = body.split(TOOL_CALL_TAG)
        if parts[0].strip():
            return None
        pieces = [p.replace(_CLOSE_TAG, "").strip() for p in parts[1:]]
    else:
        pieces = [body]
    calls: list[ParsedToolCall] = []
    for piece in pieces:
        fenced = _FENCE.fullmatch(piece)
        found = _json_values(fenced.group(1) if fenced else piece)
        if found is None:
            return None
        for value in found:
            items = value if isinstance(value, list) else [value]
            for item in items:
                call = _as_call(item)
                if call is None:
                    return None
                calls.append(call)
    return calls or None


def _json_values(text: str) -> list[Any] | None:
    """Every JSON value in ``text`` (one after another), repairing a broken last one."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    at = 0
    text = text.strip()
    while at < len(text):
        try:
            value, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            if not text[at:].lstrip().startswith(("{", "[")):
                return None
            repaired = json_repair.loads(text[at:])
            if not isinstance(repaired, dict | list) or not repaired:
                return None
            values.append(repaired)
            break
        values.append(value)
        at = end
        while at < len(text) and text[at] in " \t\r\n,;":
            at += 1
    return values or None


def _as_call(item: Any) -> ParsedToolCall | None:
    if not isinstance(item, dict):
        return None
    function = item.get("function")
    if isinstance(function, dict):
        item = function
    name = next((item[k] for k in _NAME_KEYS if isinstance(item.get(k), str)), None)
    if name is None and isinstance(function, str):
        name = function
    if not name or not name.strip():
        return None
    arguments: Any = next((item[k] for k in _ARGUMENT_KEYS if k in item), None)
    if arguments is None:
        # {"name": "get_order_status", "order_id": "4417"}: the arguments sit beside it
        skip = {*_NAME_KEYS, "function", "type", "id"}
        arguments = {k: v for k, v in item.items() if k not in skip}
    if isinstance(arguments, str):
        arguments = json_repair.loads(arguments) if arguments.strip() else {}
    if not isinstance(arguments, dict):
        return None
    return ParsedToolCall(name=name.strip(), arguments=arguments)


class ToolCallSplitter:
    """Splits a streamed reply into speech (forwarded as it comes) and tool calls.

    A reply that starts like a tool call (``{``, ``[{``, ``<tool_call>``, a code fence)
    is held back whole and parsed at the end; if it turns out not to be a tool call it
    is released as text then. Inside text, ``<tool_call>`` starts a held-back part.
    """

    def __init__(self) -> None:
        self._mode: str = "undecided"
        self._pending = ""
        self._captured = ""

    def feed(self, text: str) -> str:
        """Take the next piece of the reply; return the text that may be spoken now."""
        if self._mode == "capture":
            self._captured += text
            return ""
        self._pending += text
        if self._mode == "undecided":
            head = self._pending.lstrip()
            if not head:
                return ""
            if any(head.startswith(start) for start in _CALL_STARTS):
                self._mode, self._captured, self._pending = "capture", self._pending, ""
                return ""
            if any(start.startswith(head) for start in _CALL_STARTS):
                return ""  # too short to tell yet ("<tool", "[")
            self._mode = "text"
        at = self._pending.find(TOOL_CALL_TAG)
        if at >= 0:
            out, self._captured = self._pending[:at], self._pending[at:]
            self._mode, self._pending = "capture", ""
            return out
        keep = _partial_tag_suffix(self._pending)
        out = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(self._pending) - keep :]
        return out

    def finish(self) -> tuple[str, list[ParsedToolCall]]:
        """The reply ended: the text still to speak and the tool calls found."""
        rest, self._pending = self._pending, ""
        if self._mode != "capture":
            return rest, []
        calls = parse_tool_calls(self._captured)
        if calls is None:
            return rest + self._captured, []
        return rest, calls


def _partial_tag_suffix(text: str) -> int:
    """Length of the longest end of ``text`` that could begin ``<tool_call>``."""
    for n in range(min(len(TOOL_CALL_TAG) - 1, len(text)), 0, -1):
        if TOOL_CALL_TAG.startswith(text[-n:]):
            return n
    return 0


def compact_schema(value: Any) -> Any:
    """A JSON schema without titles and other keys a small model does not need.

    Every token of the tool list sits in the system prompt of every turn; MCP servers
    written with the Python SDK add a ``title`` to every property.
    """
    if isinstance(value, list):
        return [compact_schema(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in _SCHEMA_NOISE:
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(item, dict):
            # names of properties, not schema keywords: a property may be called "title"
            out[key] = {name: compact_schema(sub) for name, sub in item.items()}
        else:
            out[key] = compact_schema(item)
    return out
