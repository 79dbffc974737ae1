"""Aggregation questions on one index: the graph's evidence list against top-k retrieval.

    python bench/archive/lists.py --db WORK/db-50h eval/sets/archive/aggregation_dev.jsonl \\
        [--k 10] [--out FILE.json]

Gold: every subtitle cue of the indexed files that matches the question's pattern
(:mod:`eval.aggregation`). Prints recall and precision per question and list (the evidence
list, naive top-k, hybrid top-k) and their means; ``--out`` keeps them as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def main(argv: list[str] | None = None) -> None:
    from eval.aggregation import load_aggregation, score_lists, summarize
    from indexing.settings import Settings

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+", type=Path)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    questions = [q for path in args.sets for q in load_aggregation(path)]
    results = score_lists(questions, Settings(db_dir=args.db), k=args.k)
    lists = list(results[0].scores) if results else []
    print("| question | gold (files) | asked | listed as | " +
          " | ".join(f"{n} R / P" for n in lists) + " |")
    print("|---|---|---|---|" + "---|" * len(lists))
    for r in results:
        cells = " | ".join(f"{_f(r.scores[n].recall)} / {_f(r.scores[n].precision)}"
                           for n in lists)
        print(f"| {r.question.id} | {r.gold} ({r.gold_files}) | {r.question.unit} | "
              f"{r.asked_for or '-'}: {', '.join(r.listed_names) or '-'} | {cells} |")
    table = summarize(results)
    for name, row in table.items():
        print(f"{name}: recall {_f(row['recall'])}, precision {_f(row['precision'])}, "
              f"both >= 0.9 on {row['both_0.9']} of {row['n']}")
    if args.out:
        args.out.write_text(json.dumps({
            "db": str(args.db), "k": args.k, "summary": table,
            "questions": [{"id": r.question.id, "unit": r.question.unit, "gold": r.gold,
                           "gold_files": r.gold_files, "asked_for": r.asked_for,
                           "listed": list(r.listed_names), "seconds": r.seconds,
                           "scores": {n: asdict(s) for n, s in r.scores.items()}}
                          for r in results]}, indent=1) + "\n")


if __name__ == "__main__":
    main()
