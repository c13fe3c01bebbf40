"""Cloning engines: what the caller waits for, healthy and when the engine breaks.

The call's TTS when it uses a cloning engine is ``FallbackAdapter([cloned, embedded])``
(``vocable.worker.voice``). For one sentence this measures time to first audio and to
the last audio, through that adapter, in five situations:

- ``embedded``: eSpeak NG alone (the baseline every ratio is relative to);
- ``engine ok``: the local stand-in cloning server (Chatterbox TTS API wire format,
  ``tests.support.clone_engines``) over real HTTP on loopback: our request code's cost;
- ``engine 503``: the server answers an error: the sentence goes to eSpeak;
- ``engine refused``: nothing listens on the port;
- ``engine hung``: a server accepts the connection and never answers: the sentence
  goes to eSpeak after ``VOCABLE_VOICE_ENGINE_READ_TIMEOUT_SECONDS`` (4 s by default).

Each run uses a fresh adapter (a failed engine is otherwise skipped for later sentences,
while a probe checks when it is back). The stand-in engine answers at once with a tone,
so "engine ok" is transport and decoding only; a real engine adds its own synthesis time.

    .venv/bin/python -m bench.voice_fallback [--runs 5] [--read-timeout 4]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from livekit.agents import tts
from tests.support.audio import voiced_clip
from tests.support.clone_engines import EngineState, chatterbox_app, running_engine
from tests.support.net import free_port

from vocable.providers.cloned_tts import ClonedTTS
from vocable.providers.espeak_tts import EspeakTTS
from vocable.voices.engines import CloneServer

SENTENCE = "Thanks for calling, how can I help you with your order today?"


async def timed(make: Callable[[], tts.TTS[Any]]) -> tuple[float, float]:
    """(ms to first audio, ms to the end) of one sentence."""
    engine = make()
    start = time.perf_counter()
    first = None
    async with engine.synthesize(SENTENCE) as stream:
        async for _ in stream:
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    await engine.aclose()
    assert first is not None, "no audio"
    return (first - start) * 1000, (end - start) * 1000


async def hung_server() -> tuple[asyncio.Server, int]:
    async def _never_answer(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up

    server = await asyncio.start_server(_never_answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def run(runs: int, read_timeout: float) -> None:
    state = EngineState()
    label = "bench"
    with running_engine(chatterbox_app(state), state) as fake:
        ok = CloneServer(base_url=fake.url)
        voice = await ok.create_voice(voiced_clip(rate=24_000), label=label)
        hung, hung_port = await hung_server()
        dead = f"http://127.0.0.1:{free_port()}"

        def adapter(base_url: str) -> Callable[[], tts.TTS[Any]]:
            def make() -> tts.TTS[Any]:
                cloned = ClonedTTS(
                    engine=CloneServer(base_url=base_url),
                    voice_id=voice,
                    language="en",
                    read_timeout=read_timeout,
                )
                return tts.FallbackAdapter([cloned, EspeakTTS(language="en")], max_retry_per_tts=0)

            return make

        async def failing() -> tuple[float, float]:
            state.fail_speech = 503
            try:
                return await timed(adapter(fake.url))
            finally:
                state.fail_speech = None

        cases: list[tuple[str, Callable[[], Awaitable[tuple[float, float]]]]] = [
            ("embedded", lambda: timed(lambda: EspeakTTS(language="en"))),
            ("engine ok", lambda: timed(adapter(fake.url))),
            ("engine 503", failing),
            ("engine refused", lambda: timed(adapter(dead))),
            ("engine hung", lambda: timed(adapter(f"http://127.0.0.1:{hung_port}"))),
        ]
        print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; runs: {runs}")
        print(f"read timeout: {read_timeout:.1f} s; sentence: {len(SENTENCE)} characters\n")
        print(f"{'case':<16}{'first audio ms':>16}{'last audio ms':>16}{'first/embedded':>16}")
        baseline = None
        for name, case in cases:
            await case()  # warm-up
            results = [await case() for _ in range(runs)]
            first = statistics.median(r[0] for r in results)
            last = statistics.median(r[1] for r in results)
            baseline = baseline or first
            print(f"{name:<16}{first:>16.1f}{last:>16.1f}{first / baseline:>15.2f}x")
        hung.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--read-timeout", type=float, default=4.0)
    args = parser.parse_args()
    socket.setdefaulttimeout(30)
    logging.basicConfig(level=logging.ERROR)  # each fallback logs a warning by design
    asyncio.run(run(args.runs, args.read_timeout))


if __name__ == "__main__":
    main()
