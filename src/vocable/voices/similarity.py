"""Speaker similarity between two recordings, for the voice-matching benchmark and tests.

Two measures:

- :class:`SpeakerEncoder`, the Resemblyzer speaker encoder (a 3-layer LSTM, 256-d
  d-vectors, trained on LibriSpeech/VoxCeleb) run with numpy alone. Its weights are the
  ``pretrained.pt`` that ships inside the ``resemblyzer`` wheel (Apache-2.0): the file is
  read here without torch (it is a legacy ``torch.save`` pickle, read with an unpickler
  that only accepts tensors and dicts). Its preprocessing follows Resemblyzer's (16 kHz,
  -30 dBFS, 40-band mel power spectrogram, 1.6 s partials at 1.3 per second) except
  that long silences are trimmed with an energy gate instead of WebRTC's VAD.
- :func:`acoustic_similarity`, NOT a neural speaker encoder: the cosine of standardised
  statistics vectors (MFCC means and deviations, F0 median and spread). It tracks timbre
  and pitch coarsely and is the measure used where the encoder's weights are absent.
"""

from __future__ import annotations

import collections
import importlib.util
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import parselmouth  # type: ignore[import-not-found]  # ships no type information

Floats = npt.NDArray[np.float32]

ENCODER_RATE = 16_000
_N_FFT = 400  # 25 ms
_HOP = 160  # 10 ms
_N_MELS = 40
_PARTIAL_FRAMES = 160  # 1.6 s
_HIDDEN = 256


class EncoderWeightsMissingError(RuntimeError):
    """The Resemblyzer weights are neither installed nor at the path given."""


def resample(samples: Floats, rate: int, target: int) -> Floats:
    """Mono float samples from ``rate`` to ``target`` Hz (FFmpeg's resampler, via PyAV)."""
    if rate == target:
        return samples.astype(np.float32)
    frame = av.AudioFrame.from_ndarray(
        samples.astype(np.float32).reshape(1, -1), format="flt", layout="mono"
    )
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    chunks = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


# --- reading the weights without torch ----------------------------------------------------

_DTYPES: dict[str, type[np.generic]] = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "LongStorage": np.int64,
}


@dataclass
class _Storage:
    dtype: type[np.generic]
    data: npt.NDArray[Any] | None = None


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> npt.NDArray[Any]:
        assert self.storage.data is not None
        item = self.storage.data.itemsize
        return np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset :],
            shape=self.size,
            strides=tuple(s * item for s in self.stride),
        ).copy()


def _rebuild_tensor(
    storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class _LegacyUnpickler(pickle.Unpickler):
    """Only tensors, storages and ordered dicts: anything else in the file is refused."""

    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return name
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the encoder weights")

    def persistent_load(self, pid: Any) -> Any:
        _, storage_type, key, _location, _size = pid[:5]
        return self.storages.setdefault(str(key), _Storage(_DTYPES[storage_type]))


def _walk(obj: Any) -> Any:
    if isinstance(obj, _TensorRef):
        return obj.array()
    if isinstance(obj, dict):
        return {k: _walk(v) for k, v in obj.items()}
    return obj


def read_legacy_torch_file(path: Path) -> dict[str, Any]:
    """The object in a legacy (pre-1.6, non-zip) ``torch.save`` file, tensors as arrays."""
    f = io.BytesIO(path.read_bytes())
    for _ in range(3):  # magic number, protocol version, system info: plain constants
        _LegacyUnpickler(f).load()
    unpickler = _LegacyUnpickler(f)
    result = unpickler.load()
    keys = _LegacyUnpickler(f).load()
    for key in keys:
        storage = unpickler.storages[str(key)]
        count = int(np.frombuffer(f.read(8), "<i8")[0])
        nbytes = count * np.dtype(storage.dtype).itemsize
        storage.data = np.frombuffer(f.read(nbytes), dtype=storage.dtype)
    if not isinstance(result, dict):
        raise ValueError("the encoder weights file holds no dictionary")
    walked: dict[str, Any] = _walk(result)
    return walked


def find_encoder_weights(extra: list[Path] | None = None) -> Path | None:
    """``pretrained.pt`` of an installed ``resemblyzer`` package (found without importing
    it, since its ``__init__`` imports torch), else the first of ``extra`` that exists."""
    spec = importlib.util.find_spec("resemblyzer")
    candidates = (
        [Path(p) / "pretrained.pt" for p in (spec.submodule_search_locations or [])] if spec else []
    )
    candidates += extra or []
    return next((p for p in candidates if p.is_file()), None)


# --- the encoder ------------------------------------------------------------------------


def _hz_to_mel(f: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    f_sp, min_log_hz, min_log_mel, logstep = 200.0 / 3, 1000.0, 15.0, np.log(6.4) / 27.0
    mels = f / f_sp
    log_part = min_log_mel + np.log(np.maximum(f, min_log_hz) / min_log_hz) / logstep
    return np.where(f >= min_log_hz, log_part, mels)


def _mel_to_hz(m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    f_sp, min_log_hz, min_log_mel, logstep = 200.0 / 3, 1000.0, 15.0, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(rate: int, n_fft: int, n_mels: int) -> npt.NDArray[np.float64]:
    """Slaney-style mel filters (librosa's default), shape ``(n_mels, n_fft // 2 + 1)``."""
    fft_freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    mel_f = _mel_to_hz(
        np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(rate / 2)), n_mels + 2)
    )
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]


