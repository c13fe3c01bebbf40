"""Junk on the browser protocol's data topics during a live call.

:func:`junk_packets` makes random, oversized and malformed packets (bytes that are not
UTF-8, text that is not JSON, JSON that is not an object, deep nesting, wrong types,
NUL, lone surrogates, huge texts); none of them is a message the agent may answer.
:func:`flood` publishes them from a headless caller as fast as the SDK takes them, most
on ``voice.user_text`` and some on other topics.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.support.caller import Caller

USER_TEXT = "voice.user_text"
OTHER_TOPICS = ("voice.reply", "voice.events", "", "lk.chat", "x" * 200)
MAX_PACKET = 60_000
"""Largest packet sent: above our 16 KiB limit, below LiveKit's 64 KiB for one packet."""


def _random_bytes(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice((0, 1, 7, 100, 2_000, rng.randrange(1, MAX_PACKET))))


def _invalid_utf8(rng: random.Random) -> bytes:
    bad = rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"))
    return b'{"type":"user_text","text":"' + bad * rng.randrange(1, 50) + b'"}'


def _not_json(rng: random.Random) -> bytes:
    return rng.choice(
        (
            b"user_text",
            b"{type: 'user_text', text: 'hi'}",
            b'{"type":"user_text","text":"hi"',
            b'{"type":"user_text","text":"hi"}}',
            b"\xef\xbb\xbf" + b'{"type":"user_text","text":"bom"}',
            b"NaN",
            b"\x00" * rng.randrange(1, 500),
            "\u202e\u200b".encode() * 100,
        )
    )


def _not_an_object(rng: random.Random) -> bytes:
    return rng.choice(
        (
            b"[]",
            b'["user_text","hi"]',
            b"42",
            b"-1e999",
            b"null",
            b"true",
            b'"user_text"',
            b"[" * rng.randrange(10, 20_000) + b"]" * rng.randrange(0, 10),
            b'{"a":' * 3_000 + b"1" + b"}" * 3_000,
            json.dumps([{"type": "user_text", "text": "hi"}]).encode(),
        )
    )


def _wrong_fields(rng: random.Random) -> bytes:
    text: object = rng.choice(
        (
            None,
            42,
            1.5,
            True,
            [],
            ["hi"],
            {"text": "hi"},
            "",
            "   \n\t ",
            "a" * rng.randrange(4_001, 15_000),  # over the 4,000-character limit
            "\u00e9" * 9_000,  # over 16 KiB as UTF-8
        )
    )
    body: dict[str, object] = {"type": "user_text", "text": text}
    variant = rng.randrange(5)
    if variant == 0:
        body["type"] = rng.choice(("agent_text", "USER_TEXT", "", None, 1, "user_text\x00"))
        body["text"] = "hi"
    elif variant == 1:
        del body["text"]
    elif variant == 2:
        body = {"Type": "user_text", "Text": "hi"}
    return json.dumps(body).encode()


def _bad_characters(rng: random.Random) -> bytes:
    # valid JSON whose text a database or UTF-8 encoder refuses: NUL, lone surrogates
    text = rng.choice(("a\u0000b", "\ud800", "hi \udfff there", "\udbff\udbff", "\x00"))
    return json.dumps({"type": "user_text", "text": text}).encode()  # \\u escapes


def _huge(rng: random.Random) -> bytes:
    return json.dumps({"type": "user_text", "text": "z" * rng.randrange(16_000, MAX_PACKET - 40)})[
        :MAX_PACKET
    ].encode()


GENERATORS: tuple[Callable[[random.Random], bytes], ...] = (
    _random_bytes,
    _invalid_utf8,
    _not_json,
    _not_an_object,
    _wrong_fields,
    _bad_characters,
    _huge,
)


def junk_packets(count: int, seed: int) -> list[tuple[str, bytes]]:
    """``count`` (topic, payload) pairs; about 1 in 20 goes to another topic."""
    rng = random.Random(seed)
    packets = []
    for _ in range(count):
        payload = rng.choice(GENERATORS)(rng)[:MAX_PACKET]
        topic = rng.choice(OTHER_TOPICS) if rng.random() < 0.05 else USER_TEXT
        packets.append((topic, payload))
    return packets


@dataclass
class FloodResult:
    sent: int = 0
    sent_on_user_text: int = 0
    refused_by_sdk: int = 0
    bytes_sent: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


async def flood(
    caller: Caller, packets: list[tuple[str, bytes]], in_flight: int = 32
) -> FloodResult:
    """Publish ``packets`` reliably with up to ``in_flight`` publishes outstanding."""
    result = FloodResult()
    gate = asyncio.Semaphore(in_flight)

    async def one(topic: str, payload: bytes) -> None:
        async with gate:
            try:
                await caller.send_raw(payload, topic=topic)
            except Exception as exc:  # noqa: BLE001 - the SDK's refusal is counted, not fatal
                result.refused_by_sdk += 1
                if len(result.errors) < 5:
                    result.errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
                return
            result.sent += 1
            result.bytes_sent += len(payload)
            if topic == USER_TEXT:
                result.sent_on_user_text += 1

    began = time.monotonic()
    await asyncio.gather(*(one(t, p) for t, p in packets))
    result.seconds = time.monotonic() - began
    return result


@dataclass
class FuzzedCall:
    """What a fuzzed call looked like from the caller and in its call record."""

    flood: FloodResult
    agent_present_after: bool
    echo: str
    reply: str
    answer_seconds: float
    record: dict[str, object]


QUESTION = "When do you open?"


async def fuzz_call(
    api_url: str, api_key: str, agent_id: str, *, count: int, seed: int
) -> FuzzedCall:
    """A ``text_only`` call: greeting, ``count`` junk packets, then one real question."""
    async with httpx.AsyncClient(base_url=api_url, headers={"x-api-key": api_key}) as http:
        resp = await http.post(
            "/api/agents/agent-session/", json={"agent": agent_id, "text_only": True}
        )
        resp.raise_for_status()
        data = resp.json()["data"]
        caller = Caller()
        await caller.join(data["livekit_url"], data["token"])
        try:
            await caller.wait_reply("agent_text", timeout=120)  # the agent is running
            result = await flood(caller, junk_packets(count, seed))
            await asyncio.sleep(1.0)  # let the worker drain what is still in flight
            present = bool(caller.room.remote_participants) and not caller.disconnected.is_set()
            sent = await caller.send_text(QUESTION)
            echo = await caller.wait_reply("user_text", since=sent, timeout=60)
            reply = await caller.wait_reply("agent_text", since=sent, timeout=120)
            answered = time.monotonic() - sent
        finally:
            await caller.leave()
        record: dict[str, object] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            record = (await http.get(f"/api/sessions/{data['session_id']}")).json()
            if record.get("status") == "ended":
                break
            await asyncio.sleep(0.3)
    return FuzzedCall(result, present, echo["text"], reply["text"], answered, record)
