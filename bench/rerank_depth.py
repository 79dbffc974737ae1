"""Benchmark: how many first-stage candidates the query-likelihood rerank should rescore
(``RERANK_DEPTH`` in assistant/calibration.py), on gold sets, with what each depth costs.

The first stage is the assistant's own (``Retriever.candidates``: fused, de-duplicated, 40
deep); every depth reranks the same candidates, and each clip is scored once (a score depends
only on the question and the passage), so the cost of a depth is the scoring time of its
clips, timed as they are first scored. For every set: Recall@1/3/5 and MRR per depth with the
eval's hit rule (the core of a gold span, alternates counted), the rerank's seconds per
question (p50), and each depth against the current one with a paired bootstrap interval of
the difference (inside it: noise).

    PYTHONPATH=$PWD .venv/bin/python bench/rerank_depth.py --db IDX eval/sets/dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from assistant.calibration import RERANK_DEPTH
from assistant.rerank import RerankPolicy, passage_of, rerank_by_likelihood
from assistant.retrieval import Retriever
from eval.gold import load_gold
from eval.metrics import mrr, rank_of_first_hit, recall_at_k
from eval.stats import paired_difference
from indexing.settings import Settings
from indexing.stores.lance import LanceStore

DEPTHS = (0, 8, 12, 16, 24, 40)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("gold", type=Path, nargs="+")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--depths", default=",".join(map(str, DEPTHS)),
                        help="depths to compare, comma-separated (0: no rerank)")
    parser.add_argument("--json", type=Path, help="write the per-question ranks here")
    args = parser.parse_args(argv)
    depths = sorted({int(d) for d in args.depths.split(",")} | {RERANK_DEPTH})
    retriever = Retriever(LanceStore(args.db, create=False), Settings.from_env({}, db_dir=args.db))
    reranker = retriever.reranker
    if reranker is None:
        print("no reranker: set models.rerank (DEERIN_RERANK) to the default", file=sys.stderr)
        return 2
    out: dict[str, object] = {"db": str(args.db), "depths": depths, "sets": {}}
    for path in args.gold:
        golds = [g for g in load_gold(path) if g.answerable]
        ranks: dict[int, list[int | None]] = {d: [] for d in depths}
        seconds: dict[int, list[float]] = {d: [] for d in depths}
        for g in golds:
            found = retriever.candidates(g.question)
            # Scored in depth order, each clip once, timed as the depths grow.
            spent, done = 0.0, 0
            for d in depths:
                todo = found[done:d]
                if todo:
                    t = time.perf_counter()
                    reranker.likelihood(g.question, [passage_of(h) for h in todo])
                    spent += time.perf_counter() - t
                    done = max(done, d)
                seconds[d].append(spent if d else 0.0)
                order = (rerank_by_likelihood(g.question, found, reranker,
                                              RerankPolicy(depth=d)) if d else found)
                spans = [(h.clip.media_path, h.clip.start, h.clip.end) for h in order]
                ranks[d].append(rank_of_first_hit(spans, g))
            print(".", end="", flush=True)
        print()
        print(f"## {path.name} ({len(golds)} answerable questions, {args.db})\n")
        print("| depth | Recall@1 | Recall@3 | Recall@5 | MRR | rerank s/question p50 |")
        print("|---|---|---|---|---|---|")
        for d in depths:
            r = ranks[d]
            print(f"| {d}{' (current)' if d == RERANK_DEPTH else ''} | "
                  f"{recall_at_k(r, 1):.3f} | {recall_at_k(r, 3):.3f} | "
                  f"{recall_at_k(r, 5):.3f} | {mrr(r):.3f} | "
                  f"{statistics.median(seconds[d]):.2f} |")
        print()
        base = ranks[RERANK_DEPTH]
        for d in depths:
            if d == RERANK_DEPTH:
                continue
            parts = []
            for k in (1, 5):
                diff = paired_difference([float(r is not None and r <= k) for r in base],
                                         [float(r is not None and r <= k) for r in ranks[d]])
                if diff is not None:
                    parts.append(f"Recall@{k} {diff.value:+.3f} [{diff.lo:+.3f}, {diff.hi:+.3f}]")
            print(f"- depth {d} vs {RERANK_DEPTH}: " + "; ".join(parts))
        print(flush=True)
        sets = out["sets"]
        assert isinstance(sets, dict)
        sets[str(path)] = {"ids": [g.id for g in golds],
                           "ranks": {str(d): ranks[d] for d in depths},
                           "seconds": {str(d): seconds[d] for d in depths}}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
