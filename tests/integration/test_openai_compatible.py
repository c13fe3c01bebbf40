"""The inference server (``vocable.inference``) in its own process, used as a real client
would: through livekit's openai plugin (what ``openai-compatible`` engines are built from)
and through plain HTTP for the error paths."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import openai as openai_sdk
import pytest
from livekit import rtc
from livekit.agents import llm
from livekit.plugins import openai
from tests.support.net import free_port

from vocable.processes import stop_process, wait_until_answering
from vocable.providers.gguf_weights import MODELS, WeightsNotInstalledError, part_paths

CHAT_MODEL = "qwen2.5-0.5b"
SHOP_FACTS = (
    "You are the receptionist of a bicycle shop. Answer in one short sentence.\n"
    "The shop opens at nine o'clock."
)
# Whisper tiny.en hears espeak-ng's robotic voice badly; this sentence came through whole.
SPOKEN = "Hello, my name is John and I would like a pizza."
MIN_RMS = 500.0  # int16; silence or near-silence is far below this

LAUNCHER = """\
import os, sys
from vocable.inference import run_inference_server
from vocable.settings import Settings
run_inference_server(
    Settings(), host="127.0.0.1", port=int(sys.argv[1]), api_key=os.environ["TEST_INFERENCE_KEY"]
)
"""


@dataclass(frozen=True)
class InferenceServer:
    base_url: str
    """Ends in ``/v1``, as ``VOCABLE_OPENAI_BASE_URL`` would."""
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InferenceServer]:
    """The server on a free loopback port, in a child process that is always stopped."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    try:
        part_paths(MODELS[CHAT_MODEL])
    except WeightsNotInstalledError as e:
        pytest.skip(str(e))
    port = free_port()
    key = secrets.token_urlsafe(16)
    env = {
        **os.environ,
        "TEST_INFERENCE_KEY": key,
        "VOCABLE_LLM_THREADS": "2",
        "VOCABLE_STT_THREADS": "2",
        "VOCABLE_TTS_THREADS": "1",
        "VOCABLE_LOG_LEVEL": "warning",
        # as `vocable worker` does: idle llama.cpp threads would spin and slow Whisper/Piper
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    log_path = tmp_path_factory.mktemp("inference") / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(port)], env=env, stdout=log, stderr=log
        )
        try:
            wait_until_answering(
                f"http://127.0.0.1:{port}/healthz",
                proc,
                timeout=60,
                details=lambda: ":\n" + log_path.read_text()[-3000:],
            )
            yield InferenceServer(base_url=f"http://127.0.0.1:{port}/v1", api_key=key)
        finally:
            stop_process(proc)


def _rms(frame: rtc.AudioFrame) -> float:
    samples = np.frombuffer(frame.data, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


async def test_openai_sdk_lists_every_model_id(server: InferenceServer) -> None:
    # livekit's LLM.prewarm() makes this same call.
    async with openai_sdk.AsyncClient(base_url=server.base_url, api_key=server.api_key) as client:
        ids = {m.id async for m in client.models.list()}

    assert {"qwen2.5-0.5b", "qwen2.5-1.5b", "whisper-1", "tts-1", "espeak-ng"} <= ids


async def test_livekit_llm_streams_an_answer_found_in_the_system_prompt(
    server: InferenceServer,
) -> None:
    engine = openai.LLM(
        model=CHAT_MODEL, base_url=server.base_url, api_key=server.api_key, temperature=0.0
    )
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="system", content=SHOP_FACTS)
    ctx.add_message(role="user", content="What time does the shop open?")
    pieces: list[str] = []
    usage: llm.CompletionUsage | None = None
    try:
        async with engine.chat(chat_ctx=ctx) as stream:
            async for chunk in stream:
                if chunk.delta and chunk.delta.content:
                    pieces.append(chunk.delta.content)
                usage = chunk.usage or usage
    finally:
        await engine.aclose()

    reply = "".join(pieces).lower()
    assert re.search(r"\b(nine|9)\b", reply), reply
    assert len(pieces) > 1  # streamed, not sent whole
    assert usage is not None and usage.completion_tokens > 0 and usage.prompt_tokens > 0


