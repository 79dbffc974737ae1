"""A :class:`~assistant.retrieval.Retriever` that also reads the knowledge graph.

It has the ordinary retriever's interface, so :class:`~assistant.answer.Assistant` uses it
unchanged; only :meth:`GraphRetriever.candidates` differs by mode:

* ``naive``: the ordinary candidates;
* ``local``: the clips of the entities the question links (:meth:`GraphIndex.local`); the
  ordinary candidates when it links none;
* ``hybrid``: the two rankings fused by reciprocal rank fusion, so a clip both find rises and
  one only the graph knows (a theme word the clip never says) still enters;
* ``global``: the representative clips of the communities closest to the question;
* ``auto``: one of these per question (:func:`assistant.graph.modes.pick_mode`).

Every hit keeps the question's cosine similarity as its score, which the refusal threshold and
the rerank read, whatever ranking put it in the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from assistant.graph.index import GraphIndex, RankedClip
from assistant.graph.linking import Link
from assistant.graph.modes import check_mode, pick_mode
from assistant.retrieval import Retriever, dedupe
from indexing.stores.lance import RRF_K
from indexing.types import ClipKind, Hit

GRAPH_DEPTH = 30  # graph clips considered per question


class GraphRetriever(Retriever):
    """Retrieval in one of the graph modes over the same store, embedder and reranker."""

    def __init__(self, base: Retriever, graph: GraphIndex, mode: str = "auto") -> None:
        super().__init__(base.store, base.settings, base.embedder, base._rerank_slot,
                         base.policy)
        self.graph = graph
        self.mode = check_mode(mode)
        self.last_mode = self.mode  # what the last question was answered with (auto resolved)
        self.last_links: tuple[Link, ...] = ()

    def candidates(self, query: str, kinds: Sequence[ClipKind] | None = None) -> list[Hit]:
        links = self.graph.link(query) if self.mode != "naive" else []
        mode = pick_mode(query, links) if self.mode == "auto" else self.mode
        self.last_mode, self.last_links = mode, tuple(links)
        if mode == "global":
            return self._global(query, kinds)
        naive = super().candidates(query, kinds)
        if mode == "naive" or not links:
            return naive
        graph = self._graph_hits(query, self.graph.local(links)[:GRAPH_DEPTH], kinds)
        if mode == "local":
            return graph or naive
        return fuse([naive, graph])

    def _graph_hits(self, query: str, ranked: Sequence[RankedClip],
                    kinds: Sequence[ClipKind] | None) -> list[Hit]:
        clips = [(r, c) for r in ranked if (c := self.graph.clip(r.clip_id)) is not None
                 and (not kinds or c.kind in kinds)]
        if not clips:
            return []
        q = self.embed_query(query)
        vecs = self.embedder.embed_texts([c.embedding_text() for _, c in clips])
        sims = np.asarray(vecs, dtype=np.float32) @ np.asarray(q, dtype=np.float32)
        return dedupe([Hit(clip=c, score=max(float(s), 0.0), sources=("graph",),
                           clip_id=r.clip_id, similarity=float(s))
                       for (r, c), s in zip(clips, sims, strict=True)])

    def _global(self, query: str, kinds: Sequence[ClipKind] | None) -> list[Hit]:
        ranked: list[RankedClip] = []
        for community, score in self.graph.relevant_communities(query, self.embedder):
            report = self.graph.report(community)
            ranked += [RankedClip(c, score, report.key_entities[:3]) for c in report.clip_ids]
        unique = list({r.clip_id: r for r in reversed(ranked)}.values())[::-1]
        return self._graph_hits(query, unique, kinds)


def fuse(rankings: Sequence[Sequence[Hit]]) -> list[Hit]:
    """Reciprocal rank fusion of hit lists (by clip id); each hit keeps its similarity score
    and gains the sources of every list that found it."""
    fused: dict[str, float] = {}
    first: dict[str, Hit] = {}
    sources: dict[str, list[str]] = {}
    for ranking in rankings:
        for rank, h in enumerate(ranking):
            key = h.clip_id or h.clip.clip_id
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
            first.setdefault(key, h)
            sources.setdefault(key, [])
            sources[key] += [s for s in h.sources if s not in sources[key]]
    order = sorted(fused, key=lambda k: -fused[k])
    return dedupe([replace(first[k], sources=tuple(sources[k])) for k in order])
