"""Hybrid search over a LanceDB clip store: a vector query, a window query and a BM25 full-text
query, fused with reciprocal rank fusion.

A clip found by several rankers rises to the top and one found by only one still counts. Fusing
here (not with LanceDB's built-in hybrid reranker) keeps which ranker found what, which the
assistant shows users and the eval measures.

The three ranked lists are independent queries and run at once on a small thread pool (LanceDB
works outside the GIL), so a search costs about its slowest query rather than their sum. They
ask only for ids, scores and row ids: a clip's text, times and vector are read once, for the
clips that made the fused top list, by row id from the same table version. At a million clips
that took about 30 % off a search whose queries returned whole rows (bench/search_profile.py
``--before``, README); the final read is now most of what is left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa

from indexing.fusion import rrf
from indexing.stores.lance_index import tune
from indexing.stores.lance_schema import quote
from indexing.types import Clip, ClipKind, Hit

ROW_ID = "_rowid"

Columns = Callable[[Any, Sequence[str]], list[str]]


class HybridSearch:
    """The search half of a :class:`~indexing.stores.lance.LanceStore`.

    ``table`` opens a table of the store (at the version the store reads, None if absent),
    ``columns`` narrows wanted columns to those a table has, ``to_clip`` turns a clip row into
    a :class:`~indexing.types.Clip`, and ``clip_columns`` are the columns it needs.
    """

    def __init__(self, table: Callable[[str], Any | None], columns: Columns,
                 to_clip: Callable[[dict[str, Any]], Clip], clip_columns: Sequence[str]) -> None:
        self._table = table
        self._columns = columns
        self._to_clip = to_clip
        self._clip_columns = tuple(clip_columns)
        self._pool: ThreadPoolExecutor | None = None

    def search(self, text: str, vector: np.ndarray | None, k: int = 10,
               kinds: Sequence[ClipKind] | None = None, depth: int = 50) -> list[Hit]:
        """Hybrid search; each hit's ``similarity`` is the mean of the clip's cosine and its
        best window's cosine (a clip whose window ranks nowhere counts its own cosine)."""
        t = self._table("clips")
        if t is None:  # an empty table needs no check (a round trip): its queries find nothing
            return []
        where = None
        if kinds:
            where = "kind IN (" + ", ".join(quote(k.value) for k in kinds) + ")"
        qvec = None if vector is None else np.asarray(vector, dtype=np.float32)
        w = self._table("windows") if qvec is not None else None
        query = fts_query(text)
        pool = self._search_pool()
        vec_job = pool.submit(_vector_ids, t, qvec, depth, where, "id") \
            if qvec is not None else None
        win_job = pool.submit(_vector_ids, w, qvec, 3 * depth, where, "clip_id") \
            if w is not None and qvec is not None else None
        fts_job = pool.submit(_fts_ids, t, query, depth, where) if query else None

        ranked: dict[str, list[str]] = {}
        row_ids: dict[str, int] = {}  # clip id -> row id in `t`, for the final read
        clip_sim: dict[str, float] = {}
        win_sim: dict[str, float] = {}
        bm25: dict[str, float] = {}
        if vec_job is not None:
            ids, dist, rids = vec_job.result()
            for cid, d, rid in zip(ids, dist, rids, strict=True):
                row_ids.setdefault(cid, rid)
                clip_sim[cid] = 1.0 - d
            ranked["vector"] = list(clip_sim)
        if win_job is not None:
            ids, dist, _ = win_job.result()
            for cid, d in zip(ids, dist, strict=True):
                win_sim.setdefault(cid, 1.0 - d)
            ranked["window"] = list(win_sim)
        if fts_job is not None:
            ids, scores, rids = fts_job.result()
            ranked["fts"] = ids
            for cid, s, rid in zip(ids, scores, rids, strict=True):
                row_ids.setdefault(cid, rid)
                bm25[cid] = s
        fused, found_by = fuse(ranked)
        order = sorted(fused, key=lambda cid: -fused[cid])[: max(k, depth)]

        # Vectors are read only for clips the vector query did not score (found by text or
        # by a window alone): their cosine is computed here.
        need_vector = qvec is not None and any(cid not in clip_sim for cid in order)
        rows, vectors = self._read_rows(t, order, row_ids, need_vector)
        hits = []
        for cid in order:
            row = rows.get(cid)
            if row is None:  # a window of a clip no longer in the table
                continue
            sim = None
            if qvec is not None:
                if cid not in clip_sim:
                    clip_sim[cid] = float(np.dot(vectors[cid], qvec))
                sim = (clip_sim[cid] + win_sim.get(cid, clip_sim[cid])) / 2
            hits.append(Hit(clip=self._to_clip(row), score=fused[cid],
                            sources=tuple(found_by[cid]), clip_id=cid, similarity=sim,
                            bm25=bm25.get(cid)))
        return hits[:k]

    def _read_rows(self, t: Any, order: list[str], row_ids: dict[str, int],
                   need_vector: bool) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
        """The clip rows (and, if asked, vectors) of ``order``, by id.

        Clips a query of ``t`` returned are read by row id (a direct read; the ids belong to
        the table version the queries ran on, the same handle); clips only a window found are
        looked up by id (the B-tree on ``id`` past the ANN threshold).
        """
        cols = [*self._columns(t, self._clip_columns), *(["vector"] if need_vector else [])]
        by_row = [row_ids[cid] for cid in order if cid in row_ids]
        by_id = [cid for cid in order if cid not in row_ids]
        pool = self._search_pool()
        id_job: Future[pa.Table] | None = None
        if by_id:
            id_list = ", ".join(quote(c) for c in by_id)
            id_job = pool.submit(lambda: t.search().where(f"id IN ({id_list})")
                                 .select(cols).limit(len(by_id)).to_arrow())
        tables = [t.take_row_ids(by_row).select(cols).to_arrow()] if by_row else []
        if id_job is not None:
            tables.append(id_job.result())
        rows: dict[str, dict[str, Any]] = {}
        vectors: dict[str, np.ndarray] = {}
        for table in tables:
            if need_vector:
                column = table.column("vector").combine_chunks()
                flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
                matrix = flat.reshape(len(table), column.type.list_size)
                table = table.drop_columns(["vector"])
                for i, cid in enumerate(table.column("id").to_pylist()):
                    vectors[cid] = matrix[i]
            for r in table.to_pylist():
                rows[r["id"]] = r
        return rows, vectors

    def _search_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="deerin-search")
        return self._pool


