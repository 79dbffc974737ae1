"""Exact scan or ANN index below VECTOR_INDEX_MIN_ROWS: search on one archive index, both ways.

    python bench/archive/ann_threshold.py --db WORK/db-50h [--queries 200]

Copies the index, builds the ANN vector index (and id B-tree) on the copy whatever its size,
then runs the same queries against both, alternating query by query (same moment's load):
the archive's questions and sentences drawn from its clips. Prints p50/p95 of the store's
hybrid search (as the assistant calls it) for each, their ratio, and recall@10 of the ANN
run against the exact one (share of the exact top-10 clip ids the ANN run also returns).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return 1000 * xs[int(q * (len(xs) - 1))]


def main(argv: list[str] | None = None) -> None:
    from assistant.calibration import CANDIDATES
    from assistant.retrieval import Retriever
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore
    from indexing.stores.lance_index import ensure_vector_index

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "db"
        shutil.copytree(args.db, copy)
        ann = LanceStore(copy, create=False)
        t = time.perf_counter()
        for name in ("clips", "windows"):
            table = ann._table(name)
            if table is not None:
                ensure_vector_index(table, min_rows=0)
        build = time.perf_counter() - t
        exact = LanceStore(args.db, create=False)
        retriever = Retriever(exact, Settings(db_dir=args.db), reranker="off")
        rng = random.Random(args.seed)
        texts = [c.text for c in exact.all_clips() if len(c.text.split()) >= 6]
        questions = [json.loads(line)["question"]
                     for path in sorted((REPO / "eval/sets/archive").glob("*.jsonl"))
                     for line in path.read_text(encoding="utf-8").splitlines()
                     if line.strip() and not line.lstrip().startswith("//")]
        drawn = [" ".join(t.split()[:12]) for t in rng.sample(texts, min(len(texts),
                                                                      args.queries))]
        queries = (questions + drawn)[: max(args.queries, len(questions))]
        vectors = [retriever.embed_query(q) for q in queries]
        for store in (exact, ann):  # warm both
            store.search(queries[0], vectors[0], k=CANDIDATES, depth=CANDIDATES)
        times: dict[str, list[float]] = {"exact": [], "ann": []}
        recall = []
        for q, v in zip(queries, vectors, strict=True):
            got = {}
            for name, store in (("exact", exact), ("ann", ann)):
                t = time.perf_counter()
                hits = store.search(q, v, k=CANDIDATES, depth=CANDIDATES)
                times[name].append(time.perf_counter() - t)
                got[name] = [h.clip.clip_id for h in hits[:10]]
            if got["exact"]:
                recall.append(len(set(got["exact"]) & set(got["ann"])) / len(got["exact"]))
        rows = exact.count_clips()
        print(f"{rows} clips; ANN index built in {build:.1f} s; {len(queries)} queries")
        for name in ("exact", "ann"):
            print(f"{name:>5}: p50 {_pct(times[name], 0.5):.1f} ms, "
                  f"p95 {_pct(times[name], 0.95):.1f} ms")
        print(f"ratio ann/exact: p50 {_pct(times['ann'], 0.5) / _pct(times['exact'], 0.5):.2f}, "
              f"p95 {_pct(times['ann'], 0.95) / _pct(times['exact'], 0.95):.2f}; "
              f"recall@10 of ANN against exact {sum(recall) / len(recall):.3f}")


if __name__ == "__main__":
    main()
