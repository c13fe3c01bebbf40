"""espeak-ng text-to-speech for the languages the packaged Piper voice cannot speak.

espeak-ng is GPL-3, so it runs as a separate program (the Debian ``espeak-ng`` package), never
linked: each utterance is one ``espeak-ng --stdout`` process whose WAV output is parsed and
emitted as PCM while it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import shutil
import struct
import subprocess
from dataclasses import dataclass
from typing import Never

from livekit.agents import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions, APIError, tts, utils

logger = logging.getLogger(__name__)

PROGRAM = "espeak-ng"

# espeak-ng's own default rate; ``speed=1.0`` means this many words per minute.
_DEFAULT_WORDS_PER_MINUTE = 175
_MIN_WORDS_PER_MINUTE = 80
_MAX_WORDS_PER_MINUTE = 450

# Every espeak-ng voice (other than mbrola ones, which we do not use) renders at 22.05 kHz.
# The rate actually used for frames is read from each WAV header.
ESPEAK_SAMPLE_RATE = 22050

# BCP-47 regions whose Spanish is Latin American; espeak-ng has one voice for them all.
_LATIN_AMERICA = frozenset(
    "419 ar bo cl co cr cu do ec gt hn mx ni pa pe pr py sv us uy ve".split()
)

_READ_SIZE = 4096


class EspeakMissingError(RuntimeError):
    """The ``espeak-ng`` program is not installed."""


def _program_path() -> str:
    path = shutil.which(PROGRAM)
    if path is None:
        raise EspeakMissingError(f"{PROGRAM} is not installed (Debian: apt-get install espeak-ng)")
    return path


@functools.cache
def installed_voices() -> frozenset[str]:
    """Names ``espeak-ng -v`` accepts: each voice's language and its other-language aliases.

    Read once per process from ``espeak-ng --voices``.
    """
    listing = subprocess.run(  # noqa: S603 -- fixed argv, absolute program path, no shell
        [_program_path(), "--voices"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    names: set[str] = set()
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 2:
            continue
        names.add(fields[1].lower())
        # "Other Languages" look like "(es-mx 6)(es 6)"
        for alias in line.split("(")[1:]:
            names.add(alias.split()[0].lower())
    return frozenset(names)


def espeak_voice_for(language: str) -> str:
    """The espeak-ng voice for a BCP-47 language tag.

    Tries the language with its region (``pt-BR`` → ``pt-br``; Latin American Spanish →
    ``es-419``), then the base language (``fr-CA`` → ``fr``), then English.
    """
    parts = language.strip().replace("_", "-").lower().split("-")
    base = parts[0]
    # A region is two letters or three digits; scripts (4 letters) and variants are dropped.
    region = next(
        (p for p in parts[1:] if (len(p) == 2 and p.isalpha()) or (len(p) == 3 and p.isdigit())),
        None,
    )
    candidates: list[str] = []
    if region is not None:
        if base == "es" and region in _LATIN_AMERICA:
            candidates.append("es-419")
        candidates.append(f"{base}-{region}")
    candidates.append(base)
    voices = installed_voices()
    for candidate in candidates:
        if candidate in voices:
            return candidate
    logger.warning("no espeak-ng voice for %r; speaking it with the English voice", language)
    return "en"


def words_per_minute(speed: float) -> int:
    """espeak-ng's ``-s`` value for a speaking rate relative to its default."""
    wpm = round(_DEFAULT_WORDS_PER_MINUTE * speed)
    return max(_MIN_WORDS_PER_MINUTE, min(_MAX_WORDS_PER_MINUTE, wpm))


