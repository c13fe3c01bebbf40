"""A real call: LiveKit server, API, worker with the embedded engines, and a headless caller.

The caller hears the greeting, asks a spoken question, types, talks over the agent and
sends garbage, exactly as a browser would; our own STT checks what the agent said.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from tests.conftest import Tenant, make_tenant
from tests.support.caller import SAMPLE_RATE, Caller, rms, synthesize_speech
from tests.support.servers import (
    ApiServer,
    make_settings,
    running_platform,
)

from vocable.providers.whisper_stt import load_whisper

TEST_LLM = "qwen2.5-0.5b"  # the small packaged model keeps the suite fast on 2 cores
PROMPT = (
    "You are the receptionist of Rosa's Bakery. The bakery opens at nine in the morning "
    "and closes at six in the evening. Answer questions about opening hours."
)
NINE = {"nine", "9", "9am"}
GREETING = "Welcome to Rosa's Bakery. How can I help you?"


@dataclass
class Stack:
    api: ApiServer
    tenant: Tenant
    data_dir: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    settings = make_settings(tmp_path_factory.mktemp("data"), worker_prewarm_llm=TEST_LLM)
    with running_platform(settings) as api:
        platform = api.platform
        tenant = make_tenant(platform, system_prompt=PROMPT, greeting=GREETING, llm_engine=TEST_LLM)
        yield Stack(api=api, tenant=tenant, data_dir=settings.data_dir)


@pytest.fixture(scope="module")
def whisper(stack: Stack) -> object:
    return load_whisper("tiny.en", cache_dir=stack.api.platform.settings.cache_dir, cpu_threads=2)


def words(text: str) -> set[str]:
    return set(re.findall(r"[\w']+", text.lower()))


def mentions(text: str, stems: tuple[str, ...]) -> int:
    """How many of ``stems`` some word of ``text`` contains. Whisper bends words at the
    edges ("reopen" for "open", "pa'" for "pan"), so a transcript is checked by stems."""
    return sum(any(st in w for w in words(text)) for st in stems)


def transcribe(model: object, samples: np.ndarray) -> str:
    audio = samples.astype(np.float32) / 32768.0
    segments, _ = model.transcribe(audio, language="en", beam_size=5, temperature=[0.0])  # type: ignore[attr-defined]
    return " ".join(s.text for s in segments)


async def ask_aloud(
    caller: Caller, question: np.ndarray, understood: Callable[[str], bool], *, attempts: int = 3
) -> tuple[str, float]:
    """Speak ``question`` and wait for the spoken answer; a caller who is misheard says it
    again, as a person would. On a starved 2-core machine, loopback packet loss has
    garbled a question beyond recognition (CI, stop 10); a later clean attempt must be
    understood. Returns the transcript of the last attempt and when its speech ended."""
    heard, end = "", 0.0
    for _ in range(attempts):
        began = time.monotonic()
        end = await caller.speak(question)
        await caller.wait_reply("agent_text", since=end, timeout=120)
        await caller.wait_for_sound(end)
        await caller.wait_for_quiet()
        # a pause in the question may end a turn early: read every transcript it produced
        heard = " ".join(m["text"] for m in caller.replies("user_text", since=began))
        if understood(heard):
            break
    return heard, end


async def start_call(stack: Stack, **overrides: object) -> tuple[Caller, dict[str, str]]:
    async with httpx.AsyncClient(base_url=stack.api.url) as http:
        resp = await http.post(
            "/api/agents/agent-session/",
            json={"agent": stack.tenant.agent_id, **overrides},
            headers={"x-api-key": stack.tenant.api_key},
        )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    caller = Caller()
    await caller.join(data["livekit_url"], data["token"])
    return caller, data


@pytest.fixture
async def call(stack: Stack) -> AsyncIterator[tuple[Caller, dict[str, str]]]:
    caller, data = await start_call(stack)
    try:
        yield caller, data
    finally:
        await caller.leave()


async def test_agent_speaks_the_greeting(
    call: tuple[Caller, dict[str, str]], whisper: object
) -> None:
    caller, _ = call
    joined = time.monotonic()
    greeting = await caller.wait_reply("agent_text", timeout=60)
    assert greeting["text"] == GREETING
    await caller.wait_for_sound(joined)
    await caller.wait_for_quiet()
    heard = transcribe(whisper, caller.audio_between(joined))
    # two of four: loopback loss under load can blur a word of what the caller heard
    assert len({"welcome", "rosa's", "bakery", "help"} & words(heard)) >= 2, heard


async def test_typed_message_is_echoed_exactly_and_answered(
    call: tuple[Caller, dict[str, str]],
) -> None:
    caller, _ = call
    await caller.wait_reply("agent_text")  # the greeting
    text = "  When do you open in the morning?"
    sent = await caller.send_text(text)
    echo = await caller.wait_reply("user_text", since=sent, timeout=20)
    assert echo == {"type": "user_text", "text": text}
    reply = await caller.wait_reply("agent_text", since=sent, timeout=90)
    assert words(reply["text"]) & NINE, reply
    assert len(caller.replies("user_text", since=sent)) == 1  # echoed once
    await caller.wait_for_sound(sent)  # and spoken


async def test_spoken_question_gets_a_transcript_and_a_spoken_answer(
    call: tuple[Caller, dict[str, str]], tmp_path: Path
) -> None:
    caller, _ = call
    await caller.wait_reply("agent_text")
    await caller.wait_for_quiet()
    question = synthesize_speech("What time does the bakery open?", tmp_path / "q.wav")

    # CI (stop 20) heard "What time does the maker reopen?": two of three stems is enough
    def understood(text: str) -> bool:
        return mentions(text, ("time", "bak", "open")) >= 2

    heard, spoke_end = await ask_aloud(caller, question, understood)
    assert understood(heard), heard
    reply = await caller.wait_reply_where(
        "agent_text", spoke_end, lambda m: words(m["text"]) & NINE, timeout=90
    )
    assert reply


async def test_talking_over_the_agent_stops_it(
    call: tuple[Caller, dict[str, str]], tmp_path: Path
) -> None:
    caller, _ = call
    await caller.wait_reply("agent_text")
    await caller.wait_for_quiet()
    # about 9 s of talking over the agent, ready before the story starts
    interruption = synthesize_speech(
        "Stop, stop, please wait a moment, I have another question about your cakes. "
        "Please wait, I have another question about your cakes.",
        tmp_path / "stop.wav",
    )
    sent = await caller.send_text(
        "Please tell me a long story about bread, at least five sentences."
    )
    speaking = await caller.wait_for_sound(sent, timeout=90)
    await asyncio.sleep(1.0)
    # cut in while it is audibly talking, not in a pause between sentences
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and time.monotonic() - (caller.last_sound() or 0) > 0.2:
        await asyncio.sleep(0.02)
    barge_start = time.monotonic()
    await caller.speak(interruption)
    # the agent goes quiet within 3.5 s of the caller starting to talk over it (0.4 s of
    # speech to count as an interruption, VAD lag, the audio already in flight, and a
    # starved 2-core machine); the story it was telling lasts far longer than that
    tail = caller.audio_between(barge_start + 3.5, barge_start + len(interruption) / SAMPLE_RATE)
    assert speaking < barge_start
    # it really was talking when the caller cut in (else this test would prove nothing)
    assert rms(caller.audio_between(barge_start - 0.5, barge_start + 0.25)) > 300
    assert rms(tail) < 300, "agent kept speaking over the caller"
    # the chat shows what the caller heard of the story, marked as cut off
    story = await caller.wait_reply_where(
        "agent_text", sent, lambda m: m.get("interrupted") is True, timeout=60
    )
    assert story["text"].strip()


async def test_text_only_session_answers_in_text_without_audio(stack: Stack) -> None:
    caller, _ = await start_call(stack, text_only=True)
    try:
        joined = time.monotonic()
        assert (await caller.wait_reply("agent_text", timeout=60))["text"] == GREETING
        sent = await caller.send_text("When do you open?")
        reply = await caller.wait_reply("agent_text", since=sent, timeout=90)
        assert words(reply["text"]) & NINE, reply
        await asyncio.sleep(1.0)
        assert caller.first_sound_after(joined) is None  # nothing was spoken
    finally:
        await caller.leave()


async def test_message_typed_the_moment_the_call_starts_is_answered(stack: Stack) -> None:
    caller, _ = await start_call(stack, text_only=True)
    try:
        # LiveKit delivers data only to participants already in the room: send the moment
        # the agent has joined, while its session is still starting
        for _ in range(600):
            if caller.room.remote_participants:
                break
            await asyncio.sleep(0.05)
        sent = await caller.send_text("Hello, when do you open?")
        echo = await caller.wait_reply("user_text", since=sent, timeout=60)
        assert echo["text"] == "Hello, when do you open?"
        reply = await caller.wait_reply_where(
            "agent_text", sent, lambda m: m["text"] != GREETING, timeout=90
        )
        assert words(reply["text"]) & NINE, reply
    finally:
        await caller.leave()


async def test_garbage_on_the_text_topic_does_not_break_the_call(
    call: tuple[Caller, dict[str, str]],
) -> None:
    caller, _ = call
    await caller.wait_reply("agent_text")
    for junk in (
        b"\xff\xfe\x00garbage",
        b"not json",
        b"[1,2,3]",
        b'{"type":"user_text"}',
        b'{"type":"user_text","text":42}',
        b'{"type":"other","text":"hi"}',
        b'{"type":"user_text","text":"' + b"a" * 20000 + b'"}',
    ):
        await caller.send_raw(junk)
    sent = await caller.send_text("Are you open at nine?")
    assert (await caller.wait_reply("user_text", since=sent))["text"] == "Are you open at nine?"
    assert await caller.wait_reply("agent_text", since=sent, timeout=90)
    assert len(caller.replies("user_text", since=sent)) == 1


async def test_call_record_holds_the_transcript_and_turn_metrics(stack: Stack) -> None:
    caller, data = await start_call(stack)
    await caller.wait_reply("agent_text")
    sent = await caller.send_text("When do you close?")
    await caller.wait_reply("agent_text", since=sent, timeout=90)
    await caller.leave()
    async with httpx.AsyncClient(base_url=stack.api.url) as http:
        headers = {"x-api-key": stack.tenant.api_key}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            record = (await http.get(f"/api/sessions/{data['session_id']}", headers=headers)).json()
            if record["status"] == "ended":
                break
            await asyncio.sleep(0.3)
    assert record["status"] == "ended" and record["end_reason"] == "caller_left"
    roles = [(t["role"], t["text"]) for t in record["turns"]]
    assert roles[0] == ("agent", GREETING)
    assert ("user", "When do you close?") in roles
    agent_turns = [t for t in record["turns"] if t["role"] == "agent" and t["seq"] > 0]
    assert agent_turns and "llm_node_ttft" in agent_turns[0]["metrics"]
    usage = record["usage"]
    assert usage["turns"] == len(record["turns"]) and usage["duration_seconds"] > 0
    assert usage["models"], usage


async def test_a_spanish_call_is_transcribed_and_answered(stack: Stack, tmp_path: Path) -> None:
    caller, _ = await start_call(
        stack, language="es", greeting="Bienvenido a la panadería de Rosa."
    )
    try:
        greeting = await caller.wait_reply("agent_text", timeout=60)
        assert greeting["text"].startswith("Bienvenido")
        await caller.wait_for_sound(0.0)
        await caller.wait_for_quiet()
        # espeak-ng's Spanish is hard for Whisper base. "Hola, quiero saber el horario de
        # la panadería" came back as "Hola, ¿quién os sabe ver la viola de la panería?"
        # (CI, stop 19) and varied with the level and offset of the audio; this sentence
        # came through at half and 1.5x level and at four offsets, beam 1 and 5.
        question = synthesize_speech(
            "Quiero comprar pan, por favor.", tmp_path / "es.wav", voice="es"
        )

        def understood(text: str) -> bool:
            return mentions(text, ("quier", "compr", "pan", "favor")) >= 3

        heard, _ = await ask_aloud(caller, question, understood)
        assert understood(heard), heard
    finally:
        await caller.leave()


async def test_rejoining_with_a_spent_token_does_not_start_another_call(stack: Stack) -> None:
    caller, data = await start_call(stack)
    await caller.wait_reply("agent_text")
    await caller.leave()
    headers = {"x-api-key": stack.tenant.api_key}
    async with httpx.AsyncClient(base_url=stack.api.url) as http:
        for _ in range(100):
            record = (await http.get(f"/api/sessions/{data['session_id']}", headers=headers)).json()
            if record["status"] == "ended":
                break
            await asyncio.sleep(0.2)
        again = Caller()
        await again.join(data["livekit_url"], data["token"])  # the token is still valid
        try:
            # the worker sees the closed session and closes the room it recreated
            await asyncio.wait_for(again.disconnected.wait(), timeout=20)
            assert again.replies() == []  # no agent greeted, nobody answers
        finally:
            await again.leave()
        after = (await http.get(f"/api/sessions/{data['session_id']}", headers=headers)).json()
    assert after["end_reason"] == record["end_reason"] == "caller_left"
    assert after["usage"] == record["usage"] and after["turns"] == record["turns"]


async def test_call_ends_at_the_agents_maximum_duration(stack: Stack) -> None:
    short = make_tenant(stack.api.platform, llm_engine=TEST_LLM, greeting="", max_call_seconds=30)
    async with httpx.AsyncClient(base_url=stack.api.url) as http:
        resp = await http.post(
            "/api/agents/agent-session/",
            json={"agent": short.agent_id},
            headers={"x-api-key": short.api_key},
        )
        data = resp.json()["data"]
        caller = Caller()
        disconnected = asyncio.Event()
        caller.room.on("disconnected", lambda *_: disconnected.set())
        await caller.join(data["livekit_url"], data["token"])
        try:
            # the room is closed for the caller shortly after 30 s
            await asyncio.wait_for(disconnected.wait(), timeout=60)
        finally:
            await caller.leave()
        record = {}
        for _ in range(150):  # up to 30 s: the sweeper may be slow on 2 starved cores
            record = (
                await http.get(
                    f"/api/sessions/{data['session_id']}", headers={"x-api-key": short.api_key}
                )
            ).json()
            if record["status"] == "ended":
                break
            await asyncio.sleep(0.2)
    assert record["end_reason"] == "max_duration"
    assert 29 <= record["usage"]["duration_seconds"] <= 45


async def ended_record(stack: Stack, session_id: str, timeout: float = 30) -> dict[str, object]:
    headers = {"x-api-key": stack.tenant.api_key}
    async with httpx.AsyncClient(base_url=stack.api.url, headers=headers) as http:
        deadline = time.monotonic() + timeout
        while True:
            record: dict[str, object] = (await http.get(f"/api/sessions/{session_id}")).json()
            if record["status"] == "ended" or time.monotonic() > deadline:
                return record
            await asyncio.sleep(0.2)


async def test_revoking_a_live_call_removes_the_caller_within_seconds(stack: Stack) -> None:
    caller, data = await start_call(stack)
    try:
        await caller.wait_reply("agent_text")
        async with httpx.AsyncClient(base_url=stack.api.url) as http:
            resp = await http.post(
                f"/api/sessions/{data['session_id']}/revoke",
                headers={"x-api-key": stack.tenant.api_key},
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["status"] == "ended" and resp.json()["end_reason"] == "revoked"
            revoked = time.monotonic()
            await asyncio.wait_for(caller.disconnected.wait(), timeout=10)
            assert time.monotonic() - revoked < 5
            # another organisation cannot revoke (or see) it
            other = make_tenant(stack.api.platform)
            theirs = await http.post(
                f"/api/sessions/{data['session_id']}/revoke", headers={"x-api-key": other.api_key}
            )
            assert theirs.status_code == 404
        # the token cannot bring the call back
        again = Caller()
        await again.join(data["livekit_url"], data["token"])
        try:
            await asyncio.wait_for(again.disconnected.wait(), timeout=20)
            assert again.replies("agent_text") == []
        finally:
            await again.leave()
    finally:
        await caller.leave()
    record = await ended_record(stack, data["session_id"])
    assert record["end_reason"] == "revoked"


async def test_a_second_join_with_the_same_token_ends_the_call(stack: Stack) -> None:
    first, data = await start_call(stack)
    second = Caller()
    try:
        await first.wait_reply("agent_text")
        await second.join(data["livekit_url"], data["token"])
        # LiveKit hands the identity to the second join; the agent ends the call for both
        await asyncio.wait_for(first.disconnected.wait(), timeout=10)
        await asyncio.wait_for(second.disconnected.wait(), timeout=20)
        assert second.replies("agent_text") == []
    finally:
        await second.leave()
        await first.leave()
    record = await ended_record(stack, data["session_id"])
    assert record["end_reason"] == "duplicate_join"


async def test_a_caller_who_pauses_between_questions_hears_an_answer_to_each(
    call: tuple[Caller, dict[str, str]], tmp_path: Path
) -> None:
    """Ask, pause 2 s, ask again: each answer starts within the pause (if it came later,
    the next question would cut it off before a word was heard)."""
    caller, _ = call
    await caller.wait_reply("agent_text")
    await caller.wait_for_quiet()
    questions = ["When do you open?", "When do you close?", "Are you open on Monday?"]
    pause = np.zeros(2 * SAMPLE_RATE, dtype=np.int16)
    began = time.monotonic()
    for i, text in enumerate(questions):
        # one microphone stream: question, pause, question, ... with no gap in between
        await caller.speak(np.concatenate([synthesize_speech(text, tmp_path / f"q{i}.wav"), pause]))
    await caller.wait_for_quiet(timeout=120)
    answers = [m for m in caller.replies("agent_text", since=began) if m["text"].strip()]
    assert len(answers) >= len(questions), (answers, caller.replies("user_text", since=began))


async def test_interim_transcripts_reach_the_caller_while_they_speak(
    call: tuple[Caller, dict[str, str]], tmp_path: Path
) -> None:
    caller, _ = call
    await caller.wait_reply("agent_text")
    await caller.wait_for_quiet()
    question = synthesize_speech(
        "Good morning, I would like to know what time the bakery opens on weekdays, please.",
        tmp_path / "long.wav",
    )
    began = time.monotonic()
    end = await caller.speak(question)
    await caller.wait_reply("user_text", since=began, timeout=60)
    interims = [
        m for m in caller.messages if m.topic == "voice.events" and m.data.get("type") == "interim"
    ]
    during = [m for m in interims if began <= m.at <= end]
    assert during, f"no interim transcript while speaking; got {[m.data for m in interims]}"
    assert any(words(m.data["text"]) & {"morning", "like", "know", "bakery"} for m in during)


async def test_a_message_typed_while_the_caller_talks_is_answered(
    stack: Stack, tmp_path: Path
) -> None:
    caller, data = await start_call(stack)
    try:
        await caller.wait_reply("agent_text")
        await caller.wait_for_quiet()
        question = synthesize_speech(
            "Hello, I have a question about the opening hours of your bakery, please.",
            tmp_path / "q.wav",
        )
        talking = asyncio.create_task(caller.speak(question))
        await asyncio.sleep(1.5)  # mid-sentence
        typed = "Do you sell birthday cakes?"
        sent = await caller.send_text(typed)
        end = await talking
        assert (await caller.wait_reply("user_text", since=sent))["text"] == typed
        assert await caller.wait_reply("agent_text", since=end, timeout=90)
        await caller.wait_for_quiet(timeout=120)
    finally:
        await caller.leave()
    record = await ended_record(stack, data["session_id"])
    turns: list[dict[str, Any]] = record["turns"]  # type: ignore[assignment]
    # the typed message was taken into a turn that the agent answered in full: not a turn
    # of its own whose reply the spoken turn cut off before a word of it was heard
    at = next(i for i, t in enumerate(turns) if t["role"] == "user" and typed in t["text"])
    answer = turns[at + 1] if at + 1 < len(turns) else {}
    assert answer.get("role") == "agent" and answer["text"].strip(), turns
    assert not answer.get("metrics", {}).get("interrupted"), turns
