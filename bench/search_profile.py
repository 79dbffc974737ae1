"""Where the time of one hybrid search goes, on an index bench/search_scale.py built.

Each part of :meth:`LanceStore.search` is timed on its own, one after another, over the same
questions (p50 and p95 in ms): the table's row count, the clip vector query and the full-text
query as search runs them (ids, scores and row ids), the same two queries returning whole rows
(how search ran them before), the read of the final rows by row id and by id (B-tree), fusion
and the conversion of rows to clips in Python; then the whole search, whose queries run at once.

    python bench/search_profile.py --db /tmp/deerin-scale-1m/clips-1000000
    python bench/search_profile.py --db /tmp/deerin-scale-1m/clips-1000000 --before bcdc81b

``--before REV`` also times the search as ``indexing/stores/lance.py`` had it at git revision
REV, query by query in turn with today's (same questions, same moment's load), and checks that
both return the same hits.
    python bench/search_scale.py --sizes 1000000 --out /tmp/deerin-scale-1m --reuse --profile
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from indexing.stores import lance_search  # noqa: E402
from indexing.stores.lance import LanceStore  # noqa: E402
from indexing.stores.lance_index import tune  # noqa: E402
from indexing.stores.lance_schema import quote  # noqa: E402

DEPTH = 40  # what assistant.retrieval asks the store for (k and depth)


def _ms(fn: Callable[[Any], Any], items: list[Any]) -> dict[str, float]:
    for x in items[:2]:  # warm-up
        fn(x)
    times = []
    for x in items:
        t0 = time.perf_counter()
        fn(x)
        times.append(1000 * (time.perf_counter() - t0))
    ordered = sorted(times)
    return {"p50": round(statistics.median(times), 2),
            "p95": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 2)}


def profile(store: LanceStore, queries: list[tuple[str, np.ndarray]]) -> dict[str, Any]:
    """Time each part of a hybrid search over ``queries`` (text, unit vector) on ``store``."""
    t: Any = store._table("clips")
    if t is None:
        raise SystemExit("no clips table in this index")
    cols = store._columns(t, store._CLIP_COLUMNS)
    texts = [(lance_search.fts_query(q), v) for q, v in queries]

    def vector_rows(q: tuple[str, np.ndarray]) -> Any:
        return tune(t.search(q[1], vector_column_name="vector").distance_type("cosine")
                    .select([*cols, "_distance"]).limit(DEPTH), DEPTH).to_list()

    def fts_rows(q: tuple[str, np.ndarray]) -> Any:
        return t.search(q[0], query_type="fts", fts_columns="text") \
            .select([*cols, "vector", "_score"]).limit(DEPTH).to_list()

    # The rows a search reads at the end: its fused top list (as ids and row ids).
    tops = []
    for q in texts:
        vec = lance_search._vector_ids(t, q[1], DEPTH, None, "id")
        fts = lance_search._fts_ids(t, q[0], DEPTH, None)
        fused, _ = lance_search.fuse({"vector": vec[0], "fts": fts[0]})
        rid = dict(zip(vec[0] + fts[0], vec[2] + fts[2], strict=True))
        order = sorted(fused, key=lambda c: -fused[c])[:DEPTH]
        tops.append(({"vector": vec[0], "fts": fts[0]}, order, [rid[c] for c in order]))

    def by_id(top: Any) -> Any:
        ids = ", ".join(quote(c) for c in top[1])
        return t.search().where(f"id IN ({ids})").select(cols).limit(len(top[1])).to_arrow()

    rows = [t.take_row_ids(top[2]).select(cols).to_arrow().to_pylist() for top in tops[:5]]

    def python(top: Any) -> None:
        fused, _ = lance_search.fuse(top[0])
        sorted(fused, key=lambda c: -fused[c])
        for r in rows[0]:
            store._row_to_clip(r)

    parts = {
        "count_rows": _ms(lambda q: t.count_rows(), texts),
        "vector_ids": _ms(lambda q: lance_search._vector_ids(t, q[1], DEPTH, None, "id"),
                          texts),
        "vector_whole_rows": _ms(vector_rows, texts),
        "fts_ids": _ms(lambda q: lance_search._fts_ids(t, q[0], DEPTH, None), texts),
        "fts_whole_rows": _ms(fts_rows, texts),
        "read_by_row_id": _ms(lambda top: t.take_row_ids(top[2]).select(cols).to_arrow(),
                              tops),
        "read_by_id": _ms(by_id, tops),
        "fuse_and_clips": _ms(python, tops),
        "search": _ms(lambda q: store.search(q[0], q[1], k=DEPTH, depth=DEPTH), queries),
    }
    return parts


def store_at(rev: str, db: Path) -> Any:
    """A reader of ``db`` whose class is ``indexing/stores/lance.py`` as of git ``rev`` (the
    modules it imports are today's)."""
    import importlib.util
    import subprocess
    import tempfile

    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:indexing/stores/lance.py"],
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / f"lance_{rev}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"lance_{rev}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.LanceStore(db, create=False)


def before_after(before: Any, store: LanceStore,
                 queries: list[tuple[str, np.ndarray]]) -> dict[str, Any]:
    """Both searches on each question, in alternating order; p50/p95 of each, and whether
    every result was the same."""
    def run(s: Any, q: tuple[str, np.ndarray]) -> tuple[list[Any], float]:
        t0 = time.perf_counter()
        hits = s.search(q[0], q[1], k=DEPTH, depth=DEPTH)
        return hits, 1000 * (time.perf_counter() - t0)

    for q in queries[:2]:
        run(before, q)
        run(store, q)
    times: dict[str, list[float]] = {"before": [], "after": []}
    same = 0
    for i, q in enumerate(queries):
        pair = [("before", before), ("after", store)]
        out = {}
        for name, s in pair if i % 2 else pair[::-1]:
            out[name], ms = run(s, q)
            times[name].append(ms)
        same += out["before"] == out["after"]
    result: dict[str, Any] = {}
    for name, ts in times.items():
        ordered = sorted(ts)
        result[name] = {"p50": round(statistics.median(ts), 2),
                        "p95": round(ordered[round(0.95 * (len(ordered) - 1))], 2)}
    result["p50_ratio"] = round(result["after"]["p50"] / result["before"]["p50"], 3)
    result["same_hits"] = f"{same}/{len(queries)}"
    return result


def sweep(store: LanceStore, queries: list[tuple[str, np.ndarray]],
          settings: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """ANN recall@10 (against the exact scan) and the vector query's time at search's depth,
    for each (nprobes, ef)."""
    from indexing.stores import lance_index

    t: Any = store._table("clips")

    def ids(vec: np.ndarray, limit: int, exact: bool) -> list[str]:
        q = t.search(vec, vector_column_name="vector").distance_type("cosine") \
            .select(["id", "_distance"]).limit(limit)
        q = q.bypass_vector_index() if exact else lance_index.tune(q, limit)
        return [r["id"] for r in q.to_list()]

    exact = [set(ids(v, 10, True)) for _, v in queries]
    kept = lance_index.NPROBES, lance_index.EF
    out = []
    try:
        for nprobes, ef in settings:
            lance_index.NPROBES, lance_index.EF = nprobes, ef
            recall = statistics.mean(len(set(ids(v, 10, False)) & e) / max(1, len(e))
                                     for (_, v), e in zip(queries, exact, strict=True))
            ms = _ms(lambda q: lance_search._vector_ids(t, q[1], DEPTH, None, "id"), queries)
            out.append({"nprobes": nprobes, "ef": ef, "recall_at_10": round(recall, 4),
                        "vector_query_ms": ms})
            print(json.dumps(out[-1]), flush=True)
    finally:
        lance_index.NPROBES, lance_index.EF = kept
    return out


def main() -> None:
    from search_scale import Collection

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", type=Path, required=True, help="an index search_scale.py built")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--topics", type=int, default=1000, help="as the index was built with")
    ap.add_argument("--before", metavar="REV",
                    help="also time lance.py's search as of this git revision, in turn")
    ap.add_argument("--no-parts", action="store_true", help="skip the per-part timings")
    ap.add_argument("--sweep", default="", metavar="NPROBES:EF,...",
                    help="ANN recall@10 and vector query time for each setting, e.g. 20:200,10:100")
    args = ap.parse_args()
    t0 = time.perf_counter()
    store = LanceStore(args.db, create=False)
    table: Any = store._table("clips")
    print(f"open store + clips table: {1000 * (time.perf_counter() - t0):.1f} ms, "
          f"{table.count_rows():,} clips", flush=True)
    queries = Collection(args.topics).queries(table, args.queries)
    if not args.no_parts:
        for name, p in profile(store, queries).items():
            print(f"{name:<18} p50 {p['p50']:>7.2f} ms   p95 {p['p95']:>7.2f} ms", flush=True)
    if args.sweep:
        sweep(store, queries, [(int(a), int(b)) for a, b in
                               (p.split(":") for p in args.sweep.split(","))])
    if args.before:
        print(f"hybrid search, {args.before} vs now, in turn:",
              json.dumps(before_after(store_at(args.before, args.db), store, queries)),
              flush=True)
    print(json.dumps({"db": str(args.db), "queries": len(queries)}))


if __name__ == "__main__":
    main()
