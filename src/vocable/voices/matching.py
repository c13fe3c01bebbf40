"""Embedded voice matching: move the base TTS voice toward a reference speaker with DSP.

No zero-shot cloning model ships in a package here, so the embedded engines keep their
own voice and this module changes three measurable things about it (see
``docs/benchmarks.md`` for what that buys):

1. **Pitch**: every chunk's median F0 is moved to the reference's median F0 (Praat's
   PSOLA via "Change gender"), its F0 range scaled toward the reference's (0.7-1.5x).
2. **Formants** (vocal-tract length): the geometric mean of the reference/base ratios of
   the median F1-F3 over voiced frames, clamped to ``FORMANT_RATIO_RANGE``; larger
   shifts make the speech hard to understand.
3. **Spectral tilt and colour**: a long-term average spectrum EQ, the difference between
   the reference's and the pitch/formant-shifted base voice's spectra in third-octave
   bands, smoothed, loudness-neutral and bounded to ``EQ_MAX_DB``; applied as a
   linear-phase FIR (``EQ_TAPS`` taps, a few milliseconds of delay).

:func:`analyse_voice` measures a voice, :func:`derive_params` turns a reference and a
sample of the base voice into :class:`MatchingParams` (the enrolment, a small JSON
document), and :class:`VoiceMatcher` applies them to one utterance chunk by chunk.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import parselmouth  # type: ignore[import-not-found]  # ships no type information
from parselmouth.praat import call  # type: ignore[import-not-found]

Floats = npt.NDArray[np.float32]

METHOD_VERSION = 1
"""Bumped whenever the analysis changes, so cached enrolments are recomputed."""
FORMANT_RATIO_RANGE = (0.95, 1.2)
PITCH_RANGE_FACTOR_RANGE = (0.7, 1.5)
EQ_MAX_DB = 9.0
"""Bound on the EQ's gain at any frequency, either way."""
EQ_TAPS = 255
EQ_BANDS_PER_OCTAVE = 3
EQ_LOW_HZ = 100.0
EQ_HIGH_HZ = 10_000.0
PITCH_FLOOR_HZ = 60.0
PITCH_CEILING_HZ = 500.0
OVERLAP_SECONDS = 0.03
"""Context each chunk shares with the one before it; the two renditions cross-fade there."""
MIN_CHUNK_SECONDS = 0.1
"""Shorter chunks are held until more audio arrives (PSOLA needs several pitch periods)."""


@dataclass(frozen=True, slots=True)
class VoiceProfile:
    """What :func:`analyse_voice` measured about one voice."""

    median_f0: float
    """Hz, over voiced frames."""
    f0_spread: float
    """Standard deviation of F0 in semitones, over voiced frames."""
    formants: tuple[float, float, float]
    """Median F1, F2, F3 (Hz) over voiced frames."""
    band_hz: tuple[float, ...]
    """Centres of the long-term spectrum bands."""
    band_db: tuple[float, ...]
    """Long-term average spectrum (dB) of the active frames, per band."""


@dataclass(frozen=True, slots=True)
class MatchingParams:
    """An enrolment: how to move one base voice toward one reference voice."""

    target_f0: float
    pitch_range_factor: float
    formant_ratio: float
    eq_hz: tuple[float, ...]
    eq_db: tuple[float, ...]
    version: int = METHOD_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> MatchingParams:
        data: dict[str, Any] = json.loads(text)
        return cls(
            target_f0=float(data["target_f0"]),
            pitch_range_factor=float(data["pitch_range_factor"]),
            formant_ratio=float(data["formant_ratio"]),
            eq_hz=tuple(float(v) for v in data["eq_hz"]),
            eq_db=tuple(float(v) for v in data["eq_db"]),
            version=int(data["version"]),
        )


def _band_centres() -> npt.NDArray[np.float64]:
    count = int(np.floor(EQ_BANDS_PER_OCTAVE * np.log2(EQ_HIGH_HZ / EQ_LOW_HZ))) + 1
    return EQ_LOW_HZ * 2.0 ** (np.arange(count) / EQ_BANDS_PER_OCTAVE)


