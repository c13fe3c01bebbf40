"""Reference clip intake: decoding by content, limits, normalisation, content-addressed storage."""

from __future__ import annotations

import hashlib
import io
import wave
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest

from vocable.outbound import OutboundPolicy
from vocable.voices import ClipRefusal, IntakeLimits, VoiceRefused, VoiceStore, prepare_clip
from vocable.voices.cache import UrlVoiceCache
from vocable.voices.decode import SAMPLE_RATE
from vocable.voices.intake import fetch_clip, provenance_url
from vocable.voices.normalise import PEAK_CEILING_DBFS, TARGET_RMS_DBFS, measure

LIMITS = IntakeLimits(
    max_bytes=10 * 1024 * 1024, min_seconds=3.0, max_seconds=60.0, decode_timeout_seconds=10.0
)
Floats = npt.NDArray[np.float64]


def voiced(seconds: float, rate: int = 16_000, *, level: float = 0.05) -> Floats:
    """A speech-like test signal: a gliding harmonic tone, syllable-shaped, with pauses."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    tone = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None)  # 200 ms syllables, then pauses
    return np.asarray(level * tone * envelope, dtype=np.float64)


def wav_bytes(samples: Floats, rate: int = 16_000, channels: int = 1) -> bytes:
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")
    if channels == 2:
        pcm = np.stack([pcm, pcm // 2], axis=1).reshape(-1)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def encoded(
    samples: Floats, rate: int, container: str, codec: str, out_rate: int, layout: str = "mono"
) -> bytes:
    """``samples`` encoded by PyAV (skips the test when this FFmpeg lacks the encoder)."""
    buffer = io.BytesIO()
    try:
        with av.open(buffer, mode="w", format=container) as out:
            # FFmpeg's own Vorbis encoder is marked experimental (and is stereo only)
            options = {"strict": "experimental"} if codec == "vorbis" else {}
            stream = out.add_stream(codec, rate=out_rate, layout=layout, options=options)
            context = stream.codec_context
            frame = av.AudioFrame.from_ndarray(
                samples.astype(np.float32).reshape(1, -1), format="fltp", layout="mono"
            )
            frame.sample_rate = rate
            resampler = av.AudioResampler(format=context.format, layout=layout, rate=out_rate)
            fifo = av.AudioFifo()
            for part in resampler.resample(frame) + resampler.resample(None):
                fifo.write(part)
            size = context.frame_size or 1024
            pts = 0
            while (chunk := fifo.read(size, partial=True)) is not None:
                chunk.pts, pts = pts, pts + chunk.samples
                for packet in stream.encode(chunk):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    except (av.FFmpegError, ValueError) as e:
        pytest.skip(f"this FFmpeg cannot encode {container}/{codec}: {e}")
    return buffer.getvalue()


def decoded_wav(data: bytes) -> tuple[wave._wave_params, npt.NDArray[np.float32]]:
    with wave.open(io.BytesIO(data), "rb") as clip:
        params = clip.getparams()
        frames = clip.readframes(params.nframes)
    return params, np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32767


def refusal(data: bytes, limits: IntakeLimits = LIMITS) -> str:
    with pytest.raises(VoiceRefused) as caught:
        prepare_clip(data, limits)
    return caught.value.reason


def test_stereo_wav_becomes_mono_24khz_at_the_target_level() -> None:
    clip = prepare_clip(wav_bytes(voiced(5.0, 44_100), 44_100, channels=2), LIMITS)
    params, samples = decoded_wav(clip.wav)
    assert (params.nchannels, params.framerate, params.sampwidth) == (1, SAMPLE_RATE, 2)
    assert clip.duration_seconds == pytest.approx(5.0, abs=0.01)
    assert len(samples) / SAMPLE_RATE == pytest.approx(5.0, abs=0.01)
    level = measure(samples)
    assert level.rms_dbfs == pytest.approx(TARGET_RMS_DBFS, abs=0.5)  # -26 dBFS in, -20 out
    assert level.peak_dbfs <= PEAK_CEILING_DBFS + 0.01
    assert clip.source_format == "wav/pcm_s16le"
    assert clip.sha256 == hashlib.sha256(clip.wav).hexdigest()


def test_peaky_clip_is_limited_by_its_peak_not_its_rms() -> None:
    signal = voiced(4.0, level=0.01)
    signal[::4000] = 0.9  # clicks: a high crest factor
    _, samples = decoded_wav(prepare_clip(wav_bytes(signal), LIMITS).wav)
    level = measure(samples)
    assert level.peak_dbfs == pytest.approx(PEAK_CEILING_DBFS, abs=0.05)
    assert level.rms_dbfs < TARGET_RMS_DBFS - 1


@pytest.mark.parametrize(
    ("container", "codec", "out_rate", "layout", "label"),
    [
        ("mp3", "libmp3lame", 24_000, "mono", "mp3/"),
        ("ogg", "libopus", 48_000, "mono", "ogg/opus"),
        ("ogg", "vorbis", 44_100, "stereo", "ogg/vorbis"),
        ("flac", "flac", 16_000, "mono", "flac/flac"),
        ("webm", "libopus", 48_000, "stereo", "webm/opus"),
    ],
)
def test_compressed_formats_decode_to_the_same_normalised_form(
    container: str, codec: str, out_rate: int, layout: str, label: str
) -> None:
    data = encoded(voiced(4.0), 16_000, container, codec, out_rate, layout)
    clip = prepare_clip(data, LIMITS)
    params, samples = decoded_wav(clip.wav)
    assert clip.source_format.startswith(label)
    assert (params.nchannels, params.framerate) == (1, SAMPLE_RATE)
    assert clip.duration_seconds == pytest.approx(4.0, abs=0.1)
    assert measure(samples).rms_dbfs == pytest.approx(TARGET_RMS_DBFS, abs=1.0)


@pytest.mark.parametrize(
    "data",
    [
        b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 4000,  # a WAV header over garbage
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 40,
        b"\xff\xfb" + b"not really an mp3 frame " * 400,
        b"OggS" + b"\x00" * 4000,
        b"fLaC" + b"\x01" * 4000,
        b"\x1a\x45\xdf\xa3" + b"\x42" * 4000,
        b"hello, this is a text file named voice.wav\n" * 100,
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 4000,
        b"",
    ],
    ids=["wav-header", "id3", "mp3-sync", "ogg", "flac", "webm", "text", "png", "empty"],
)
def test_bytes_that_only_look_like_audio_are_not_audio(data: bytes) -> None:
    assert refusal(data) == ClipRefusal.NOT_AUDIO


def test_accepted_container_with_a_codec_outside_its_list_is_not_audio() -> None:
    data = encoded(voiced(4.0), 16_000, "matroska", "flac", 16_000)  # WebM carries Opus/Vorbis
    assert refusal(data) == ClipRefusal.NOT_AUDIO


def test_truncated_mp3_is_refused_or_shorter_never_an_error() -> None:
    data = encoded(voiced(5.0), 16_000, "mp3", "libmp3lame", 24_000)
    try:
        clip = prepare_clip(data[: len(data) // 2], LIMITS)
    except VoiceRefused as e:
        assert e.reason in {ClipRefusal.NOT_AUDIO, ClipRefusal.TOO_SHORT}
    else:
        assert clip.duration_seconds < 4.0


def test_duration_bounds_and_size_and_silence_have_their_own_reasons() -> None:
    assert refusal(wav_bytes(voiced(1.0))) == ClipRefusal.TOO_SHORT
    assert refusal(wav_bytes(voiced(61.0, 8_000), 8_000)) == ClipRefusal.TOO_LONG
    assert refusal(wav_bytes(np.zeros(16_000 * 4))) == ClipRefusal.SILENT
    small = IntakeLimits(max_bytes=1024, min_seconds=3, max_seconds=60, decode_timeout_seconds=5)
    assert refusal(wav_bytes(voiced(4.0)), small) == ClipRefusal.TOO_LARGE


def test_long_compressed_clip_is_refused_while_decoding() -> None:
    data = encoded(voiced(12.0, 8_000), 8_000, "ogg", "libopus", 48_000)
    short = IntakeLimits(max_bytes=10**8, min_seconds=1, max_seconds=5, decode_timeout_seconds=10)
    assert refusal(data, short) == ClipRefusal.TOO_LONG


def test_decoding_past_its_time_bound_is_refused() -> None:
    hurried = IntakeLimits(
        max_bytes=10**8, min_seconds=1, max_seconds=60, decode_timeout_seconds=1e-9
    )
    assert refusal(wav_bytes(voiced(4.0)), hurried) == ClipRefusal.DECODE_TIMEOUT


def test_same_content_gives_the_same_voice_file(tmp_path: Path) -> None:
    data = wav_bytes(voiced(4.0))
    first, second = prepare_clip(data, LIMITS), prepare_clip(data, LIMITS)
    assert first.sha256 == second.sha256 and first.wav == second.wav
    store = VoiceStore(root=tmp_path)
    assert store.save(first.sha256, first.wav) == store.save(second.sha256, second.wav)
    assert [p.name for p in (tmp_path / first.sha256).iterdir()] == ["voice.wav"]
    assert store.audio_path(first.sha256).read_bytes() == first.wav


def test_store_removes_the_clip_with_its_enrolments_and_refuses_other_names(
    tmp_path: Path,
) -> None:
    store = VoiceStore(root=tmp_path)
    sha = "ab" * 32
    store.save(sha, b"RIFF")
    enrolment = store.enrolment_dir(sha, "dsp-match")
    enrolment.mkdir(parents=True)
    (enrolment / "profile.json").write_text("{}")
    store.remove(sha)
    assert not (tmp_path / sha).exists()
    for bad in ("../../etc/passwd", "AB" * 32, "ab" * 31, ""):
        with pytest.raises(ValueError):
            store.audio_path(bad)
    with pytest.raises(ValueError):
        store.enrolment_dir(sha, "../x")


def test_provenance_url_keeps_where_and_drops_the_query() -> None:
    url = "HTTPS://cdn.example.com:8443/voices/ada.wav?X-Amz-Signature=SECRET#frag"
    assert provenance_url(url) == "https://cdn.example.com:8443/voices/ada.wav"
    assert provenance_url("http://[2001:db8::1]/a.mp3?t=1") == "http://[2001:db8::1]/a.mp3"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:9/voice.wav", "private_address"),
        ("http://169.254.169.254/latest/meta-data", "private_address"),
        ("http://localhost/voice.wav", "host_not_allowed"),
        ("ftp://voices.example.com/voice.wav", "scheme_not_allowed"),
        ("http://user:pw@voices.example.com/voice.wav", "credentials_in_url"),
    ],
)
def test_forbidden_urls_are_refused_before_any_connection(url: str, reason: str) -> None:
    with pytest.raises(VoiceRefused) as caught:
        fetch_clip(url, OutboundPolicy(), LIMITS)
    assert caught.value.reason == reason
    assert "voice.wav" not in caught.value.message


def test_url_cache_is_per_organisation_and_expires() -> None:
    cache = UrlVoiceCache(max_entries=2)
    cache.put("org_a", "https://x.example/v.wav", "voc_1")
    assert cache.get("org_a", "https://x.example/v.wav", ttl=60) == "voc_1"
    assert cache.get("org_b", "https://x.example/v.wav", ttl=60) is None
    assert cache.get("org_a", "https://x.example/v.wav", ttl=0) is None  # expired
    cache.put("org_a", "u1", "voc_1")
    cache.put("org_a", "u2", "voc_2")
    cache.put("org_a", "u3", "voc_3")
    assert cache.get("org_a", "u1", ttl=60) is None  # least recently used went first
    cache.forget_voice("voc_3")
    assert cache.get("org_a", "u3", ttl=60) is None
    assert cache.get("org_a", "u2", ttl=60) == "voc_2"
