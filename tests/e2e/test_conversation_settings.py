"""An agent's conversation settings and built-in call tools, as a caller in a real room
meets them: real LiveKit, the real worker, embedded engines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import Tenant, make_tenant
from tests.support.caller import Caller, rms, synthesize_speech
from tests.support.servers import ApiServer, make_settings, running_platform

TEST_LLM = "qwen2.5-0.5b"
TOOL_LLM = "qwen2.5-1.5b"  # the packaged model that makes tool calls
PROMPT = (
    "You are the receptionist of Rosa's Bakery. The bakery opens at nine in the morning "
    "and closes at six in the evening."
)
GREETING = "Welcome to Rosa's Bakery. How can I help you?"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    settings = make_settings(tmp_path_factory.mktemp("data"), worker_prewarm_llm=TEST_LLM)
    with running_platform(settings) as api:
        yield api


def agent(api: ApiServer, **fields: Any) -> Tenant:
    return make_tenant(
        api.platform,
        **{"system_prompt": PROMPT, "greeting": GREETING, "llm_engine": TEST_LLM, **fields},
    )


async def join(api: ApiServer, tenant: Tenant, **body: Any) -> tuple[Caller, str]:
    async with httpx.AsyncClient(base_url=api.url) as http:
        resp = await http.post(
            "/api/agents/agent-session/",
            json={"agent": tenant.agent_id, **body},
            headers={"x-api-key": tenant.api_key},
        )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    caller = Caller()
    await caller.join(data["livekit_url"], data["token"])
    # LiveKit delivers data only to participants already in the room: a test that types
    # first waits for the agent
    for _ in range(600):
        if caller.room.remote_participants:
            break
        await asyncio.sleep(0.05)
    return caller, data["session_id"]


async def ended(api: ApiServer, tenant: Tenant, session_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api.url) as http:
        deadline = time.monotonic() + 30
        while True:
            record: dict[str, Any] = (
                await http.get(f"/api/sessions/{session_id}", headers={"x-api-key": tenant.api_key})
            ).json()
            if record["status"] == "ended" or time.monotonic() > deadline:
                return record
            await asyncio.sleep(0.2)


def agent_texts(caller: Caller) -> list[str]:
    return [m["text"] for m in caller.replies("agent_text")]


async def test_an_agent_that_lets_the_caller_speak_first_says_nothing_until_asked(
    api: ApiServer,
) -> None:
    tenant = agent(api, conversation={"first_message": "caller"})
    caller, _ = await join(api, tenant)
    try:
        joined = time.monotonic()
        await asyncio.sleep(6)  # the greeting comes within a second when the agent speaks first
        assert caller.replies("agent_text") == []
        assert caller.first_sound_after(joined) is None
        sent = await caller.send_text("When do you open?")
        reply = await caller.wait_reply("agent_text", since=sent, timeout=90)
        assert reply["text"] != GREETING
    finally:
        await caller.leave()


async def test_a_silent_caller_is_reminded_then_the_agent_says_goodbye_and_hangs_up(
    api: ApiServer,
) -> None:
    tenant = agent(
        api,
        conversation={
            "silence_timeout_seconds": 5,
            "silence_reminder": "Are you still there?",
            "silence_reminders": 1,
            "goodbye": "I will hang up now. Goodbye!",
        },
    )
    caller, session_id = await join(api, tenant)
    try:
        await caller.wait_reply("agent_text", timeout=60)  # the greeting
        greeted = time.monotonic()
        reminder = await caller.wait_reply_where(
            "agent_text", greeted, lambda m: m["text"] == "Are you still there?", timeout=30
        )
        assert reminder
        reminded = next(
            m.at for m in caller.messages if m.data.get("text") == "Are you still there?"
        )
        assert reminded - greeted >= 4  # not before the caller was quiet that long
        await asyncio.wait_for(caller.disconnected.wait(), timeout=40)
        # the goodbye came at least one timeout after the reminder, and was heard
        goodbye = next(
            m.at for m in caller.messages if m.data.get("text") == "I will hang up now. Goodbye!"
        )
        assert goodbye - reminded >= 4
        assert rms(caller.audio_between(goodbye - 0.5, time.monotonic())) > 300
    finally:
        await caller.leave()
    record = await ended(api, tenant, session_id)
    assert record["end_reason"] == "silence_timeout"
    assert record["usage"]["conversation"]["silence_reminders"] == 1
    said = [t["text"] for t in record["turns"] if t["role"] == "agent"]
    assert said == [GREETING, "Are you still there?", "I will hang up now. Goodbye!"]


async def test_a_caller_who_types_keeps_the_call_open(api: ApiServer) -> None:
    tenant = agent(
        api, conversation={"silence_timeout_seconds": 6, "silence_reminders": 0}, greeting=""
    )
    caller, _ = await join(api, tenant, text_only=True)
    try:
        for _ in range(3):  # 12 s in all, each pause shorter than the timeout
            await asyncio.sleep(4)
            sent = await caller.send_text("Are you open today?")
            await caller.wait_reply("agent_text", since=sent, timeout=90)
        assert not caller.disconnected.is_set()
        quiet = time.monotonic()
        await asyncio.wait_for(caller.disconnected.wait(), timeout=40)
        assert time.monotonic() - quiet >= 5  # then the silence ends it
    finally:
        await caller.leave()


async def test_an_end_call_phrase_gets_the_goodbye_instead_of_an_answer(
    api: ApiServer, tmp_path: Path
) -> None:
    tenant = agent(
        api,
        conversation={
            "end_call_phrases": ["goodbye", "that's all"],
            "goodbye": "Thanks for calling Rosa's Bakery!",
        },
    )
    caller, session_id = await join(api, tenant)
    try:
        await caller.wait_reply("agent_text", timeout=60)
        await caller.wait_for_sound(0.0)
        await caller.wait_for_quiet()
        # a question that only mentions leaving is answered, not ended
        sent = await caller.send_text("Can I say goodbyes to the baker?")
        await caller.wait_reply("agent_text", since=sent, timeout=90)
        assert not caller.disconnected.is_set()
        await caller.wait_for_quiet()
        spoken = synthesize_speech("Okay, that's all. Thank you!", tmp_path / "bye.wav")
        said = await caller.speak(spoken)
        goodbye = await caller.wait_reply("agent_text", since=said, timeout=60)
        assert goodbye["text"] == "Thanks for calling Rosa's Bakery!"
        await asyncio.wait_for(caller.disconnected.wait(), timeout=30)
    finally:
        await caller.leave()
    record = await ended(api, tenant, session_id)
    assert record["end_reason"] == "end_call_phrase"
    assert [t["text"] for t in record["turns"] if t["role"] == "agent"][-1] == (
        "Thanks for calling Rosa's Bakery!"
    )


async def test_with_interruptions_off_the_agent_talks_on_over_the_caller(
    api: ApiServer, tmp_path: Path
) -> None:
    tenant = agent(api, conversation={"interruptions": False}, greeting="")
    caller, _ = await join(api, tenant)
    try:
        cut_in = synthesize_speech(
            "Stop, stop, please wait a moment, I have another question about your cakes.",
            tmp_path / "stop.wav",
        )
        sent = await caller.send_text(
            "Please tell me a long story about bread, at least five sentences."
        )
        await caller.wait_for_sound(sent, timeout=90)
        await asyncio.sleep(1.0)
        barge = time.monotonic()
        await caller.speak(cut_in)
        await asyncio.sleep(max(0.0, barge + 4.7 - time.monotonic()))
        # the agent with interruptions on goes quiet within 3.5 s (test_voice_call);
        # this one is still talking well after that
        assert rms(caller.audio_between(barge + 3.5, barge + 4.5)) > 300
        story = await caller.wait_reply("agent_text", since=sent, timeout=90)
        assert story.get("interrupted") is None
    finally:
        await caller.leave()


async def test_a_backchannel_does_not_stop_an_agent_that_needs_more_words(
    api: ApiServer, tmp_path: Path
) -> None:
    tenant = agent(api, conversation={"interruption_min_words": 3}, greeting="")
    caller, _ = await join(api, tenant)
    try:
        short = synthesize_speech("Okay, sure.", tmp_path / "ok.wav")  # two words
        sent = await caller.send_text(
            "Please tell me a long story about bread, at least five sentences."
        )
        await caller.wait_for_sound(sent, timeout=90)
        await asyncio.sleep(1.0)
        said = time.monotonic()
        await caller.speak(short)
        await asyncio.sleep(max(0.0, said + 4.2 - time.monotonic()))
        # 0.4 s of speech stops an agent by default (test_voice_call); this one talks on,
        # and the two words are not taken as a turn to answer
        assert rms(caller.audio_between(said + 3.0, said + 4.0)) > 300
        story = await caller.wait_reply("agent_text", since=sent, timeout=90)
        assert story.get("interrupted") is None
    finally:
        await caller.leave()


async def test_the_reply_length_cap_cuts_a_long_answer(api: ApiServer) -> None:
    capped = agent(api, conversation={"max_reply_tokens": 16}, greeting="")
    free = agent(api, greeting="")
    question = "Please list all twelve months of the year, in order, separated by commas."
    lengths = {}
    for name, tenant in (("capped", capped), ("free", free)):
        caller, session_id = await join(api, tenant, text_only=True)
        try:
            sent = await caller.send_text(question)
            await caller.wait_reply("agent_text", since=sent, timeout=90)
        finally:
            await caller.leave()
        record = await ended(api, tenant, session_id)
        llm = [m for m in record["usage"]["models"] if m.get("type") == "llm_usage"]
        lengths[name] = sum(m["output_tokens"] for m in llm)
    # 16 for the reply, and 1 if the prompt-warming request (max_tokens 1) is counted
    assert lengths["capped"] <= 17 < lengths["free"], lengths


async def test_the_agent_hands_over_to_a_person_with_a_reason_and_summary(
    api: ApiServer,
) -> None:
    tenant = agent(
        api,
        llm_engine=TOOL_LLM,
        system_prompt=PROMPT + " If the caller asks for a person, transfer them.",
        call_tools={"transfer_to_human": {"enabled": True, "message": "Connecting you now."}},
    )
    caller, session_id = await join(api, tenant, text_only=True)
    try:
        await caller.wait_reply("agent_text", timeout=60)
        sent = await caller.send_text(
            "I want to order a wedding cake, please let me talk to a person."
        )
        await caller.wait_reply_where(
            "agent_text", sent, lambda m: m["text"] == "Connecting you now.", timeout=120
        )
        handoff = next(
            m.data for m in caller.messages if m.topic == "voice.events"
            and m.data.get("type") == "handoff"
        )  # fmt: skip
        assert handoff["reason"].strip() and handoff["summary"].strip()
        await asyncio.wait_for(caller.disconnected.wait(), timeout=30)
    finally:
        await caller.leave()
    record = await ended(api, tenant, session_id)
    assert record["end_reason"] == "transferred"
    assert record["usage"]["conversation"]["handoff"]["reason"] == handoff["reason"]


async def test_the_agent_ends_the_call_with_its_tool_when_the_caller_is_done(
    api: ApiServer,
) -> None:
    tenant = agent(
        api,
        llm_engine=TOOL_LLM,
        call_tools={"end_call": {"enabled": True}},
        conversation={"goodbye": "Goodbye from Rosa's Bakery!"},
    )
    caller, session_id = await join(api, tenant, text_only=True)
    try:
        await caller.wait_reply("agent_text", timeout=60)
        sent = await caller.send_text("When do you open?")
        await caller.wait_reply("agent_text", since=sent, timeout=120)
        assert not caller.disconnected.is_set()  # a question does not end the call
        sent = await caller.send_text("Thanks, that is all I needed. Bye!")
        await caller.wait_reply_where(
            "agent_text", sent, lambda m: m["text"] == "Goodbye from Rosa's Bakery!", timeout=120
        )
        await asyncio.wait_for(caller.disconnected.wait(), timeout=30)
    finally:
        await caller.leave()
    record = await ended(api, tenant, session_id)
    assert record["end_reason"] == "agent_ended"
