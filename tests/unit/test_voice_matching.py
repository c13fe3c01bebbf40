"""Voice matching: enrolment on signals with known pitch and formants, the per-chunk
transform (length, continuity, bounded gain), its cache, and the streaming TTS wrapper."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from livekit.agents import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions, tts, utils

from vocable.providers import matched_tts
from vocable.providers.matched_tts import MatchedTTS, ReferenceClip, session_tts
from vocable.voices.enrolment import EnrolmentCache, engine_key, enrol
from vocable.voices.matching import (
    EQ_MAX_DB,
    FORMANT_RATIO_RANGE,
    Floats,
    MatchingParams,
    VoiceMatcher,
    analyse_voice,
    derive_params,
    eq_curve,
    formant_ratio,
)
from vocable.voices.normalise import to_wav

RATE = 22_050
SHA = "a" * 64


def vowel(
    seconds: float,
    f0: float,
    *,
    formants: tuple[float, ...] = (700.0, 1200.0, 2600.0),
    rate: int = RATE,
    tilt_db_per_octave: float = -6.0,
) -> Floats:
    """A voiced test signal: harmonics of ``f0`` (with 1% vibrato) shaped by resonances
    at ``formants``, in syllables separated by short pauses."""
    t = np.arange(int(seconds * rate)) / rate
    inst_f0 = f0 * (1 + 0.01 * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(inst_f0) / rate
    out = np.zeros_like(t)
    for k in range(1, int(rate / 2 / f0)):
        freq = k * f0
        gain = 2 ** (tilt_db_per_octave / 6 * np.log2(k))
        gain *= sum(1.0 / (1.0 + ((freq - f) / (0.08 * f)) ** 2) for f in formants) + 0.05
        out += gain * np.sin(k * phase)
    envelope = np.clip(np.sin(np.pi * t / 0.5) ** 2 * 1.5, 0, 1)  # 0.5 s syllables
    out *= envelope
    return (0.3 * out / np.abs(out).max()).astype(np.float32)


@pytest.fixture(scope="module")
def base() -> Floats:
    return vowel(4.0, 110.0)


@pytest.fixture(scope="module")
def params(base: Floats) -> MatchingParams:
    reference = vowel(4.0, 200.0, formants=(800.0, 1400.0, 3000.0), tilt_db_per_octave=-9.0)
    return derive_params(analyse_voice(reference, RATE), base, RATE)


@pytest.mark.parametrize("f0", [95.0, 140.0, 220.0])
def test_enrolment_measures_the_median_pitch_of_a_voiced_signal(f0: float) -> None:
    profile = analyse_voice(vowel(3.0, f0), RATE)
    assert profile.median_f0 == pytest.approx(f0, rel=0.02)


def test_enrolment_measures_formants_and_clamps_their_ratio() -> None:
    low = analyse_voice(vowel(3.0, 120.0, formants=(600.0, 1500.0, 2500.0)), RATE)
    high = analyse_voice(vowel(3.0, 120.0, formants=(720.0, 1800.0, 3000.0)), RATE)
    assert formant_ratio(high, low) == pytest.approx(1.2, abs=0.06)
    far = dataclasses.replace(high, formants=tuple(2 * f for f in high.formants))
    assert formant_ratio(far, low) == FORMANT_RATIO_RANGE[1]
    assert formant_ratio(low, far) == FORMANT_RATIO_RANGE[0]


def test_silence_cannot_be_enrolled() -> None:
    with pytest.raises(ValueError, match="voiced"):
        analyse_voice(np.zeros(RATE * 3, dtype=np.float32), RATE)


def test_eq_is_bounded_and_keeps_loudness() -> None:
    base_db = np.linspace(0, -40, 20)
    gains = eq_curve(base_db + np.linspace(30, -30, 20), base_db)
    assert np.abs(gains).max() <= EQ_MAX_DB
    weights = 10 ** (base_db / 10)
    assert abs(10 * np.log10(np.sum(weights * 10 ** (gains / 10)) / weights.sum())) < 3.0


def test_enrolment_targets_the_reference_pitch(params: MatchingParams) -> None:
    assert params.target_f0 == pytest.approx(200.0, rel=0.02)
    assert FORMANT_RATIO_RANGE[0] <= params.formant_ratio <= FORMANT_RATIO_RANGE[1]
    assert MatchingParams.from_json(params.to_json()) == params


def run(matcher: VoiceMatcher, signal: Floats, sizes: list[int]) -> Floats:
    out, start = [], 0
    for size in sizes:
        out.append(matcher.process(signal[start : start + size]))
        start += size
    out.append(matcher.process(signal[start:]))
    out.append(matcher.flush())
    return np.concatenate(out)


def test_transform_keeps_length_over_any_chunking(base: Floats, params: MatchingParams) -> None:
    for sizes in ([], [1000, 50, 30000, 7], [RATE // 5] * 15):
        out = run(VoiceMatcher(params, sample_rate=RATE), base, sizes)
        assert len(out) == len(base)


def test_transform_moves_pitch_to_the_target(base: Floats, params: MatchingParams) -> None:
    out = run(VoiceMatcher(params, sample_rate=RATE), base, [RATE // 2] * 6)
    assert analyse_voice(out, RATE).median_f0 == pytest.approx(params.target_f0, rel=0.05)


def test_chunk_boundaries_have_no_clicks(base: Floats, params: MatchingParams) -> None:
    whole = run(VoiceMatcher(params, sample_rate=RATE), base, [])
    step = 9_001  # boundaries in the middle of syllables
    chunked = run(VoiceMatcher(params, sample_rate=RATE), base, [step] * (len(base) // step))
    jumps = np.abs(np.diff(chunked))
    assert jumps.max() <= 1.25 * np.abs(np.diff(whole)).max()
    for boundary in range(step, len(base) - step, step):
        local = jumps[boundary - 200 : boundary + 200]
        elsewhere = np.abs(np.diff(whole[boundary - 2000 : boundary + 2000]))
        assert local.max() <= 1.25 * elsewhere.max() + 1e-3


def test_gain_is_bounded(base: Floats, params: MatchingParams) -> None:
    loud = dataclasses.replace(params, eq_db=tuple(EQ_MAX_DB for _ in params.eq_db))
    out = run(VoiceMatcher(loud, sample_rate=RATE), base, [RATE])
    rms_in, rms_out = np.sqrt(np.mean(base**2)), np.sqrt(np.mean(out**2))
    assert 20 * np.log10(rms_out / rms_in) <= EQ_MAX_DB + 1.0
    assert np.abs(out).max() <= 1.0


def test_enrolments_are_cached_per_voice_and_engine(tmp_path: Path, base: Floats) -> None:
    cache = EnrolmentCache(root=tmp_path)
    clip = to_wav(vowel(4.0, 180.0, rate=24_000))
    params = enrol(clip, base, RATE)
    engine = engine_key("piper", "en_US-joe-medium")
    assert engine == "piper-en_us-joe-medium"
    assert cache.load(SHA, engine) is None
    cache.save(SHA, engine, params)
    assert cache.load(SHA, engine) == params
    assert cache.path(SHA, engine).is_relative_to(tmp_path / SHA / "enrolments" / engine)
    cache.path(SHA, engine).write_text('{"version": 0}')
    assert cache.load(SHA, engine) is None


class BurstTTS(tts.TTS[Any]):
    """A fake embedded engine: speaks ``bursts`` one after another, waiting for
    ``release`` before the last one (as Piper computes the next sentence)."""

    def __init__(self, bursts: list[Floats]) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False), sample_rate=RATE, num_channels=1
        )
        self.bursts = bursts
        self.release = asyncio.Event()

    @property
    def provider(self) -> str:
        return "piper"

    @property
    def model(self) -> str:
        return "fake"

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        return _BurstStream(tts=self, input_text=text, conn_options=conn_options)


class _BurstStream(tts.ChunkedStream):
    def __init__(self, *, tts: BurstTTS, input_text: str, conn_options: APIConnectOptions):
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._fake = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid(), sample_rate=RATE, num_channels=1, mime_type="audio/pcm"
        )
        for i, burst in enumerate(self._fake.bursts):
            if i == len(self._fake.bursts) - 1:
                await self._fake.release.wait()
            output_emitter.push((burst * 32767).astype("<i2").tobytes())
        output_emitter.flush()


async def test_wrapper_streams_each_burst_as_it_comes(base: Floats, params: MatchingParams) -> None:
    half = len(base) // 2
    inner = BurstTTS([base[:half], base[half:]])
    matched = MatchedTTS(base=inner, params=params)
    received = 0
    async with matched.synthesize("two sentences") as stream:
        async for audio in stream:
            received += audio.frame.samples_per_channel
            if not inner.release.is_set() and received >= half - RATE // 10:
                inner.release.set()  # the first sentence arrived before the second exists
    assert inner.release.is_set()
    assert abs(received - len(base)) <= RATE // 20  # the emitter pads its last frame


async def test_session_voice_enrols_once_and_falls_back_on_errors(
    tmp_path: Path, base: Floats, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = to_wav(vowel(4.0, 180.0, rate=24_000))
    fetched: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetched.append(request.url.path)
        if request.url.path.endswith(SHA):
            return httpx.Response(200, content=clip)
        return httpx.Response(404)

    monkeypatch.setattr(matched_tts, "_base_samples", {"piper-fake": (base, RATE)})
    monkeypatch.setattr(matched_tts, "_memory", {})
    inner = BurstTTS([base])
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(handler), base_url="http://api"
    ) as http:

        def ref(path: str) -> ReferenceClip:  # one per call
            return ReferenceClip(http, path)

        args: dict[str, Any] = {"cache_root": tmp_path}
        first = await session_tts(inner, sha256=SHA, clip=ref(f"/internal/voices/{SHA}"), **args)
        again = await session_tts(inner, sha256=SHA, clip=ref(f"/internal/voices/{SHA}"), **args)
        missing = await session_tts(inner, sha256="b" * 64, clip=ref("/internal/voices/x"), **args)
        none = await session_tts(inner, sha256=None, clip=None, **args)
    assert isinstance(first, MatchedTTS) and isinstance(again, MatchedTTS)
    assert first.params == again.params
    assert fetched == [f"/internal/voices/{SHA}", "/internal/voices/x"]  # enrolled once
    assert missing is inner and none is inner
    assert (tmp_path / SHA / "enrolments" / "piper-fake").is_dir()


async def test_wrapper_speaks_unmatched_when_the_transform_fails(
    base: Floats, params: MatchingParams, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: VoiceMatcher, chunk: Floats) -> Floats:
        raise RuntimeError("Praat refused")

    monkeypatch.setattr(VoiceMatcher, "process", refuse)
    inner = BurstTTS([base])
    inner.release.set()
    async with MatchedTTS(base=inner, params=params).synthesize("hello") as stream:
        frame = await stream.collect()
    assert abs(frame.samples_per_channel - len(base)) <= RATE // 20
