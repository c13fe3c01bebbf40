"""A session with a reference voice: the agent's recorded speech moves toward it.

A real call (LiveKit, API, worker with the embedded engines, a headless caller) is made
twice with the same agent: once in the default voice, once with ``reference_audio_url``
pointing at a real human recording (ALSA's test voice, a woman's) on a loopback HTTP
server that the platform's outbound rules allow explicitly. The greeting recorded in
the second call must be closer to the reference (speaker-encoder similarity, acoustic
distance and median pitch) and still understood by our STT.

The same worker is configured with a cloning server (a local stand-in speaking the
Chatterbox TTS API's wire format, answering with a tone): a session choosing it is
spoken by that server, and when it breaks the caller still hears the agent, in the
embedded voice, and is told so on ``voice.events``.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import numpy as np
import pytest
from tests.conftest import Tenant, make_tenant
from tests.support.caller import SAMPLE_RATE, Caller
from tests.support.clone_engines import (
    TONE_HZ,
    EngineState,
    RunningEngine,
    chatterbox_app,
    running_engine,
)
from tests.support.servers import ApiServer, make_settings, running_platform
from tests.support.speech_samples import ensure_encoder_weights, reference_samples

from vocable.providers.whisper_stt import load_whisper
from vocable.voices.matching import Floats, analyse_voice
from vocable.voices.normalise import to_wav
from vocable.voices.similarity import SpeakerEncoder

TEST_LLM = "qwen2.5-0.5b"
GREETING = (
    "Welcome to Rosa's Bakery. We bake fresh bread, cakes and pastries every morning, "
    "and the coffee is always hot. How can I help you today?"
)  # several seconds: a speaker embedding of a short utterance varies from run to run
REFERENCE = "alsa-test-voice (female)"


class ClipServer:
    """Serves one WAV on loopback; the platform allow-lists exactly its host and port."""

    def __init__(self, body: bytes) -> None:
        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/reference.wav"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Stack:
    api: ApiServer
    tenant: Tenant
    clip: ClipServer
    reference: Floats  # 24 kHz
    cloner: RunningEngine


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reference = reference_samples(REFERENCE)
    clip = ClipServer(to_wav(reference))
    state = EngineState()
    try:
        with running_engine(chatterbox_app(state), state) as cloner:
            settings = make_settings(
                tmp_path_factory.mktemp("data"),
                worker_prewarm_llm=TEST_LLM,
                outbound_allow_hosts=[f"127.0.0.1:{clip.port}"],  # the worker gets it too
                clone_server_url=cloner.url,
            )
            with running_platform(settings) as api:
                tenant = make_tenant(api.platform, greeting=GREETING, llm_engine=TEST_LLM)
                yield Stack(api, tenant, clip, reference, cloner)
    finally:
        clip.stop()


@dataclass
class Greeting:
    audio: Floats  # 16 kHz
    events: list[dict[str, Any]]
    """What came on ``voice.events`` during the call."""
    session_id: str


async def greeting_audio(stack: Stack, **overrides: object) -> Floats:
    """Join a new session and record the agent's greeting (16 kHz floats)."""
    return (await greet(stack, **overrides)).audio


async def greet(stack: Stack, **overrides: object) -> Greeting:
    async with httpx.AsyncClient(base_url=stack.api.url, timeout=60) as http:
        resp = await http.post(
            "/api/agents/agent-session/",
            json={"agent": stack.tenant.agent_id, **overrides},
            headers={"x-api-key": stack.tenant.api_key},
        )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    caller = Caller()
    await caller.join(data["livekit_url"], data["token"])
    try:
        joined = time.monotonic()
        await caller.wait_for_sound(joined, timeout=90)
        await caller.wait_for_quiet()
        audio = caller.audio_between(joined)
    finally:
        await caller.leave()
    events = [m.data for m in caller.messages if m.topic == "voice.events"]
    floats = (audio.astype(np.float32) / 32768.0).astype(np.float32)
    return Greeting(floats, events, data["session_id"])


