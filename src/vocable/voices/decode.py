"""Decode a reference clip with PyAV into mono float samples at one fixed rate.

The container is told apart by its signature only to pick the one demuxer that may read
it: FFmpeg never probes the bytes against its other demuxers (some of which open further
URLs or files, such as HLS playlists). Whether the clip is audio is then settled by
decoding it, with a codec allow-list per container, a duration bound checked while
decoding (a long file is refused without being decoded in full) and a wall-clock bound.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

from vocable.voices.errors import ClipRefusal, VoiceRefused

SAMPLE_RATE = 24_000
"""Every stored voice has this rate: what the embedded TTS engines speak at."""

_PCM = frozenset(
    {
        "pcm_s16le",
        "pcm_s24le",
        "pcm_s32le",
        "pcm_f32le",
        "pcm_f64le",
        "pcm_u8",
        "pcm_alaw",
        "pcm_mulaw",
    }
)
# demuxer -> (label, decoders it may carry)
_CONTAINERS: dict[str, tuple[str, frozenset[str]]] = {
    "wav": ("wav", _PCM),
    "mp3": ("mp3", frozenset({"mp3", "mp3float"})),
    "ogg": ("ogg", frozenset({"opus", "vorbis", "flac"})),
    "flac": ("flac", frozenset({"flac"})),
    "matroska": ("webm", frozenset({"opus", "vorbis"})),
}

Samples = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class DecodedClip:
    samples: Samples
    """Mono, ``SAMPLE_RATE``, float32 in [-1, 1] (before normalisation)."""
    source_format: str
    """Container and codec as found, e.g. ``ogg/opus``."""

    @property
    def duration_seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def sniff_container(data: bytes) -> str | None:
    """The FFmpeg demuxer for ``data`` by its signature, or None when it is no accepted type."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM / Matroska
        return "matroska"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "mp3"  # an ID3 tag or an MPEG audio frame sync
    return None


def _not_audio(detail: str) -> VoiceRefused:
    return VoiceRefused(
        ClipRefusal.NOT_AUDIO,
        f"The reference clip must be WAV, MP3, OGG (Opus, Vorbis), FLAC or WebM audio: {detail}",
    )


def decode_clip(data: bytes, *, max_seconds: float, timeout_seconds: float) -> DecodedClip:
    """Decode ``data`` to mono ``SAMPLE_RATE`` samples; raises ``VoiceRefused``.

    Refuses (``not_audio``) anything but the accepted containers and codecs or a file
    that fails to decode, (``too_long``) as soon as more than ``max_seconds`` decoded,
    and (``decode_timeout``) when decoding runs past ``timeout_seconds``.
    """
    demuxer = sniff_container(data)
    if demuxer is None:
        raise _not_audio("the file is not in an accepted format")
    label, codecs = _CONTAINERS[demuxer]
    deadline = time.monotonic() + timeout_seconds
    max_samples = int(max_seconds * SAMPLE_RATE)
    try:
        with av.open(io.BytesIO(data), mode="r", format=demuxer) as container:
            stream = next((s for s in container.streams if s.type == "audio"), None)
            if stream is None:
                raise _not_audio("the file holds no audio stream")
            codec = stream.codec_context.name
            if codec not in codecs:
                raise _not_audio(f"{label} with {codec} audio is not accepted")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            chunks: list[Samples] = []
            total = 0
            for packet in container.demux(stream):
                for frame in packet.decode():
                    for out in resampler.resample(frame):  # type: ignore[arg-type]
                        chunk = out.to_ndarray().reshape(-1).astype(np.float32, copy=True)
                        chunks.append(chunk)
                        total += len(chunk)
                if total > max_samples:
                    raise VoiceRefused(
                        ClipRefusal.TOO_LONG,
                        f"The reference clip is longer than {max_seconds:g} seconds",
                    )
                if time.monotonic() > deadline:
                    raise VoiceRefused(
                        ClipRefusal.DECODE_TIMEOUT,
                        f"The reference clip took longer than {timeout_seconds:g} s to decode",
                    )
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=True))
    except (av.FFmpegError, EOFError) as e:
        raise _not_audio("the file does not decode") from e
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if len(samples) > max_samples:
        raise VoiceRefused(
            ClipRefusal.TOO_LONG, f"The reference clip is longer than {max_seconds:g} seconds"
        )
    if len(samples) == 0 or not np.isfinite(samples).all():
        raise _not_audio("the file decodes to no usable samples")
    return DecodedClip(samples=samples, source_format=f"{label}/{codec}")
