"""A short per-URL memory of which voice a session's ``reference_audio_url`` gave."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict


class UrlVoiceCache:
    """Maps (organisation, URL) to a voice id for ``ttl`` seconds, least recently used out.

    Only a hint: callers load the voice and check its organisation and audio before
    using it, so a deleted voice or another database behind the same process is never
    served. Keys are hashes, so the URLs (whose queries may hold tokens) are not kept.
    """

    def __init__(self, *, max_entries: int = 1024) -> None:
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    @staticmethod
    def _key(org_id: str, url: str) -> str:
        return hashlib.sha256(f"{org_id}\x00{url}".encode()).hexdigest()

    def get(self, org_id: str, url: str, *, ttl: float) -> str | None:
        key = self._key(org_id, url)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            stored_at, voice_id = entry
            if time.monotonic() - stored_at > ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return voice_id

    def put(self, org_id: str, url: str, voice_id: str) -> None:
        key = self._key(org_id, url)
        with self._lock:
            self._entries[key] = (time.monotonic(), voice_id)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def forget_voice(self, voice_id: str) -> None:
        with self._lock:
            for key in [k for k, (_, v) in self._entries.items() if v == voice_id]:
                del self._entries[key]