def power_spectrogram(x: npt.NDArray[np.float64], n_fft: int, hop: int) -> npt.NDArray[np.float64]:
    """Centred (zero-padded) STFT power with a periodic Hann window: ``(frames, bins)``."""
    padded = np.pad(x, n_fft // 2)
    count = 1 + (len(padded) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return np.abs(np.fft.rfft(padded[idx] * window, axis=1)) ** 2


def _trim_long_silences(wav: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Resemblyzer's silence trimming with an energy gate in place of WebRTC's VAD."""
    win = 30 * ENCODER_RATE // 1000
    wav = wav[: len(wav) - len(wav) % win]
    if len(wav) == 0:
        return wav
    energy = 10 * np.log10((wav.reshape(-1, win) ** 2).mean(axis=1) + 1e-12)
    flags = (energy > max(energy.max() - 35.0, -60.0)).astype(np.float64)
    width = 8
    padded = np.concatenate((np.zeros((width - 1) // 2), flags, np.zeros(width // 2)))
    smooth = np.convolve(padded, np.ones(width) / width, mode="valid")
    mask = np.convolve(np.round(smooth), np.ones(7), mode="same") > 0
    kept = wav[np.repeat(mask, win)]
    return kept if len(kept) else wav


def _sigmoid(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    out: Floats = (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)
    return out


class SpeakerEncoder:
    """Resemblyzer's ``VoiceEncoder`` forward pass in numpy (see the module docstring)."""

    def __init__(self, *, weights: Path) -> None:
        checkpoint = read_legacy_torch_file(weights)
        state = checkpoint["model_state"]
        self._layers = [
            (
                state[f"lstm.weight_ih_l{i}"].astype(np.float32).T,
                state[f"lstm.weight_hh_l{i}"].astype(np.float32).T,
                (state[f"lstm.bias_ih_l{i}"] + state[f"lstm.bias_hh_l{i}"]).astype(np.float32),
            )
            for i in range(3)
        ]
        self._linear_w = state["linear.weight"].astype(np.float32).T
        self._linear_b = state["linear.bias"].astype(np.float32)
        self._mel = mel_filterbank(ENCODER_RATE, _N_FFT, _N_MELS)

    def _forward(self, mels: Floats) -> Floats:
        """``(batch, frames, 40)`` mel power → L2-normalised embeddings ``(batch, 256)``."""
        x = mels
        h = np.zeros((x.shape[0], _HIDDEN), np.float32)
        for w_ih, w_hh, bias in self._layers:
            pre = x @ w_ih + bias
            h = np.zeros((x.shape[0], _HIDDEN), np.float32)
            c = np.zeros_like(h)
            outputs = np.empty((x.shape[0], x.shape[1], _HIDDEN), np.float32)
            for t in range(x.shape[1]):
                g = pre[:, t] + h @ w_hh
                i, f, cell, o = np.split(g, 4, axis=1)  # PyTorch's gate order
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(cell)
                h = _sigmoid(o) * np.tanh(c)
                outputs[:, t] = h
            x = outputs
        raw = np.maximum(h @ self._linear_w + self._linear_b, 0.0)
        out: Floats = (raw / np.linalg.norm(raw, axis=1, keepdims=True).clip(1e-9)).astype(
            np.float32
        )
        return out

    def embed(self, samples: Floats, rate: int) -> Floats:
        """One utterance embedding (the normalised mean of its 1.6 s partials)."""
        wav = resample(samples, rate, ENCODER_RATE).astype(np.float64)
        rms = np.sqrt(np.mean(wav**2) + 1e-12)
        gain_db = -30.0 - 20 * np.log10(rms)
        if gain_db > 0:  # Resemblyzer only raises quiet input
            wav = wav * 10 ** (gain_db / 20)
        wav = _trim_long_silences(wav)
        n_frames = int(np.ceil((len(wav) + 1) / _HOP))
        frame_step = int(np.round(ENCODER_RATE / 1.3 / _HOP))
        starts = list(range(0, max(1, n_frames - _PARTIAL_FRAMES + frame_step + 1), frame_step))
        last_start = starts[-1] * _HOP
        coverage = (len(wav) - last_start) / (_PARTIAL_FRAMES * _HOP)
        if coverage < 0.75 and len(starts) > 1:
            starts = starts[:-1]
        needed = (starts[-1] + _PARTIAL_FRAMES) * _HOP
        wav = np.pad(wav, (0, max(0, needed - len(wav))))
        mel = (power_spectrogram(wav, _N_FFT, _HOP) @ self._mel.T).astype(np.float32)
        batch = np.stack([mel[s : s + _PARTIAL_FRAMES] for s in starts])
        mean = self._forward(batch).mean(axis=0)
        out: Floats = (mean / np.linalg.norm(mean)).astype(np.float32)
        return out

    def similarity(self, a: Floats, a_rate: int, b: Floats, b_rate: int) -> float:
        """Cosine similarity of the two recordings' embeddings (1.0 = same direction)."""
        return float(np.dot(self.embed(a, a_rate), self.embed(b, b_rate)))


# --- the fallback ------------------------------------------------------------------------


def _dct_matrix(n_in: int, n_out: int) -> npt.NDArray[np.float64]:
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    out: npt.NDArray[np.float64] = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(
        2.0 / n_in
    )
    return out


_FALLBACK_RATE = 16_000
_FALLBACK_FB = mel_filterbank(_FALLBACK_RATE, 512, 40)
_FALLBACK_DCT = _dct_matrix(40, 20)


def acoustic_profile(samples: Floats, rate: int) -> npt.NDArray[np.float64]:
    """MFCC 1-19 means and deviations over active frames, then log-F0 median and spread.

    A description of timbre and pitch, not of identity: see the module docstring.
    """
    wav = resample(samples, rate, _FALLBACK_RATE).astype(np.float64)
    power = power_spectrogram(wav, 512, 160)
    frame_db = 10 * np.log10(power.sum(axis=1) + 1e-12)
    active = power[frame_db > frame_db.max() - 35.0]
    mfcc = np.log(active @ _FALLBACK_FB.T + 1e-10) @ _FALLBACK_DCT.T
    mfcc = mfcc[:, 1:]
    pitch = parselmouth.Sound(wav, _FALLBACK_RATE).to_pitch(pitch_floor=60.0, pitch_ceiling=500.0)
    f0 = pitch.selected_array["frequency"]
    f0 = np.log(f0[f0 > 0]) if np.any(f0 > 0) else np.log(np.array([100.0]))
    return np.concatenate(
        [mfcc.mean(axis=0), mfcc.std(axis=0), [4.0 * np.median(f0), 4.0 * f0.std()]]
    )


def acoustic_distance(a: Floats, a_rate: int, b: Floats, b_rate: int) -> float:
    """Euclidean distance between the two :func:`acoustic_profile` vectors; lower is
    closer in timbre and pitch. NOT a neural speaker encoder (see the module docstring).
    """
    return float(np.linalg.norm(acoustic_profile(a, a_rate) - acoustic_profile(b, b_rate)))
