"""Benchmark: the evidence floor of each shipped embedder, matched by quantile on a gold set
(the tuning set: this sets ``MIN_EVIDENCE`` in assistant/calibration.py).

The floor refuses a question outright when the best clip's similarity is below it. Cosines of
different embedders live on different scales (MiniLM's best matches sit near 0.3-0.7, e5's near
0.8-0.9), so one number cannot serve both. The floor fixed for the reference embedder is
carried to the others by quantile: each embedder's floor refuses the same share of the set's
English questions. Prints, per embedder, the best-clip similarity of the answerable and
unanswerable questions (English and other languages apart) and the matched floor.

    PYTHONPATH=$PWD .venv/bin/python bench/evidence_floor.py --db IDX eval/sets/dev.jsonl
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from eval.gold import load_gold
from indexing.stages.embed import make_embedder
from indexing.stores.lance import LanceStore
from indexing.text import detect_language

REFERENCE = "minilm"  # the embedder whose floor was fixed on the tuning set
REFERENCE_FLOOR = 0.25
OTHERS = ("e5",)


def best_scores(spec: str, texts: list[str], questions: list[str]) -> np.ndarray:
    """The best cosine of each question over ``texts`` under embedder ``spec``."""
    embedder = make_embedder(spec)
    clips = embedder.embed_texts(texts)
    queries = np.stack([embedder.embed_query(q) for q in questions])
    return np.asarray((queries @ clips.T).max(axis=1), dtype=float)


def _summary(label: str, values: np.ndarray) -> str:
    if values.size == 0:
        return f"  {label:<28} (none)"
    q = np.quantile(values, [0.0, 0.1, 0.5])
    return f"  {label:<28} n={values.size:<3} min {q[0]:.3f}  p10 {q[1]:.3f}  median {q[2]:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("gold", type=Path)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args(argv)
    golds = load_gold(args.gold)
    texts = [c.text for c in LanceStore(args.db, create=False).all_clips() if c.text.strip()]
    questions = [g.question for g in golds]
    english = np.array([detect_language(q) in (None, "en") for q in questions])
    answerable = np.array([g.answerable for g in golds])
    print(f"{len(questions)} questions ({int(english.sum())} English), {len(texts)} clips")
    scores = {spec: best_scores(spec, texts, questions) for spec in (REFERENCE, *OTHERS)}
    share = float(np.mean(scores[REFERENCE][english] < REFERENCE_FLOOR))
    for spec, best in scores.items():
        floor = (REFERENCE_FLOOR if spec == REFERENCE
                 else float(np.quantile(best[english], share)) if share > 0 else float(best.min()))
        print(f"{spec}: floor {floor:.3f} (refuses {share:.1%} of the English questions)")
        print(_summary("answerable, English", best[answerable & english]))
        print(_summary("answerable, other languages", best[answerable & ~english]))
        print(_summary("unanswerable, English", best[~answerable & english]))
        print(_summary("unanswerable, other languages", best[~answerable & ~english]))
        below = [g.id for g, s in zip(golds, best, strict=True) if g.answerable and s < floor]
        print(f"  answerable below the floor: {', '.join(below) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
