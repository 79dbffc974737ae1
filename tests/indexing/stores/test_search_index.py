"""The ANN and full-text indices of a store (indexing/stores/lance_index.py): built past the size
threshold only, refreshed incrementally, and search through them finds what the exact scan
finds (most of it: the recall target at 384-d is bench/search_scale.py's). A small real LanceDB
table stands in for a big one by lowering the threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.stores import lance_index
from indexing.stores.lance import LanceStore
from indexing.types import Clip, ClipKind

DIM = 64


def clips(start: int, n: int, rng: np.random.Generator) -> tuple[list[Clip], np.ndarray]:
    """``n`` clips around 20 topic centres (what real embeddings look like, roughly)."""
    centres = np.random.default_rng(0).standard_normal((20, DIM)).astype(np.float32)
    v = centres[rng.integers(0, 20, n)] + 0.5 * rng.standard_normal((n, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return [Clip(media_id=f"m{i // 100}", media_path=f"/a/m{i // 100}.mp4",
                 kind=ClipKind.SPEECH, start=float(i % 100), end=float(i % 100) + 1,
                 text=f"clip {i} about topic {i % 7} word{i % 13}", seq=i % 100)
            for i in range(start, start + n)], v


def test_ann_index_past_the_threshold_refreshed_and_as_good_as_exact(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    store = LanceStore(tmp_path / "index")
    store.ensure_embedder("test-vectors", DIM)
    monkeypatch.setattr(lance_index, "VECTOR_INDEX_MIN_ROWS", 3000)
    c, v = clips(0, 2000, rng)
    store.add_clips(c, v)
    store.finalize()
    t = store._table("clips")
    assert lance_index.has_index(t, lance_index.FTS_INDEX)
    assert not lance_index.has_index(t, lance_index.VECTOR_INDEX)  # below: exact scan
    c, v = clips(2000, 2000, rng)
    store.add_clips(c, v)
    store.finalize()
    t = store._table("clips")
    assert lance_index.has_index(t, lance_index.VECTOR_INDEX)
    assert lance_index.has_index(t, lance_index.ID_INDEX)
    # New rows are folded into the existing indices, not left to a scan.
    c, v = clips(4000, 300, rng)
    store.add_clips(c, v)
    assert lance_index.unindexed_rows(t, lance_index.VECTOR_INDEX) == 300
    store.finalize()
    assert lance_index.unindexed_rows(t, lance_index.VECTOR_INDEX) == 0
    assert lance_index.unindexed_rows(t, lance_index.FTS_INDEX) == 0
    reader = LanceStore(tmp_path / "index", create=False)
    t = reader._table("clips")
    recall = []
    for q in v[:20]:
        exact = t.search(q, vector_column_name="vector").distance_type("cosine") \
            .select(["id", "_distance"]).limit(10).bypass_vector_index().to_list()
        ann = lance_index.tune(t.search(q, vector_column_name="vector").distance_type("cosine")
                               .select(["id", "_distance"]).limit(10), 10).to_list()
        recall.append(len({r["id"] for r in exact} & {r["id"] for r in ann}) / 10)
    assert np.mean(recall) >= 0.9, recall
    # Hybrid search through the indices: the clip asked for by its words and vector comes first.
    hits = reader.search("clip 4123 about topic", v[123], k=5)
    assert hits[0].clip.text.startswith("clip 4123 "), [h.clip.text for h in hits]
    assert set(hits[0].sources) == {"vector", "fts"}