@pytest.mark.parametrize("response_format", ["mp3", "pcm", "wav"])
async def test_livekit_tts_synthesizes_speech(
    server: InferenceServer, response_format: str
) -> None:
    # mp3 is the plugin's default (and what the registry's openai.TTS asks for): the server
    # answers WAV and says so in Content-Type, which the plugin decodes.
    speaker = openai.TTS(
        model="tts-1",
        voice="alloy",
        base_url=server.base_url,
        api_key=server.api_key,
        response_format=response_format,
    )
    try:
        async with speaker.synthesize("Hello, the shop opens at nine.") as stream:
            frame = await stream.collect()
    finally:
        await speaker.aclose()

    assert frame.sample_rate == 24_000
    assert frame.num_channels == 1
    assert 1.0 <= frame.duration <= 6.0
    assert _rms(frame) > MIN_RMS


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
async def test_livekit_stt_transcribes_espeak_speech(
    server: InferenceServer, tmp_path: Path
) -> None:
    wav_path = tmp_path / "spoken.wav"
    subprocess.run(["espeak-ng", "-w", str(wav_path), SPOKEN], check=True, timeout=30)
    with wave.open(str(wav_path), "rb") as wav:
        pcm = wav.readframes(wav.getnframes())
        # 22.05 kHz, sent as it is: the server converts any rate to Whisper's 16 kHz.
        frame = rtc.AudioFrame(pcm, wav.getframerate(), 1, len(pcm) // 2)
    listener = openai.STT(
        model="whisper-1", language="en", base_url=server.base_url, api_key=server.api_key
    )
    try:
        event = await listener.recognize(frame)
    finally:
        await listener.aclose()

    text = event.alternatives[0].text.lower()
    assert "john" in text and "pizza" in text, text
    assert event.alternatives[0].language == "en"


def test_non_streamed_completion_stops_at_max_tokens(server: InferenceServer) -> None:
    body = {
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": "Count from one to fifty in words."}],
        "max_tokens": 6,
        "temperature": 0,
    }
    response = httpx.post(
        f"{server.base_url}/chat/completions", json=body, headers=server.auth, timeout=60
    )

    assert response.status_code == 200, response.text
    completion = response.json()
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["finish_reason"] == "length"
    assert completion["choices"][0]["message"]["content"]
    assert completion["usage"]["completion_tokens"] == 6


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key"}])
def test_requests_without_the_key_are_refused_in_openai_shape(
    server: InferenceServer, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{server.base_url}/models", headers=headers, timeout=10)

    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "invalid_api_key"


@pytest.mark.parametrize(
    ("path", "request_args"),
    [
        (
            "/chat/completions",
            {"json": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}},
        ),
        ("/audio/speech", {"json": {"model": "gpt-4o-mini-tts", "input": "hi", "voice": "ash"}}),
        (
            "/audio/transcriptions",
            {"data": {"model": "gpt-4o-transcribe"}, "files": {"file": ("a.wav", b"RIFF")}},
        ),
    ],
)
def test_unknown_model_is_404_in_openai_shape(
    server: InferenceServer, path: str, request_args: dict[str, object]
) -> None:
    response = httpx.post(
        server.base_url + path,
        headers=server.auth,
        timeout=10,
        **request_args,  # type: ignore[arg-type]
    )

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "model_not_found"
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    "content",
    [
        b'{"model": "qwen2.5-0.5b"}',
        b'{"model": "qwen2.5-0.5b", "messages": [], "stream": true}',
        b"{not json",
    ],
)
def test_malformed_chat_body_is_400_in_openai_shape(
    server: InferenceServer, content: bytes
) -> None:
    response = httpx.post(
        f"{server.base_url}/chat/completions",
        content=content,
        headers={**server.auth, "Content-Type": "application/json"},
        timeout=10,
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
