"""Hybrid search (indexing/stores/lance_search.py) returns exactly what it returned before its
queries were narrowed to ids and its rows read once by row id: same clips, order, fused scores,
sources, similarities and BM25 scores.

The reference below is the search as it was (every query fetching whole rows, vectors
included, fused the same way), run on the same real LanceDB tables: on the session's real
index of seven files, and on an index of real transcript sentences big enough (threshold
lowered) to be searched through its ANN index, with windows and a kind filter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indexing.fusion import RRF_K
from indexing.stores import lance_index
from indexing.stores.lance import LanceStore
from indexing.stores.lance_schema import quote
from indexing.stores.lance_search import fts_query
from indexing.types import Clip, ClipKind, Hit
from tests.support import MEDIA_DIR

MEDIA = MEDIA_DIR


def reference_search(store: LanceStore, text: str, vector: np.ndarray | None, k: int,
                     kinds: Sequence[ClipKind] | None, depth: int) -> list[Hit]:
    """The hybrid search before this change, query for query (sequential: same results)."""
    t = store._table("clips")
    assert t is not None
    where = None
    if kinds:
        where = "kind IN (" + ", ".join(quote(k.value) for k in kinds) + ")"
    cols = store._columns(t, store._CLIP_COLUMNS)

    def vector_rows(table: Any, limit: int, columns: list[str]) -> list[dict[str, Any]]:
        q = lance_index.tune(table.search(qvec, vector_column_name="vector")
                             .distance_type("cosine").select([*columns, "_distance"])
                             .limit(limit), limit)
        return q.where(where, prefilter=True).to_list() if where else q.to_list()

    ranked: dict[str, list[str]] = {}
    rows_by_id: dict[str, dict[str, Any]] = {}
    clip_sim: dict[str, float] = {}
    win_sim: dict[str, float] = {}
    bm25: dict[str, float] = {}
    qvec = None if vector is None else np.asarray(vector, dtype=np.float32)
    w = store._table("windows") if qvec is not None else None
    if qvec is not None:
        for r in vector_rows(t, depth, cols):
            rows_by_id.setdefault(r["id"], r)
            clip_sim[r["id"]] = 1.0 - float(r["_distance"])
        ranked["vector"] = list(clip_sim)
        if w is not None:
            for r in vector_rows(w, 3 * depth, ["clip_id"]):
                win_sim.setdefault(r["clip_id"], 1.0 - float(r["_distance"]))
            ranked["window"] = list(win_sim)
    query = fts_query(text)
    if query:
        q = t.search(query, query_type="fts", fts_columns="text") \
            .select([*cols, "vector", "_score"]).limit(depth)
        rows = (q.where(where, prefilter=True) if where else q).to_list()
        ranked["fts"] = [r["id"] for r in rows]
        for r in rows:
            rows_by_id.setdefault(r["id"], r)
            bm25[r["id"]] = float(r["_score"])
    fused: dict[str, float] = {}
    found_by: dict[str, list[str]] = {}
    for name, ids in ranked.items():
        for rank, cid in enumerate(ids):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
            found_by.setdefault(cid, []).append(name)
    order = sorted(fused, key=lambda cid: -fused[cid])[: max(k, depth)]
    if qvec is not None:
        for cid in order:
            row = rows_by_id.get(cid)
            if cid not in clip_sim and row is not None and row.get("vector") is not None:
                clip_sim[cid] = float(np.dot(np.asarray(row["vector"], np.float32), qvec))
    missing = [cid for cid in order if cid not in rows_by_id
               or (qvec is not None and cid not in clip_sim)]
    if missing:
        id_list = ", ".join(quote(c) for c in missing)
        for r in t.search().where(f"id IN ({id_list})").select([*cols, "vector"]) \
                .limit(len(missing)).to_list():
            rows_by_id[r["id"]] = r
            if qvec is not None:
                clip_sim[r["id"]] = float(np.dot(np.asarray(r["vector"], np.float32), qvec))
    hits = []
    for cid in order:
        sim = None
        if qvec is not None:
            sim = (clip_sim[cid] + win_sim.get(cid, clip_sim[cid])) / 2
        hits.append(Hit(clip=store._row_to_clip(rows_by_id[cid]), score=fused[cid],
                        sources=tuple(found_by[cid]), clip_id=cid, similarity=sim,
                        bm25=bm25.get(cid)))
    return hits[:k]


def queries(store: LanceStore, n: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """Questions near stored clips: a stored vector plus noise and a few words of its text."""
    t = store._table("clips")
    assert t is not None
    rows = t.search().select(["text", "vector"]).limit(100_000).to_list()
    rng = np.random.default_rng(seed)
    out = []
    for i in rng.choice(len(rows), size=min(n, len(rows)), replace=False):
        v = np.asarray(rows[i]["vector"], np.float32)
        v = v + 0.3 * rng.standard_normal(len(v)).astype(np.float32) / np.sqrt(len(v))
        words = rows[i]["text"].split()
        a = int(rng.integers(0, max(1, len(words) - 4)))
        out.append((" ".join(words[a:a + 4]), v / np.linalg.norm(v)))
    return out


def assert_same(store: LanceStore, text: str, vector: np.ndarray | None, k: int = 40,
                kinds: Sequence[ClipKind] | None = None, depth: int = 40) -> list[Hit]:
    got = store.search(text, vector, k=k, kinds=kinds, depth=depth)
    want = reference_search(store, text, vector, k, kinds, depth)
    assert [h.clip_id for h in got] == [h.clip_id for h in want], text
    assert got == want, text  # scores, sources, similarities, BM25 and clips, exactly
    return got


def test_same_results_on_the_real_index(speech_index: Path) -> None:
    store = LanceStore(speech_index, create=False)
    for text, vec in queries(store, 12, seed=3):
        assert_same(store, text, vec)
        assert_same(store, text, vec, k=5, depth=20)
        assert_same(store, text, None, k=10)
    assert_same(store, "the moon and the stars", None, kinds=[ClipKind.SPEECH])
    assert store.search("", None) == []


def sentence_clips(n: int, dim: int) -> tuple[list[Clip], np.ndarray, list[tuple[int, np.ndarray]]]:
    """``n`` clips of real transcript sentences (two kinds), vectors around 30 topics, and
    one or two window vectors for every other clip."""
    text = " ".join(p.read_text(errors="replace")
                    for p in sorted((MEDIA / "transcripts").glob("*.txt")))
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
                 if len(s.split()) >= 4]
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((30, dim)).astype(np.float32)
    topic = rng.integers(0, 30, n)
    v = centres[topic] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    clips = [Clip(media_id=f"m{i // 50}", media_path=f"/a/m{i // 50}.mp4",
                  kind=ClipKind.SPEECH if i % 5 else ClipKind.OCR, start=float(i % 50),
                  end=float(i % 50) + 1, text=sentences[(topic[i] * 11 + i) % len(sentences)],
                  seq=i % 50) for i in range(n)]
    windows = []
    for i in range(0, n, 2):
        for _ in range(1 + i % 3 // 2):
            u = v[i] + 0.4 * rng.standard_normal(dim).astype(np.float32)
            windows.append((i, u / np.linalg.norm(u)))
    return clips, v, windows


def test_same_results_through_the_ann_index_with_windows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lance_index, "VECTOR_INDEX_MIN_ROWS", 1500)
    store = LanceStore(tmp_path / "index")
    store.ensure_embedder("test-vectors", 48)
    clips, v, windows = sentence_clips(3000, 48)
    store.add_clips(clips, v, windows)
    store.finalize()
    reader = LanceStore(tmp_path / "index", create=False)
    t = reader._table("clips")
    assert lance_index.has_index(t, lance_index.VECTOR_INDEX)
    sources: set[str] = set()
    for text, vec in queries(reader, 15, seed=4):
        for h in assert_same(reader, text, vec):
            sources.add("+".join(h.sources))
        assert_same(reader, text, vec, kinds=[ClipKind.OCR])
    # Every path was taken: clips found by one ranker only (text, vector, window) and by all.
    assert {"fts", "vector", "window", "vector+window+fts"} <= sources, sources


def test_an_emptied_store_finds_nothing(tmp_path: Path) -> None:
    store = LanceStore(tmp_path / "index")
    store.ensure_embedder("test-vectors", 8)
    clips = [Clip(media_id="m", media_path="/a/m.mp4", kind=ClipKind.SPEECH, start=0.0,
                  end=2.0, text="the lighthouse keeper", seq=0)]
    store.add_clips(clips, np.ones((1, 8), np.float32))
    store.finalize()
    hits = store.search("lighthouse", np.ones(8))
    assert [h.clip.text for h in hits] == ["the lighthouse keeper"]
    store.remove_media("/a/m.mp4")
    store.finalize()
    assert store.search("lighthouse", np.ones(8)) == []
    assert LanceStore(tmp_path / "index", create=False).search("lighthouse", None) == []
