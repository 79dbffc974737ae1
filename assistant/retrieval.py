"""From a question to the clips that answer it.

Steps (each kept because it raised Recall@1 on the dev set; weights in
:mod:`assistant.calibration`):
1. hybrid candidates: BM25 full-text, clip-vector and sentence-window-vector rankings from the
   store, fused with reciprocal rank fusion (RRF);
2. order by a weighted reciprocal rank fusion of the semantic ranking (the mean of the clip's
   cosine and its best sentence window's cosine, both embedded with the file's title in front:
   contextual retrieval) and the BM25 ranking;
3. de-duplication: clips of the same file that overlap in time (speech vs. subtitles of the same
   line) collapse into the best-scoring one;
4. second-stage rerank of the first few by query likelihood under a small LLM, its ranking
   fused with the first-stage order (:mod:`assistant.rerank`; no cross-encoder ships as an
   offline PyPI package);
5. picture search (when CLIP weights are configured): the shots that look like the query join
   the first-stage list as a ``shot`` list by weighted RRF (:mod:`assistant.shots`); the
   rerank reads text only, so shot hits keep their fused places.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from assistant.calibration import CANDIDATES, W_DENSE, W_LEXICAL
from assistant.rerank import Reranker, RerankerSlot, RerankPolicy, rerank_by_likelihood
from assistant.settings import RERANK_DEFAULT, RERANK_OFF
from assistant.shots import ShotSearch, fuse_shots
from indexing.fusion import rrf
from indexing.protocols import Embedder
from indexing.settings import Settings
from indexing.stores.base import ClipReader
from indexing.types import Clip, ClipKind, Hit, Shot


class Retriever:
    """Hybrid retrieval with rerank and de-duplication over one store."""

    def __init__(self, store: ClipReader, settings: Settings,
                 embedder: Embedder | None = None,
                 reranker: Reranker | RerankerSlot | str | None = None,
                 policy: RerankPolicy | None = None) -> None:
        """``reranker`` is a loaded reranker, a :class:`RerankerSlot` (several retrievers then
        share one loaded model) or a rerank spec (:attr:`AssistantSettings.rerank
        <assistant.settings.AssistantSettings.rerank>`: ``default``, ``off`` or a GGUF path),
        loaded on first use; ``None`` means ``default``."""
        self.store = store
        self.settings = settings
        self.policy = policy or RerankPolicy()
        self._embedder = embedder
        if isinstance(reranker, str | None):
            reranker = RerankerSlot(reranker or RERANK_DEFAULT, threads=settings.threads)
        elif not isinstance(reranker, RerankerSlot):
            reranker = RerankerSlot(RERANK_DEFAULT, threads=settings.threads, reranker=reranker)
        self._rerank_slot = reranker
        self.shots = ShotSearch(store.db_dir, settings)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from indexing.stages.embed import embedder_from_settings

            built_with = self.store.embedder()
            self._embedder = embedder_from_settings(self.settings,
                                                    built_with[0] if built_with else None)
        return self._embedder

    @property
    def reranker(self) -> Reranker | None:
        """The second-stage reranker, or ``None`` when off or unavailable (see
        :attr:`rerank_problem`): retrieval then keeps the first-stage order."""
        return self._rerank_slot.get()

    @property
    def rerank_problem(self) -> str | None:
        """Why the configured reranker is not in use, if it is not."""
        return self._rerank_slot.problem

    def embed_query(self, text: str) -> np.ndarray:
        """The query vector, in the store's embedding space."""
        built_with = self.store.embedder()
        if built_with and built_with[0] != self.embedder.model_id:
            from indexing.stores.base import StoreError

            raise StoreError(f"index was built with {built_with[0]}, but the query embedder is "
                             f"{self.embedder.model_id}")
        return self.embedder.embed_query(text)

    def search(self, query: str, k: int = 10,
               kinds: Sequence[ClipKind] | None = None) -> list[Hit]:
        """The ``k`` best clips for ``query``, best first (both stages)."""
        return self.rerank(query, self.candidates(query, kinds))[:k]

    def candidates(self, query: str, kinds: Sequence[ClipKind] | None = None) -> list[Hit]:
        """First stage: fused, de-duplicated candidates by similarity, scores in [0, 1]."""
        vector = self.embed_query(query)
        found = self.store.search(query, vector, k=CANDIDATES, kinds=kinds, depth=CANDIDATES)
        text = dedupe(by_fusion(found))
        if kinds is not None and ClipKind.SHOT not in kinds:
            return text
        return fuse_shots(text, self.shots.search(query))

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """Second stage: reorder the closest candidates by query likelihood (if available)."""
        reranker = self.reranker
        if reranker is None:
            return list(hits)
        # Shot hits have no words for the reranker to read: they keep their fused places.
        placed = {i: h for i, h in enumerate(hits) if h.clip.kind is ClipKind.SHOT}
        text = [h for h in hits if h.clip.kind is not ClipKind.SHOT]
        ranked = iter(rerank_by_likelihood(query, text, reranker, self.policy))
        return [placed[i] if i in placed else next(ranked) for i in range(len(hits))]