def fuse(ranked: dict[str, list[str]]) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Reciprocal rank fusion of ranked id lists: each id's summed score, and which lists
    (by name, in ``ranked``'s order) found it."""
    found_by: dict[str, list[str]] = {}
    for name, ids in ranked.items():
        for cid in ids:
            found_by.setdefault(cid, []).append(name)
    return rrf(ranked.values()), found_by


def _vector_ids(table: Any, qvec: np.ndarray, limit: int, where: str | None,
                id_column: str) -> tuple[list[str], list[float], list[int]]:
    """The nearest rows of ``table`` to ``qvec``: their ``id_column``, cosine distance and row
    id, nearest first."""
    q = tune(table.search(qvec, vector_column_name="vector").distance_type("cosine")
             .select([id_column, "_distance"]).with_row_id(True).limit(limit), limit)
    if where:
        q = q.where(where, prefilter=True)
    out = q.to_arrow()
    return (out.column(id_column).to_pylist(), out.column("_distance").to_pylist(),
            out.column(ROW_ID).to_pylist())


def _fts_ids(t: Any, query: str, depth: int,
             where: str | None) -> tuple[list[str], list[float], list[int]]:
    """The best BM25 matches of ``query``: ids, scores and row ids, best first (nothing when
    the table has no full-text index yet or the parser refuses the query)."""
    try:
        q = t.search(query, query_type="fts", fts_columns="text") \
            .select(["id", "_score"]).with_row_id(True).limit(depth)
        if where:
            q = q.where(where, prefilter=True)
        out = q.to_arrow()
    except Exception as exc:  # no FTS index yet (never finalized) or a parse error
        if "index" not in str(exc).lower() and "parse" not in str(exc).lower():
            raise
        return [], [], []
    return (out.column("id").to_pylist(), out.column("_score").to_pylist(),
            out.column(ROW_ID).to_pylist())


def fts_query(text: str) -> str:
    """Reduce a free-text question to plain terms the full-text parser accepts.

    Quotes, colons, brackets and boolean words have query-syntax meaning; users type questions,
    not queries, so only word characters survive.
    """
    words = "".join(ch if ch.isalnum() or ch in "'-" else " " for ch in text).split()
    words = [w.strip("'-") for w in words]
    return " ".join(w for w in words if w and w.upper() not in {"AND", "OR", "NOT"})
