"""Reference voices: safe intake of a clip (upload or URL), normalised storage by content
hash, and the per-organisation records with their provenance.

- ``intake``: ``prepare_clip`` (bytes) and ``fetch_clip`` (URL, through
  ``vocable.outbound``) decode with PyAV, bound size, duration and decode time, and
  normalise to 16-bit mono WAV at 24 kHz (gated RMS -20 dBFS, peak at most -1 dBFS);
- ``store``: ``<data_dir>/voices/<sha256>/voice.wav`` plus ``enrolments/<engine>/`` for
  whatever a voice-matching or cloning engine derives from it;
- ``service``: ``Voice`` records (deduplicated per organisation), linking agents,
  deletion (audio and enrolments go with the last record of that content).

Every refusal is a ``VoiceRefused`` whose ``reason`` the API returns with a 422.
"""

from vocable.voices.errors import ClipRefusal, VoiceRefused
from vocable.voices.intake import AUDIO_ACCEPT, Clip, IntakeLimits, fetch_clip, prepare_clip
from vocable.voices.store import VoiceStore, is_sha256

__all__ = [
    "AUDIO_ACCEPT",
    "Clip",
    "ClipRefusal",
    "IntakeLimits",
    "VoiceRefused",
    "VoiceStore",
    "fetch_clip",
    "is_sha256",
    "prepare_clip",
]