def by_fusion(hits: Sequence[Hit], w_dense: float = W_DENSE,
              w_lexical: float = W_LEXICAL) -> list[Hit]:
    """Order fused candidates by a weighted reciprocal rank fusion of their semantic similarity
    ranking and their BM25 ranking (clips without a full-text match take no lexical rank).
    Each hit's ``score`` becomes its similarity in [0, 1], which is what users are shown."""
    if not hits:
        return []
    dense = sorted(range(len(hits)), key=lambda i: (-(hits[i].similarity or 0.0), i))
    lexical = sorted((i for i in range(len(hits)) if hits[i].bm25),
                     key=lambda i: (-(hits[i].bm25 or 0.0), i))
    fused = rrf([dense, lexical], [w_dense, w_lexical])
    order = sorted(range(len(hits)), key=lambda i: (-fused.get(i, 0.0), i))
    return [replace(hits[i], score=max(hits[i].similarity or 0.0, 0.0)) for i in order]


def dedupe(hits: Sequence[Hit], min_overlap: float = 0.5) -> list[Hit]:
    """Drop a hit that overlaps a better one of the same file by ``min_overlap`` of its length."""
    kept: list[Hit] = []
    for h in hits:
        if not any(_same_moment(h.clip, k.clip, min_overlap) for k in kept):
            kept.append(h)
    return kept


def _same_moment(a: Clip, b: Clip, min_overlap: float) -> bool:
    if a.media_path != b.media_path:
        return False
    inter = min(a.end, b.end) - max(a.start, b.start)
    shorter = max(min(a.duration, b.duration), 1e-6)
    return inter / shorter >= min_overlap


def retrieved_shots(store: ClipReader, settings: Settings, questions: Sequence[str],
                    k: int = 5) -> set[tuple[str, int]]:
    """The (media id, shot index) pairs under the first ``k`` first-stage hits of each
    question: the shots answers to these questions would cite, which is where a caption is
    worth its cost (``deerin enrich --captions --only-retrieved``). A text clip stands for
    every shot its span overlaps. No rerank: it would not change which clips are near the top
    enough to matter here, and it costs a model load."""
    retriever = Retriever(store, settings, reranker=RERANK_OFF)
    shots_of: dict[str, list[Shot]] = {}
    wanted: set[tuple[str, int]] = set()
    for q in questions:
        for h in retriever.candidates(q)[:k]:
            c = h.clip
            if c.shot_index is not None:
                wanted.add((c.media_id, c.shot_index))
                continue
            if c.media_id not in shots_of:
                shots_of[c.media_id] = store.shots_of(c.media_id)
            wanted.update((c.media_id, s.index) for s in shots_of[c.media_id]
                          if s.start < c.end and s.end > c.start)
    return wanted