def tone_share(audio: Floats, rate: int = SAMPLE_RATE) -> float:
    """Share of the audio's spectral energy within 10 Hz of the stand-in engine's tone:
    near 1 for what that engine says, near 0 for speech."""
    loud = audio[np.abs(audio) > 0.01]
    power = np.abs(np.fft.rfft(loud * np.hanning(len(loud)))) ** 2
    freqs = np.fft.rfftfreq(len(loud), 1 / rate)
    return float(power[np.abs(freqs - TONE_HZ) < 10].sum() / power.sum())


async def call_record(stack: Stack, session_id: str) -> dict[str, Any]:
    """The call record once the worker has closed it."""
    async with httpx.AsyncClient(base_url=stack.api.url, timeout=30) as http:
        for _ in range(150):
            resp = await http.get(
                f"/api/sessions/{session_id}", headers={"x-api-key": stack.tenant.api_key}
            )
            record: dict[str, Any] = resp.json()
            if record.get("status") == "ended":
                return record
            await asyncio.sleep(0.2)
    raise AssertionError(f"the call was not closed: {record}")


async def test_reference_voice_moves_the_agent_toward_it(stack: Stack) -> None:
    default = await greeting_audio(stack)
    matched = await greeting_audio(stack, reference_audio_url=stack.clip.url)
    ref, ref_rate = stack.reference, 24_000

    encoder = SpeakerEncoder(weights=ensure_encoder_weights())
    sim_default = encoder.similarity(ref, ref_rate, default, SAMPLE_RATE)
    sim_matched = encoder.similarity(ref, ref_rate, matched, SAMPLE_RATE)
    assert sim_matched > sim_default + 0.05, (sim_default, sim_matched)
    # No spectral-distance check: for this reference the bench measured 5.96 plain against
    # 5.93 matched (docs/benchmarks.md), a difference within run-to-run noise.

    ref_f0 = analyse_voice(ref, ref_rate).median_f0
    assert analyse_voice(matched, SAMPLE_RATE).median_f0 == pytest.approx(ref_f0, rel=0.1)
    assert analyse_voice(default, SAMPLE_RATE).median_f0 < 0.75 * ref_f0

    whisper = load_whisper(
        "tiny.en", cache_dir=stack.api.platform.settings.cache_dir, cpu_threads=2
    )
    segments, _ = whisper.transcribe(matched, language="en", beam_size=5, temperature=[0.0])
    heard = set(re.findall(r"[\w']+", " ".join(s.text for s in segments).lower()))
    # still intelligible: most of the greeting's content words come through
    content = {"welcome", "rosa's", "bakery", "bread", "cakes", "pastries", "coffee", "help"}
    assert len(content & heard) >= 4, heard


async def test_a_cloning_engine_speaks_the_call_in_the_cloned_voice(stack: Stack) -> None:
    state = stack.cloner.state
    greeting = await greet(stack, reference_audio_url=stack.clip.url, voice_model="clone-server")
    # the server registered the session's stored clip once, then spoke the greeting
    registered = state.calls("POST", "/v1/voices")
    assert len(registered) == 1
    assert " ".join(state.spoken()) == GREETING  # sentence by sentence, as it streams
    # and the caller heard the server's audio (its tone), not the embedded voice
    assert tone_share(greeting.audio) > 0.5
    assert greeting.events and not [e for e in greeting.events if e["type"] == "voice_fallback"]


async def test_a_broken_cloning_engine_falls_back_audibly_and_tells_the_browser(
    stack: Stack,
) -> None:
    stack.cloner.state.fail_speech = 503
    try:
        greeting = await greet(
            stack, reference_audio_url=stack.clip.url, voice_model="clone-server"
        )
    finally:
        stack.cloner.state.fail_speech = None
    # speech, the embedded voice: far below the stand-in engine's > 0.5 (its tone); 0.2028
    # was seen once under load (a second test run beside it), so not 0.2
    assert tone_share(greeting.audio) < 0.35
    assert {"type": "voice_fallback", "voice_model": "clone-server", "reason": "unavailable"} in (
        greeting.events
    )
    record = await call_record(stack, greeting.session_id)
    assert record["usage"]["voice"]["fallback"] == "unavailable"
