"""Reference clip intake: bytes or a URL in, a normalised, content-addressed clip out."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from vocable.outbound import OutboundPolicy, OutboundRefused, Resolver, fetch, system_resolver
from vocable.settings import Settings
from vocable.voices.decode import SAMPLE_RATE, decode_clip
from vocable.voices.errors import ClipRefusal, VoiceRefused
from vocable.voices.normalise import normalise, to_wav

AUDIO_ACCEPT = (
    "audio/*",
    "video/webm",  # what browsers' MediaRecorder and many CDNs call WebM audio
    "application/ogg",
    "application/octet-stream",  # object stores that do not know the type
    "binary/octet-stream",  # the same, as S3 writes it
)


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakeLimits:
    max_bytes: int
    min_seconds: float
    max_seconds: float
    decode_timeout_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> IntakeLimits:
        return cls(
            max_bytes=settings.voice_max_bytes,
            min_seconds=settings.voice_min_seconds,
            max_seconds=settings.voice_max_seconds,
            decode_timeout_seconds=settings.voice_decode_timeout_seconds,
        )


@dataclass(frozen=True, slots=True)
class Clip:
    """A normalised reference clip, ready to store under ``sha256``."""

    wav: bytes = field(repr=False)
    """16-bit mono WAV at ``SAMPLE_RATE``, loudness-normalised."""
    sha256: str
    """SHA-256 of ``wav``: the voice's storage key."""
    duration_seconds: float
    source_format: str
    sample_rate: int = SAMPLE_RATE


def prepare_clip(data: bytes, limits: IntakeLimits) -> Clip:
    """Decode, check and normalise one clip; raises ``VoiceRefused``. CPU-bound, blocking."""
    if len(data) > limits.max_bytes:
        raise too_large(limits)
    decoded = decode_clip(
        data, max_seconds=limits.max_seconds, timeout_seconds=limits.decode_timeout_seconds
    )
    if decoded.duration_seconds < limits.min_seconds:
        raise VoiceRefused(
            ClipRefusal.TOO_SHORT,
            f"The reference clip is shorter than {limits.min_seconds:g} seconds",
        )
    wav = to_wav(normalise(decoded.samples))
    return Clip(
        wav=wav,
        sha256=hashlib.sha256(wav).hexdigest(),
        duration_seconds=round(decoded.duration_seconds, 3),
        source_format=decoded.source_format,
    )


def fetch_clip(
    url: str,
    policy: OutboundPolicy,
    limits: IntakeLimits,
    *,
    resolver: Resolver = system_resolver,
) -> Clip:
    """Fetch ``url`` under the outbound ``policy`` (audio types only, at most
    ``limits.max_bytes``) and prepare it; raises ``VoiceRefused``. Blocking."""
    bounded = dataclasses.replace(policy, max_bytes=min(policy.max_bytes, limits.max_bytes))
    try:
        result = fetch(url, bounded, accept=AUDIO_ACCEPT, resolver=resolver)
    except OutboundRefused as e:
        raise VoiceRefused.from_outbound(e) from None
    return prepare_clip(result.body, limits)


def too_large(limits: IntakeLimits) -> VoiceRefused:
    return VoiceRefused(
        ClipRefusal.TOO_LARGE, f"The reference clip is larger than {limits.max_bytes} bytes"
    )


def provenance_url(url: str) -> str:
    """``url`` as recorded for provenance: scheme, host, port and path only.

    The query and fragment are dropped (signed object-store URLs carry their credential
    there) and so is any user information; what remains says where the clip came from.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", "", ""))
