"""The search indices of the LanceDB tables: when they are built, and how queries use them.

Every clip table keeps a full-text (BM25) index on ``text``. A vector table gets an ANN index
only once it holds :data:`VECTOR_INDEX_MIN_ROWS` rows: below that an exact scan is both exact
and fast (see ``bench/search_scale.py`` and the README for the figures behind the threshold and
the index type). After each indexing batch :func:`refresh` folds new rows into the existing
indices (``optimize``: incremental, no retraining) instead of rebuilding them.
"""

from __future__ import annotations

from typing import Any

FTS_INDEX = "text_idx"  # LanceDB's name for the full-text index on the `text` column
VECTOR_INDEX = "vector_idx"  # ... and for the one on `vector`
ID_INDEX = "id_idx"
# Below this many rows an exact scan is exact and about as fast as an ANN query; above it the
# scan grows linearly. Measured on two busy cores (bench/search_scale.py, README): exact scan
# p50 36 ms at 10k clips, 99 ms at 20k, 449 ms at 100k, against an ANN query of 3-12 ms at 100k;
# on the 50-hour test archive (13k clips of real sentences, bench/archive/ann_threshold.py) the
# whole store search with the index took 0.73x the exact one's time (p95 0.76x) and returned
# 0.985 of its top 10.
VECTOR_INDEX_MIN_ROWS = 10_000
# The ANN index: IVF partitions, each an HNSW graph over 8-bit scalar-quantised vectors.
# Measured against IVF_PQ at 100k clips (bench/search_scale.py, README): recall@10 0.98 at about
# 4 ms without refinement, where IVF_PQ needed its full-vector refinement (x10: 1.00, ~10 ms;
# alone 0.50) to pass 0.95; the builds took about as long.
VECTOR_INDEX_TYPE = "IVF_HNSW_SQ"
PQ_DIMS_PER_SUB_VECTOR = 8  # IVF_PQ (bench --compare): one byte per 8 dimensions
# Queries: how many IVF partitions are searched, how many HNSW candidates each keeps, and how
# many times the asked-for rows are re-ranked on their full vectors (0: none; IVF_PQ needs 10).
NPROBES = 20
EF = 200
REFINE_FACTOR = 0


def has_index(table: Any, name: str) -> bool:
    """Whether ``table`` has the index called ``name``."""
    return any(ix.name == name for ix in table.list_indices())


def unindexed_rows(table: Any, name: str) -> int:
    """Rows of ``table`` that index ``name`` does not cover yet (e.g. a killed run's rows)."""
    stats = table.index_stats(name)
    return int(stats.num_unindexed_rows) if stats is not None else 0


def vector_index_config(dim: int, index_type: str = VECTOR_INDEX_TYPE) -> Any:
    """The LanceDB index configuration for a ``dim``-d ``vector`` column (cosine distance)."""
    from lancedb.index import HnswSq, IvfPq

    if index_type == "IVF_HNSW_SQ":
        return HnswSq(distance_type="cosine")
    if index_type == "IVF_PQ":
        # PQ needs sub-vectors that divide the dimension (384, 768 and 1024 all take 8).
        per = PQ_DIMS_PER_SUB_VECTOR if dim % PQ_DIMS_PER_SUB_VECTOR == 0 else 1
        return IvfPq(distance_type="cosine", num_sub_vectors=dim // per)
    raise ValueError(f"unknown vector index type {index_type!r} (IVF_HNSW_SQ or IVF_PQ)")


def ensure_vector_index(table: Any, *, min_rows: int | None = None,
                        index_type: str | None = None) -> bool:
    """Build the ANN index of ``table`` once it reaches ``min_rows``; return whether it did.

    With it comes a B-tree on ``id``: search looks clips up by id, and re-adding clips joins on
    it (``merge_insert``); at this size a scan of the id column costs more than the query.
    """
    # Defaults read at call time: bench/search_scale.py measures other choices.
    min_rows = VECTOR_INDEX_MIN_ROWS if min_rows is None else min_rows
    if table.count_rows() < min_rows or has_index(table, VECTOR_INDEX):
        return False
    from lancedb.index import BTree

    if not has_index(table, ID_INDEX):
        table.create_index("id", config=BTree(), name=ID_INDEX)
    dim = table.schema.field("vector").type.list_size
    table.create_index("vector", config=vector_index_config(dim, index_type or VECTOR_INDEX_TYPE),
                       name=VECTOR_INDEX)
    return True


def ensure_fts_index(table: Any) -> bool:
    """Build the full-text index on ``text`` if ``table`` has none; return whether it did."""
    if has_index(table, FTS_INDEX):
        return False
    from lancedb.index import FTS

    table.create_index("text", config=FTS(with_position=True), name=FTS_INDEX)
    return True


def refresh(table: Any) -> None:
    """Fold rows added or deleted since the indices were built into them, and compact.

    ``optimize`` keeps older table versions on disk (seven days by default), so a reader
    still on the previous version keeps working while this runs.
    """
    table.optimize()


def tune(query: Any, limit: int) -> Any:
    """Set the ANN search parameters on a LanceDB vector query for ``limit`` results.

    Harmless on a table without an ANN index (the exact scan ignores them).
    """
    # HNSW refuses an ef below the number of candidates it returns (refinement included).
    query = query.nprobes(NPROBES).ef(max(EF, limit * (REFINE_FACTOR or 1)))
    return query.refine_factor(REFINE_FACTOR) if REFINE_FACTOR else query
