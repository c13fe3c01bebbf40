"""Tool calls of the embedded LLM (tolerant parsing, streaming split, prompt rendering) and
the call-time guardrails, with fakes: no model, no server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from livekit.agents import llm

from vocable.mcp.service import merge_headers
from vocable.providers.llama_llm import chat_messages, with_tool_hint
from vocable.providers.llama_tools import (
    ANSWER_HINT,
    TOOL_HINT,
    ParsedToolCall,
    ToolCallSplitter,
    compact_schema,
    parse_tool_calls,
)
from vocable.worker.tools import ToolGuard

ORDER = [ParsedToolCall("get_order_status", {"order_id": "4417"})]


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "get_order_status", "arguments": {"order_id": "4417"}}\n'
        "</tool_call>",
        '<tool_call>{"name": "get_order_status", "arguments": {"order_id": "4417"}}',
        '{"name": "get_order_status", "arguments": {"order_id": "4417"}}',
        '  {"name": "get_order_status", "arguments": "{\\"order_id\\": \\"4417\\"}"}',
        '```json\n{"name": "get_order_status", "arguments": {"order_id": "4417"}}\n```',
        '[{"name": "get_order_status", "parameters": {"order_id": "4417"}}]',
        '{"function": {"name": "get_order_status", "arguments": {"order_id": "4417"}}}',
        '{"name": "get_order_status", "order_id": "4417"}',
        '{"name": "get_order_status", "arguments": {"order_id": "4417"}',  # brace missing
        "{'name': 'get_order_status', 'arguments': {'order_id': '4417'}}",
    ],
)
def test_tool_calls_are_read_in_every_shape_the_small_model_writes(text: str) -> None:
    assert parse_tool_calls(text) == ORDER


def test_several_calls_in_a_row_are_all_read() -> None:
    text = (
        '<tool_call>{"name": "a", "arguments": {}}</tool_call>\n'
        '<tool_call>{"name": "b", "arguments": {"x": 1}}</tool_call>'
    )
    assert parse_tool_calls(text) == [ParsedToolCall("a", {}), ParsedToolCall("b", {"x": 1})]
    assert parse_tool_calls('{"name": "a"} {"name": "b"}') == [
        ParsedToolCall("a", {}),
        ParsedToolCall("b", {}),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Your order is on its way.",
        '{"answer": "hello"}',
        '{"name": 3, "arguments": {}}',
        '{"name": "a", "arguments": [1, 2]}',
        "[1, 2, 3]",
        'Sure! <tool_call>{"name": "a"}</tool_call>',
    ],
)
def test_text_that_is_not_only_tool_calls_is_not_a_tool_call(text: str) -> None:
    assert parse_tool_calls(text) is None


def _split(pieces: list[str]) -> tuple[str, list[ParsedToolCall]]:
    splitter = ToolCallSplitter()
    spoken = "".join(splitter.feed(p) for p in pieces)
    rest, calls = splitter.finish()
    return spoken + rest, calls


def test_plain_replies_stream_through_unchanged() -> None:
    splitter = ToolCallSplitter()
    assert splitter.feed("Your ") == "Your "
    assert splitter.feed("order ships.") == "order ships."
    assert splitter.finish() == ("", [])


def test_a_reply_that_is_a_tool_call_is_never_spoken() -> None:
    pieces = ["  ", '{"', 'name": "get_order_status", ', '"arguments": {"order_id": "4417"}}']
    splitter = ToolCallSplitter()
    assert [splitter.feed(p) for p in pieces] == ["", "", "", ""]
    assert splitter.finish() == ("", ORDER)
    assert _split(["<tool", '_call>{"name": "get_order_status", "order_id": "4417"}']) == (
        "",
        ORDER,
    )


def test_text_before_a_tagged_call_is_spoken_and_the_call_is_held_back() -> None:
    spoken, calls = _split(
        ["Let me check. <to", 'ol_call>{"name": "get_order_status", "order_id": "4417"}']
    )
    assert spoken == "Let me check. "
    assert calls == ORDER


def test_something_that_only_looked_like_a_call_is_spoken_at_the_end() -> None:
    assert _split(["{not json at all}"]) == ("{not json at all}", [])
    assert _split(["<b>bold</b>"]) == ("<b>bold</b>", [])
    assert _split(["a < b"]) == ("a < b", [])


def test_schemas_lose_titles_but_keep_a_property_called_title() -> None:
    schema = {
        "type": "object",
        "title": "args",
        "properties": {"title": {"type": "string", "title": "Title"}},
        "additionalProperties": False,
    }
    assert compact_schema(schema) == {
        "type": "object",
        "properties": {"title": {"type": "string"}},
    }


def _ctx_with_a_tool_round() -> llm.ChatContext:
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content="You are a shop assistant.")
    ctx.add_message(role="assistant", content="Hello!")
    ctx.add_message(role="user", content="Where is order 4417?")
    ctx.insert(
        llm.FunctionCall(call_id="c1", name="get_order_status", arguments='{"order_id": "4417"}')
    )
    ctx.insert(
        llm.FunctionCallOutput(
            call_id="c1", name="get_order_status", output="Out for delivery.", is_error=False
        )
    )
    return ctx


def test_tool_calls_and_results_are_rendered_back_for_the_template() -> None:
    messages = chat_messages(_ctx_with_a_tool_round())
    assert [m["role"] for m in messages] == ["system", "assistant", "user", "assistant", "tool"]
    call: Any = messages[3]
    assert call["tool_calls"][0]["function"] == {
        "name": "get_order_status",
        "arguments": {"order_id": "4417"},  # an object: the template applies tojson itself
    }
    assert messages[4] == {"role": "tool", "content": "Out for delivery.", "tool_call_id": "c1"}


def test_the_tool_hint_goes_before_the_newest_user_message_only() -> None:
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content="S")
    ctx.add_message(role="user", content="first")
    ctx.add_message(role="assistant", content="reply")
    ctx.add_message(role="system", content="passages")
    ctx.add_message(role="user", content="second")
    hinted = with_tool_hint(chat_messages(ctx))
    assert [m["role"] for m in hinted] == ["system", "user", "assistant", "system", "user"]
    assert hinted[0]["content"] == "S"  # the cached system prompt is untouched
    assert hinted[3]["content"] == f"passages\n{TOOL_HINT}"
    plain = llm.ChatContext.empty()
    plain.add_message(role="system", content="S")
    plain.add_message(role="user", content="hi")
    assert [m["content"] for m in with_tool_hint(chat_messages(plain))] == ["S", TOOL_HINT, "hi"]


def test_after_tool_results_the_model_is_told_to_answer() -> None:
    hinted = with_tool_hint(chat_messages(_ctx_with_a_tool_round()))
    roles = [m["role"] for m in hinted]
    assert roles == ["system", "assistant", "system", "user", "assistant", "tool", "system"]
    assert hinted[2]["content"] == TOOL_HINT and hinted[-1]["content"] == ANSWER_HINT


def test_session_headers_override_static_ones_whatever_their_case() -> None:
    merged = merge_headers(
        {"Authorization": "Bearer static", "X-Shop": "1"}, {"authorization": "Bearer session"}
    )
    assert merged == {"X-Shop": "1", "authorization": "Bearer session"}


# --- guardrails ---------------------------------------------------------------------


def guard(**overrides: Any) -> ToolGuard:
    options: dict[str, Any] = {
        "max_calls_per_turn": 3,
        "filler_after": 0.05,
        "filler_text": "One moment, let me check.",
        "max_result_chars": 100,
        "record_chars": 20,
    }
    options.update(overrides)
    return ToolGuard(**options)


def answer(value: Any, delay: float = 0.0) -> Any:
    async def call() -> Any:
        await asyncio.sleep(delay)
        return value

    return call


async def run(g: ToolGuard, turn: str = "t1", tool: str = "lookup", **kw: Any) -> str:
    options: dict[str, Any] = {"arguments": {"q": 1}, "timeout": 1.0, "call": answer("found")}
    options.update(kw)
    return await g.run(turn_id=turn, server="Orders", tool=tool, **options)


async def test_a_result_is_returned_and_recorded_cut_short() -> None:
    g = guard()
    assert await run(g, call=answer("x" * 500)) == "x" * 99 + "…"
    (record,) = g.usage()
    assert record["status"] == "ok" and record["server"] == "Orders"
    assert record["result"] == "x" * 19 + "…" and record["arguments"] == '{"q": 1}'
    assert record["filler"] is False


async def test_the_same_call_twice_in_a_turn_is_refused_but_allowed_in_the_next_turn() -> None:
    g = guard()
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        return "found"

    assert await run(g, call=call) == "found"
    repeated = await run(g, call=call)
    assert repeated.startswith("Refused: lookup was already called with these arguments")
    assert await run(g, call=call, arguments={"q": 2}) == "found"
    assert await run(g, turn="t2", call=call) == "found"
    assert calls == 3
    assert [r["status"] for r in g.usage()] == ["ok", "repeated", "ok", "ok"]


async def test_calls_beyond_the_per_turn_limit_are_refused() -> None:
    g = guard(max_calls_per_turn=2)
    assert await run(g, arguments={"q": 1}) == "found"
    assert await run(g, arguments={"q": 2}) == "found"
    limited = await run(g, arguments={"q": 3})
    assert limited.startswith("Refused: at most 2 tool calls are allowed per message")
    assert await run(g, turn="t2", arguments={"q": 3}) == "found"


async def test_a_slow_tool_times_out_as_a_result_after_one_filler() -> None:
    g = guard()
    said: list[str] = []
    result = await run(g, timeout=0.2, call=answer("late", delay=5), say=said.append)
    assert result.startswith("Error: lookup did not answer within 0.2 seconds")
    assert said == ["One moment, let me check."]
    (record,) = g.usage()
    assert (
        record["status"] == "timeout" and record["filler"] is True and record["ms"] < 3000
    )  # well under the 5 s the tool takes


async def test_a_quick_tool_gets_no_filler() -> None:
    said: list[str] = []
    # 2-core CI: a loop pause must not fire the timer; filler_after < timeout keeps it armed
    assert await run(guard(filler_after=2.0), timeout=5.0, say=said.append) == "found"
    assert said == []


async def test_errors_come_back_as_results_never_as_exceptions() -> None:
    async def tool_error() -> str:
        raise llm.ToolError("order not found")

    async def crash() -> str:
        raise ConnectionResetError("peer went away")

    g = guard()
    assert await run(g, call=tool_error) == "Error from lookup: order not found"
    assert await run(g, call=crash, arguments={"q": 2}) == (
        "Error: lookup failed (ConnectionResetError)."
    )
    assert [r["status"] for r in g.usage()] == ["error", "error"]


async def test_a_filler_that_cannot_be_said_does_not_break_the_call() -> None:
    def closing(_: str) -> None:
        raise RuntimeError("AgentSession is closing")

    assert await run(guard(), call=answer("found", delay=0.1), say=closing) == "found"
