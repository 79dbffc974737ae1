"""Benchmark: the retrieval order under each weighting of the rank fusion, on a gold set (the
tuning set: this chooses the weights in assistant/calibration.py).

For every question the candidates are read once from the store (and, when the rerank is on,
the first RERANK_DEPTH are scored by query likelihood once); each weighting then only re-sorts
them, so the sweep costs one retrieval per question. Prints Recall@1/3/5 and MRR with the
hit rule of the eval (the core of a gold span, alternates counted).

    PYTHONPATH=$PWD .venv/bin/python bench/fusion_weights.py --db IDX eval/sets/dev.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import replace
from pathlib import Path

from assistant.calibration import CANDIDATES, RERANK_DEPTH, W_DENSE, W_LEXICAL, W_LIKELIHOOD
from assistant.rerank import passage_of
from assistant.retrieval import Retriever, by_fusion, dedupe
from eval.gold import load_gold
from eval.metrics import mrr, rank_of_first_hit, recall_at_k
from eval.stats import paired_difference
from indexing.fusion import rrf
from indexing.settings import Settings
from indexing.stores.lance import LanceStore

DENSE = (1.0,)
LEXICAL = (0.0, 0.25, 0.5, 1.0)
LIKELIHOOD = (0.0, 0.5, 1.0, 2.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("gold", type=Path)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args(argv)
    golds = [g for g in load_gold(args.gold) if g.answerable]
    retriever = Retriever(LanceStore(args.db, create=False), Settings.from_env({}, db_dir=args.db))
    reranker = retriever.reranker
    cached = []
    for g in golds:
        found = retriever.store.search(g.question, retriever.embed_query(g.question),
                                       k=CANDIDATES, depth=CANDIDATES)
        scores = {}
        if reranker is not None:
            for w_lex in LEXICAL:  # every clip any weighting puts in the head gets a score
                head = dedupe(by_fusion(found, 1.0, w_lex))[:RERANK_DEPTH]
                todo = [h for h in head if h.clip_id not in scores]
                if todo:
                    lls = reranker.likelihood(g.question, [passage_of(h) for h in todo])
                    scores.update({h.clip_id: ll for h, ll in zip(todo, lls, strict=True)})
        cached.append((g, found, scores))
        print(".", end="", flush=True)
    print()
    runs: dict[tuple[float, float, float], list[int | None]] = {}
    print("| dense | lexical | likelihood | Recall@1 | Recall@3 | Recall@5 | MRR |")
    print("|---|---|---|---|---|---|---|")
    for w_dense, w_lex, w_ll in itertools.product(DENSE, LEXICAL, LIKELIHOOD):
        ranks = []
        for g, found, scores in cached:
            order = dedupe(by_fusion(found, w_dense, w_lex))
            head = order[:RERANK_DEPTH]
            if w_ll > 0 and scores and len(head) > 1:
                lls = [scores.get(h.clip_id, float("-inf")) for h in head]
                by_ll = sorted(range(len(head)), key=lambda i: (-lls[i], i))
                fused = rrf([range(len(head)), by_ll], [1.0, w_ll])
                head = [replace(head[i]) for i in sorted(range(len(head)),
                                                         key=lambda i: (-fused[i], i))]
                order = head + order[RERANK_DEPTH:]
            spans = [(h.clip.media_path, h.clip.start, h.clip.end) for h in order]
            ranks.append(rank_of_first_hit(spans, g))
        runs[(w_dense, w_lex, w_ll)] = ranks
        print(f"| {w_dense:g} | {w_lex:g} | {w_ll:g} | {recall_at_k(ranks, 1):.3f} | "
              f"{recall_at_k(ranks, 3):.3f} | {recall_at_k(ranks, 5):.3f} | {mrr(ranks):.3f} |",
              flush=True)
    # Each lexical weight against the chosen one, at the chosen likelihood weight: the paired
    # bootstrap interval of the difference (a difference inside it is noise).
    chosen = runs[(W_DENSE, W_LEXICAL, W_LIKELIHOOD)]
    for w_lex in LEXICAL:
        other = runs[(W_DENSE, w_lex, W_LIKELIHOOD)]
        if w_lex == W_LEXICAL:
            continue
        for k in (1, 5):
            hits = [float(r is not None and r <= k) for r in chosen]
            diff = paired_difference(hits, [float(r is not None and r <= k) for r in other])
            if diff is not None:
                print(f"lexical {w_lex:g} vs {W_LEXICAL:g}: Recall@{k} {diff.value:+.3f} "
                      f"[{diff.lo:+.3f}, {diff.hi:+.3f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
