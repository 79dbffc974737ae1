"""Reciprocal rank fusion, written once (indexing/fusion.py) and used by the store's hybrid
search, picture search and the graph modes: the fused order and scores of small examples,
pinned to the exact figures the formula gives."""

from __future__ import annotations

from assistant.graph.retriever import fuse as fuse_hits
from assistant.shots import fuse_shots
from indexing.fusion import RRF_K, rrf, rrf_score
from indexing.stores.lance_search import fuse as fuse_ids
from indexing.types import Clip, ClipKind, Hit


def _hit(name: str, kind: ClipKind = ClipKind.SPEECH, start: float = 0.0,
         shot: int | None = None, sources: tuple[str, ...] = ("vector",),
         path: str | None = None) -> Hit:
    clip = Clip("m", path or f"/{name}.mp4", kind, start, start + 2, name, shot_index=shot)
    return Hit(clip=clip, score=0.5, sources=sources, clip_id=name)


def test_rrf_scores_are_the_formula_summed_list_by_list() -> None:
    assert RRF_K == 60
    assert rrf_score(0) == 1.0 / 61 and rrf_score(2, 0.5) == 0.5 / 63
    fused = rrf([["a", "b", "c"], ["c", "a"]])
    assert fused == {"a": 1.0 / 61 + 1.0 / 62, "b": 1.0 / 62, "c": 1.0 / 63 + 1.0 / 61}
    assert list(fused) == ["a", "b", "c"]  # the order keys were first met: ties stay stable
    weighted = rrf([["a", "b"], ["b"]], weights=(1.0, 0.25))
    assert weighted == {"a": 1.0 / 61, "b": 1.0 / 62 + 0.25 / 61}
    into = {"z": 1.0}
    assert rrf([["z"]], into=into) is into and into == {"z": 1.0 + 1.0 / 61}


def test_store_fusion_order_scores_and_finders() -> None:
    fused, found_by = fuse_ids({"vector": ["a", "b", "c"], "window": ["b"], "fts": ["c", "d"]})
    assert fused == {"a": 1.0 / 61, "b": 1.0 / 62 + 1.0 / 61, "c": 1.0 / 63 + 1.0 / 61,
                     "d": 1.0 / 62}
    assert sorted(fused, key=lambda cid: -fused[cid]) == ["b", "c", "a", "d"]
    assert found_by == {"a": ["vector"], "b": ["vector", "window"], "c": ["vector", "fts"],
                        "d": ["fts"]}


def test_graph_fusion_order_and_sources() -> None:
    naive = [_hit("a"), _hit("b"), _hit("c")]
    graph = [_hit("c", sources=("graph",)), _hit("d", sources=("graph",))]
    scores: dict[str, float] = {}
    fused = fuse_hits([naive, graph], weights=(1.0, 0.5), scores=scores)
    # c: 1/63 + 0.5/61 > a: 1/61 > b: 1/62 > d: 0.5/62
    assert [h.clip_id for h in fused] == ["c", "a", "b", "d"]
    assert scores == {"a": 1.0 / 61, "b": 1.0 / 62, "c": 1.0 / 63 + 0.5 / 61, "d": 0.25 / 31}
    assert fused[0].sources == ("vector", "graph") and fused[3].sources == ("graph",)


def test_shot_fusion_order_and_merged_shot() -> None:
    film = "/film.mp4"  # the caption and the shots belong to the same file
    text = [_hit("speech", start=0.0), _hit("caption", ClipKind.CAPTION, 10.0, 3, path=film)]
    shots = [_hit("shot3", ClipKind.SHOT, 10.0, 3, ("shot",), film),
             _hit("shot7", ClipKind.SHOT, 40.0, 7, ("shot",), film)]
    fused = fuse_shots(text, shots, weight=0.5)
    # caption: 1/62 + 0.5/61 > speech: 1/61 > shot 7: 0.5/62
    assert [h.clip_id for h in fused] == ["caption", "speech", "shot7"]
    assert fused[0].sources == ("vector", "shot")