class EspeakTTS(tts.TTS[Never]):  # no events beyond the base ones
    """espeak-ng as a livekit-agents TTS: 100+ languages, robotic, very fast."""

    def __init__(self, *, language: str, speed: float = 1.0) -> None:
        """Speak ``language`` (a BCP-47 tag) at ``speed`` times espeak-ng's default rate.

        Raises:
            EspeakMissingError: the program is not installed.
        """
        if speed <= 0:
            raise ValueError("speed must be positive")
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=ESPEAK_SAMPLE_RATE,
            num_channels=1,
        )
        self._program = _program_path()
        self._voice = espeak_voice_for(language)
        self._words_per_minute = words_per_minute(speed)

    @property
    def voice(self) -> str:
        """The espeak-ng voice chosen for the language."""
        return self._voice

    @property
    def model(self) -> str:
        """The espeak-ng voice in use."""
        return self._voice

    @property
    def provider(self) -> str:
        """The engine's name."""
        return PROGRAM

    def command(self) -> list[str]:
        """The argv of one utterance; the text goes to standard input, never on the line."""
        return [
            self._program,
            "--stdout",
            "--stdin",  # read all of stdin as one text (not line by line)
            "-b",
            "1",  # stdin is UTF-8
            "-v",
            self._voice,
            "-s",
            str(self._words_per_minute),
        ]

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> EspeakChunkedStream:
        """Start speaking ``text``; iterate the result for audio frames."""
        return EspeakChunkedStream(tts=self, input_text=text, conn_options=conn_options)


class EspeakChunkedStream(tts.ChunkedStream):
    """One utterance from :class:`EspeakTTS`: one ``espeak-ng`` process."""

    def __init__(self, *, tts: EspeakTTS, input_text: str, conn_options: APIConnectOptions) -> None:
        """Created by :meth:`EspeakTTS.synthesize`."""
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._espeak = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        if not self.input_text.strip():
            # espeak-ng writes nothing at all for blank text, not even a header.
            output_emitter.initialize(
                request_id=utils.shortuuid(),
                sample_rate=self._espeak.sample_rate,
                num_channels=1,
                mime_type="audio/pcm",
            )
            return
        proc = await asyncio.create_subprocess_exec(
            *self._espeak.command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await self._speak(proc, output_emitter)
        finally:
            if proc.returncode is None:
                # Cancelled or failed mid-utterance: leave no espeak-ng process behind.
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()

    async def _speak(
        self, proc: asyncio.subprocess.Process, output_emitter: tts.AudioEmitter
    ) -> None:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        # Drained concurrently so a chatty stderr can never block the audio pipe.
        stderr_task = asyncio.create_task(proc.stderr.read())
        try:
            proc.stdin.write(self.input_text.encode("utf-8"))
            # A process that already died (bad voice) closes its stdin; its exit code says why.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await proc.stdin.drain()
            proc.stdin.close()

            audio_format = await _read_wav_header(proc.stdout)
            if audio_format is not None:
                output_emitter.initialize(
                    request_id=utils.shortuuid(),
                    sample_rate=audio_format.sample_rate,
                    num_channels=audio_format.num_channels,
                    mime_type="audio/pcm",
                )
                while chunk := await proc.stdout.read(_READ_SIZE):
                    output_emitter.push(chunk)
            returncode = await proc.wait()
            stderr = await stderr_task
        finally:
            stderr_task.cancel()
        if returncode != 0 or audio_format is None:
            message = stderr.decode("utf-8", "replace").strip() or "no audio"
            raise APIError(f"{PROGRAM} exited with {returncode}: {message}", retryable=False)
        output_emitter.flush()


@dataclass(frozen=True)
class _WavFormat:
    sample_rate: int
    num_channels: int


async def _read_wav_header(stdout: asyncio.StreamReader) -> _WavFormat | None:
    """Read a WAV header up to the start of its samples; None if the stream ended first.

    espeak-ng writes to a pipe, so the sizes in the header are placeholders: the data chunk
    simply runs to the end of the stream.
    """
    try:
        riff = await stdout.readexactly(12)
        if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            raise APIError(f"{PROGRAM} did not write WAV audio", retryable=False)
        fmt: tuple[int, int, int, int] | None = None
        while True:
            chunk_id, size = struct.unpack("<4sI", await stdout.readexactly(8))
            if chunk_id == b"data":
                break
            body = await stdout.readexactly(size + (size & 1))  # chunks are word-aligned
            if chunk_id == b"fmt ":
                tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
                fmt = (tag, channels, rate, bits)
    except asyncio.IncompleteReadError:
        return None
    if fmt is None or fmt[0] != 1 or fmt[3] != 16:
        raise APIError(f"{PROGRAM} wrote WAV that is not 16-bit PCM: {fmt}", retryable=False)
    return _WavFormat(sample_rate=fmt[2], num_channels=fmt[1])
