"""Round four of GraphRAG retrieval: the rerank reorders only the hits an ordinary ranking
found, in the slots they hold; a clip only the graph found keeps its fused place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from assistant.graph.retriever import Fusion, graph_only, rerank_ordinary
from eval.gold import load_gold
from indexing.types import Clip, ClipKind, Hit
from tests.support import REPO


def _hit(name: str, sources: tuple[str, ...]) -> Hit:
    clip = Clip(media_id=name, media_path=name, kind=ClipKind.SPEECH, start=0.0, end=5.0,
                text=name)
    return Hit(clip=clip, score=0.5, sources=sources, clip_id=clip.clip_id)


def _reverse(hits: Sequence[Hit]) -> list[Hit]:
    # A stand-in ordering with a visible effect: any permutation shows which slots moved.
    return list(reversed(hits))


def test_graph_only_hits_keep_their_fused_places() -> None:
    hits = [_hit("a", ("vector",)), _hit("b", ("fts", "graph")), _hit("g1", ("graph",)),
            _hit("c", ("vector",)), _hit("g2", ("graph",))]
    assert [graph_only(h) for h in hits] == [False, False, True, False, True]
    out = [h.clip.text for h in rerank_ordinary(hits, _reverse)]
    # a, b, c reordered among slots 0, 1, 3; g1 and g2 stay at 2 and 4.
    assert out == ["c", "b", "g1", "a", "g2"]


def test_lists_of_one_kind_are_reranked_whole() -> None:
    ordinary = [_hit("a", ("vector",)), _hit("b", ("fts",))]
    graph = [_hit("g1", ("graph",)), _hit("g2", ("graph",))]
    assert [h.clip.text for h in rerank_ordinary(ordinary, _reverse)] == ["b", "a"]
    assert [h.clip.text for h in rerank_ordinary(graph, _reverse)] == ["g2", "g1"]
    assert rerank_ordinary([], _reverse) == []
    # The hits themselves are returned, not copies with other scores.
    assert rerank_ordinary([replace(ordinary[0], score=0.9)], _reverse)[0].score == 0.9


def test_fusion_defaults_and_the_fresh_set_loads() -> None:
    assert Fusion().min_link == 0.5
    fresh = load_gold(REPO / "eval" / "sets" / "graph_fresh.jsonl")
    assert len(fresh) >= 15
    assert all(len(q.gold_spans) >= 2 for q in fresh)
