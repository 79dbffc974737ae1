"""A :class:`~assistant.retrieval.Retriever` that also reads the knowledge graph.

It has the ordinary retriever's interface, so :class:`~assistant.answer.Assistant` uses it
unchanged; only :meth:`GraphRetriever.candidates` differs by mode:

* ``naive``: the ordinary candidates;
* ``local``: the clips of the entities the question links (:meth:`GraphIndex.local`); the
  ordinary candidates when it links none;
* ``hybrid``: the ordinary ranking's first :attr:`Fusion.head` hits keep their places (the
  graph must not displace a strong single answer; :attr:`Fusion.set_head` when the question's
  grammar asks for a set, :mod:`assistant.graph.intent`), then the rest of it and the graph's clips
  fused by weighted reciprocal rank fusion, so a clip both find rises and one only the graph
  knows (a theme word the clip never says) still enters; the graph's list is built only from
  links of at least :attr:`Fusion.min_link`;
* ``global``: the clips of the communities closest to the question, each community's ordered by
  similarity to it, taken in turn;
* ``auto``: one of these per question (:func:`assistant.graph.modes.pick_mode`): ``global``
  for a question only about the collection as a whole, else ``hybrid`` (``naive`` when nothing
  links).

Every hit keeps the question's cosine similarity as its score, which the refusal threshold and
the rerank read, whatever ranking put it in the list. The rerank (:meth:`GraphRetriever.rerank`)
reorders only the ordinary hits, in the places they hold: a clip only the graph found keeps its
fused place, so the rerank can neither lift it over a reranked single answer (which cost
single-span recall) nor push it down the list (its likelihood of a question about a theme the
clip never names is low by construction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from assistant.graph.index import GraphIndex, RankedClip
from assistant.graph.intent import IntentParser
from assistant.graph.linking import Link
from assistant.graph.modes import check_mode, pick_mode
from assistant.retrieval import Retriever, dedupe
from indexing.fusion import rrf
from indexing.types import ClipKind, Hit

GRAPH_DEPTH = 30  # graph clips considered per question


@dataclass(frozen=True, slots=True)
class Fusion:
    """How ``hybrid`` mixes the two rankings (tuned on eval/sets/graph.jsonl + dev.jsonl)."""

    head: int = 5  # the ordinary ranking's first hits kept in place (Recall@5 untouched)
    weight: float = 1.0  # the graph list's share of reciprocal-rank fusion after them
    min_link: float = 0.5  # links weaker than this add no graph clips
    set_head: int = 2  # the head when the question's grammar asks for a set (aggregation)
    file_decay: float = 1.0  # a set question's n-th clip of one file counts file_decay**n


class GraphRetriever(Retriever):
    """Retrieval in one of the graph modes over the same store, embedder and reranker."""

    def __init__(self, base: Retriever, graph: GraphIndex, mode: str = "auto",
                 fusion: Fusion | None = None, intent: IntentParser | None = None) -> None:
        super().__init__(base.store, base.settings, base.embedder, base._rerank_slot,
                         base.policy)
        self.shots = base.shots  # one CLIP model for both (assistant.shots)
        self.graph = graph
        self.mode = check_mode(mode)
        self.fusion = fusion or Fusion()
        self.intent = intent or IntentParser()
        self.last_mode = self.mode  # what the last question was answered with (auto resolved)
        self.last_links: tuple[Link, ...] = ()

    def candidates(self, query: str, kinds: Sequence[ClipKind] | None = None) -> list[Hit]:
        links, mode = self.resolve(query)
        if mode == "global":
            return self._global(query, kinds)
        naive = super().candidates(query, kinds)
        if mode == "naive" or not links:
            return naive
        if mode == "local":
            return self._graph_hits(query, self.graph.local(links)[:GRAPH_DEPTH], kinds) or naive
        strong = [lk for lk in links if lk.score >= self.fusion.min_link]
        if not strong:
            return naive
        graph = self._graph_hits(query, self.graph.local(strong)[:GRAPH_DEPTH], kinds)
        if not self.intent.parse(query).aggregate:
            return fuse_after_head(naive, graph, self.fusion)
        return fuse_after_head(naive, graph, replace(self.fusion, head=self.fusion.set_head),
                               self.fusion.file_decay)

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        """The ordinary rerank over the hits some ordinary ranking found, each in the slots
        those hits hold; a hit only the graph found stays where the fusion put it. A list of
        graph hits alone (``local``) is reranked as a whole."""
        return rerank_ordinary(hits, lambda some: super(GraphRetriever, self).rerank(query, some))

    def resolve(self, query: str) -> tuple[list[Link], str]:
        """The entities ``query`` links and the mode it is answered in (``auto`` resolved);
        both are remembered as :attr:`last_links` and :attr:`last_mode`."""
        links: list[Link] = []
        if self.mode != "naive" and query.strip():
            links = self.graph.link(query, self.intent.parse(query).lemmas)
        mode = self.mode
        if mode == "auto":
            mode = pick_mode(query, links, self.graph.linker.content_words(query))
        self.last_mode, self.last_links = mode, tuple(links)
        return links, mode

    def _graph_hits(self, query: str, ranked: Sequence[RankedClip],
                    kinds: Sequence[ClipKind] | None) -> list[Hit]:
        clips = [(r, c) for r in ranked if (c := self.graph.clip(r.clip_id)) is not None
                 and (not kinds or c.kind in kinds)]
        if not clips:
            return []
        q = self.embed_query(query)
        vecs = self.graph.clip_vectors([c for _, c in clips], self.embedder)
        sims = vecs @ np.asarray(q, dtype=np.float32)
        return dedupe([Hit(clip=c, score=max(float(s), 0.0), sources=("graph",),
                           clip_id=r.clip_id, similarity=float(s))
                       for (r, c), s in zip(clips, sims, strict=True)])

    def _global(self, query: str, kinds: Sequence[ClipKind] | None) -> list[Hit]:
        """The clips of the communities closest to ``query``: each community's clips ordered by
        similarity to the question, then taken in turn (every community's best first), so the
        list cites each relevant community, not only its representative clips."""
        per_community: list[list[Hit]] = []
        for community, score in self.graph.relevant_communities(query, self.embedder):
            ranked = [RankedClip(c, score, ()) for c in self.graph.community_clips(community)]
            hits = self._graph_hits(query, ranked, kinds)
            per_community.append(sorted(hits, key=lambda h: -(h.similarity or 0.0)))
        turns = [h for depth in range(max(map(len, per_community), default=0))
                 for hits in per_community if depth < len(hits) for h in hits[depth:depth + 1]]
        return dedupe([replace(h, sources=("community",)) for h in turns])


def fuse_after_head(naive: Sequence[Hit], graph: Sequence[Hit], fusion: Fusion,
                    file_decay: float = 1.0) -> list[Hit]:
    """``naive``'s first ``fusion.head`` hits in place, then the rest of ``naive`` fused with
    ``graph`` (weighted by ``fusion.weight``); a head hit the graph also found gains its source.
    With ``file_decay`` < 1 the fused rest favours files not yet in the list (a question after
    a set of recordings wants each of them before a second clip of one)."""
    head = list(naive[: fusion.head])
    keys = {_key(h) for h in head}
    also = {_key(h): h.sources for h in graph}
    head = [replace(h, sources=tuple(dict.fromkeys(h.sources + also.get(_key(h), ()))))
            for h in head]
    scores: dict[str, float] = {}
    rest = fuse([naive[fusion.head:], [h for h in graph if _key(h) not in keys]],
                weights=(1.0, fusion.weight), scores=scores)
    if file_decay < 1.0:
        rest = spread_files(rest, scores, file_decay, seen=[h.clip.media_path for h in head])
    return dedupe(head + rest)


def spread_files(hits: Sequence[Hit], scores: dict[str, float], decay: float,
                 seen: Sequence[str] = ()) -> list[Hit]:
    """``hits`` greedily reordered by ``scores`` times ``decay`` to the power of how many
    clips of the same file are already placed (counting the files in ``seen``)."""
    placed: dict[str, int] = {}
    for path in seen:
        placed[path] = placed.get(path, 0) + 1
    todo, out = list(hits), []
    while todo:
        best = max(range(len(todo)), key=lambda i: (
            scores.get(_key(todo[i]), 0.0) * decay ** placed.get(todo[i].clip.media_path, 0), -i))
        h = todo.pop(best)
        placed[h.clip.media_path] = placed.get(h.clip.media_path, 0) + 1
        out.append(h)
    return out


def rerank_ordinary(hits: Sequence[Hit],
                    rerank: Callable[[Sequence[Hit]], list[Hit]]) -> list[Hit]:
    """``hits`` with those some ordinary ranking found put through ``rerank`` and back into
    the slots they held; graph-only hits keep their places. All-graph lists (``local``) and
    lists without graph-only hits go through ``rerank`` whole."""
    fixed = {i: h for i, h in enumerate(hits) if graph_only(h)}
    if not fixed or len(fixed) == len(hits):
        return rerank(hits)
    ranked = iter(rerank([h for h in hits if not graph_only(h)]))
    return [fixed[i] if i in fixed else next(ranked) for i in range(len(hits))]


def graph_only(h: Hit) -> bool:
    """Whether only the graph found ``h`` (no ordinary ranking did)."""
    return h.sources == ("graph",)


def _key(h: Hit) -> str:
    return h.clip_id or h.clip.clip_id


def fuse(rankings: Sequence[Sequence[Hit]], weights: Sequence[float] | None = None,
         scores: dict[str, float] | None = None) -> list[Hit]:
    """Reciprocal rank fusion of hit lists (by clip id), list ``i`` weighted by ``weights[i]``
    (1 each by default); each hit keeps its similarity score and gains the sources of every
    list that found it. ``scores``, when given, receives the fused score of each clip id."""
    fused = rrf(([_key(h) for h in ranking] for ranking in rankings), weights, into=scores)
    first: dict[str, Hit] = {}
    sources: dict[str, list[str]] = {}
    for ranking in rankings:
        for h in ranking:
            key = _key(h)
            first.setdefault(key, h)
            sources.setdefault(key, [])
            sources[key] += [s for s in h.sources if s not in sources[key]]
    order = sorted(fused, key=lambda k: -fused[k])
    return dedupe([replace(first[k], sources=tuple(sources[k])) for k in order])
