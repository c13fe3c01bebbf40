"""Drop the enrolments of deleted voices from this worker's cache.

A worker keeps what it measured of a reference voice (pitch statistics, formant ratio,
EQ) on disk and in memory, by clip hash, so the next call skips enrolment. When an
organisation deletes the voice, the API removes its audio; the worker learns of it here:
after a call, at most once per ``PRUNE_INTERVAL_SECONDS``, it asks the API which of its
cached hashes are still held and removes the rest.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import httpx

from vocable.providers import matched_tts
from vocable.voices.store import is_sha256
from vocable.worker.channel import WorkerChannel

log = logging.getLogger(__name__)

PRUNE_INTERVAL_SECONDS = 600.0
_last_prune = float("-inf")


def cached_hashes(root: Path) -> list[str]:
    try:
        return [p.name for p in root.iterdir() if p.is_dir() and is_sha256(p.name)]
    except OSError:
        return []


async def prune_enrolments(channel: WorkerChannel, root: Path) -> list[str]:
    """Remove enrolments of clips no voice holds any more; returns their hashes."""
    cached = cached_hashes(root)
    if not cached:
        return []
    known = await channel.known_voices(cached)
    gone = [sha for sha in cached if sha not in known]
    for sha in gone:
        shutil.rmtree(root / sha, ignore_errors=True)
        matched_tts.forget_voice(sha)
    if gone:
        log.info("removed the enrolments of %d deleted voice(s)", len(gone))
    return gone


async def prune_if_due(channel: WorkerChannel, root: Path) -> None:
    """:func:`prune_enrolments` when the last run is old enough; never raises."""
    global _last_prune
    if time.monotonic() - _last_prune < PRUNE_INTERVAL_SECONDS:
        return
    _last_prune = time.monotonic()
    try:
        await prune_enrolments(channel, root)
    except (httpx.HTTPError, ValueError):
        log.warning("could not check cached enrolments against the API")