def long_term_spectrum(
    samples: Floats, rate: int, centres: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Mean power (dB) per band around ``centres`` over the frames within 35 dB of the
    loudest (pauses do not count); bands above Nyquist repeat the last one below it."""
    n_fft = 1 << int(np.ceil(np.log2(rate * 0.04)))
    hop = n_fft // 2
    x = samples.astype(np.float64)
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    count = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
    power = np.abs(np.fft.rfft(x[idx] * np.hanning(n_fft), axis=1)) ** 2
    frame_db = 10 * np.log10(power.sum(axis=1) + 1e-20)
    mean = power[frame_db > frame_db.max() - 35.0].mean(axis=0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    half = 2.0 ** (1.0 / (2 * EQ_BANDS_PER_OCTAVE))
    out = np.empty(len(centres))
    last = -200.0
    for i, fc in enumerate(centres):
        sel = (freqs >= fc / half) & (freqs < fc * half)
        if fc * half <= rate / 2 and sel.any():
            last = float(10 * np.log10(mean[sel].mean() + 1e-20))
        out[i] = last
    return out


def analyse_voice(samples: Floats, rate: int) -> VoiceProfile:
    """Median F0 and F0 spread, median F1-F3 and the long-term spectrum of one voice.

    Raises ``ValueError`` when the audio holds too little voiced speech to measure.
    """
    sound = parselmouth.Sound(samples.astype(np.float64), float(rate))
    pitch = sound.to_pitch(
        time_step=0.01, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ
    )
    f0 = pitch.selected_array["frequency"]
    times = pitch.xs()
    voiced = f0 > 0
    if voiced.sum() < 10:
        raise ValueError("too little voiced speech to measure")
    median_f0 = float(np.median(f0[voiced]))
    spread = float(np.std(12 * np.log2(f0[voiced] / median_f0)))
    # a vocal tract's formants scale with F0 range: women's F5 sits near 5.5 kHz, men's ~5
    ceiling = 5500.0 if median_f0 > 160 else 5000.0
    formant = sound.to_formant_burg(
        time_step=0.01, max_number_of_formants=5, maximum_formant=ceiling
    )
    medians: list[float] = []
    for n in (1, 2, 3):
        values = np.array([formant.get_value_at_time(n, t) for t in times[voiced]])
        values = values[np.isfinite(values)]
        medians.append(float(np.median(values)) if len(values) else float("nan"))
    centres = _band_centres()
    ltas = long_term_spectrum(samples, rate, centres)
    return VoiceProfile(
        median_f0=median_f0,
        f0_spread=spread,
        formants=(medians[0], medians[1], medians[2]),
        band_hz=tuple(float(c) for c in centres),
        band_db=tuple(float(v) for v in ltas),
    )


def formant_ratio(reference: VoiceProfile, base: VoiceProfile) -> float:
    """Geometric mean of the F1-F3 ratios, clamped to ``FORMANT_RATIO_RANGE``."""
    ratios = [
        r / b for r, b in zip(reference.formants, base.formants, strict=True) if r > 0 and b > 0
    ]
    raw = float(np.exp(np.mean(np.log(ratios)))) if ratios else 1.0
    return float(np.clip(raw, *FORMANT_RATIO_RANGE))


def eq_curve(
    reference_db: npt.NDArray[np.float64], base_db: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Per-band gain (dB) taking ``base_db`` toward ``reference_db``: smoothed over
    neighbouring bands, loudness-neutral (zero power-weighted mean) and bounded."""
    diff = reference_db - base_db
    kernel = np.array([0.25, 0.5, 0.25])
    smooth = np.convolve(np.pad(diff, 1, mode="edge"), kernel, mode="valid")
    weights = 10 ** (base_db / 10)
    smooth -= 10 * np.log10(np.sum(weights * 10 ** (smooth / 10)) / np.sum(weights))
    return np.clip(smooth, -EQ_MAX_DB, EQ_MAX_DB)


def change_voice(
    samples: Floats, rate: int, *, target_f0: float, formant_ratio: float, range_factor: float
) -> Floats:
    """Praat's "Change gender" (PSOLA, formants by resampling), length and level kept.

    Chunks under 50 ms come back unchanged: PSOLA needs several pitch periods.
    """
    if len(samples) < rate // 20:
        return samples.astype(np.float32)
    sound = parselmouth.Sound(samples.astype(np.float64), float(rate))
    changed = call(
        sound,
        "Change gender",
        PITCH_FLOOR_HZ,
        PITCH_CEILING_HZ,
        formant_ratio,
        target_f0,
        range_factor,
        1.0,
    )
    out = np.asarray(changed.values[0], dtype=np.float32)
    out = (
        out[: len(samples)]
        if len(out) >= len(samples)
        else np.pad(out, (0, len(samples) - len(out)))
    )
    # PSOLA adds energy when it adds pitch periods: keep the chunk's level (within 6 dB)
    level_in = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    level_out = float(np.sqrt(np.mean(np.square(out, dtype=np.float64))))
    if level_in > 0 and level_out > 0:
        out *= np.float32(np.clip(level_in / level_out, 0.5, 2.0))
    return out


def derive_params(reference: VoiceProfile, base_samples: Floats, base_rate: int) -> MatchingParams:
    """The enrolment for ``reference`` on the base voice heard in ``base_samples``."""
    base = analyse_voice(base_samples, base_rate)
    ratio = formant_ratio(reference, base)
    range_factor = float(
        np.clip(reference.f0_spread / max(base.f0_spread, 1e-3), *PITCH_RANGE_FACTOR_RANGE)
    )
    shifted = change_voice(
        base_samples,
        base_rate,
        target_f0=reference.median_f0,
        formant_ratio=ratio,
        range_factor=range_factor,
    )
    centres = np.array(reference.band_hz)
    gains = eq_curve(np.array(reference.band_db), long_term_spectrum(shifted, base_rate, centres))
    return MatchingParams(
        target_f0=round(reference.median_f0, 2),
        pitch_range_factor=round(range_factor, 3),
        formant_ratio=round(ratio, 4),
        eq_hz=tuple(round(float(c), 1) for c in centres),
        eq_db=tuple(round(float(g), 2) for g in gains),
    )


def design_eq(params: MatchingParams, rate: int, taps: int = EQ_TAPS) -> npt.NDArray[np.float64]:
    """A linear-phase FIR whose response follows ``params.eq_db`` (log-frequency
    interpolation, flat beyond the outer bands), Hann-windowed to ``taps`` taps."""
    n_fft = 4096
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    log_f = np.log(np.maximum(freqs, 1.0))
    gains_db = np.interp(log_f, np.log(np.array(params.eq_hz)), np.array(params.eq_db))
    impulse = np.fft.irfft(10 ** (gains_db / 20), n_fft)
    half = taps // 2
    centred = np.concatenate([impulse[-half:], impulse[: half + 1]])
    return centred * np.hanning(taps + 2)[1:-1]


class VoiceMatcher:
    """Applies one enrolment to one utterance, chunk by chunk, in order.

    Output length equals input length over the utterance; each :meth:`process` returns
    what is ready, :meth:`flush` the rest. Boundaries stay continuous: each chunk is
    transformed with the last ``OVERLAP_SECONDS`` of the one before it as context and
    the two renditions of that overlap cross-fade; the EQ carries its filter state.
    Holds back the overlap plus the EQ's delay (about 36 ms at 22.05 kHz) until the
    next chunk or :meth:`flush`. Not thread-safe; one instance per utterance.
    """

    def __init__(self, params: MatchingParams, *, sample_rate: int) -> None:
        self._params = params
        self._rate = sample_rate
        self._fir = design_eq(params, sample_rate)
        self._delay = len(self._fir) // 2
        self._fir_state = np.zeros(len(self._fir) - 1, dtype=np.float64)
        self._overlap = int(OVERLAP_SECONDS * sample_rate)
        self._min_chunk = int(MIN_CHUNK_SECONDS * sample_rate)
        self._pending = np.zeros(0, dtype=np.float32)
        self._context = np.zeros(0, dtype=np.float32)  # last input samples already transformed
        self._held = np.zeros(0, dtype=np.float32)  # their output, not yet emitted
        self._emitted_delay = 0

    def process(self, chunk: Floats) -> Floats:
        """Transform the next chunk; returns the output that is ready (may be empty)."""
        self._pending = np.concatenate([self._pending, chunk.astype(np.float32)])
        if len(self._pending) < self._min_chunk:
            return np.zeros(0, dtype=np.float32)
        return self._eq(self._transform(final=False))

    def flush(self) -> Floats:
        """The rest of the utterance: pending input, held overlap and the EQ's tail."""
        out = self._transform(final=True) if len(self._pending) else self._take_held()
        tail = self._eq(np.concatenate([out, np.zeros(self._delay, dtype=np.float32)]))
        return tail

    def _take_held(self) -> Floats:
        held, self._held = self._held, np.zeros(0, dtype=np.float32)
        return held

    def _transform(self, *, final: bool) -> Floats:
        fresh = self._pending
        self._pending = np.zeros(0, dtype=np.float32)
        context = self._context
        changed = change_voice(
            np.concatenate([context, fresh]),
            self._rate,
            target_f0=self._params.target_f0,
            formant_ratio=self._params.formant_ratio,
            range_factor=self._params.pitch_range_factor,
        )
        n = len(context)
        if n:
            fade = np.linspace(0.0, 1.0, n, dtype=np.float32)
            changed[:n] = self._held * (1 - fade) + changed[:n] * fade
        keep = 0 if final else min(self._overlap, len(fresh))
        self._context = fresh[len(fresh) - keep :] if keep else np.zeros(0, dtype=np.float32)
        self._held = changed[len(changed) - keep :].copy() if keep else np.zeros(0, np.float32)
        return changed[: len(changed) - keep]

    def _eq(self, x: Floats) -> Floats:
        """Causal FIR with carried state; the first ``delay`` outputs (filter warm-up of
        the utterance) are dropped, so the output lines up with the input."""
        if len(x) == 0:
            return np.zeros(0, dtype=np.float32)
        buffer = np.concatenate([self._fir_state, x.astype(np.float64)])
        y = np.convolve(buffer, self._fir, mode="valid")
        self._fir_state = buffer[len(buffer) - len(self._fir_state) :]
        skip = min(self._delay - self._emitted_delay, len(y))
        self._emitted_delay += skip
        return np.clip(y[skip:], -1.0, 1.0).astype(np.float32)
