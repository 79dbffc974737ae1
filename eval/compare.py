"""Two eval runs side by side: is a change more than the noise of a small question set?

Both runs' ``results.json`` are read back into per-question records (:mod:`eval.report`); the
questions they share (by set and id) are resampled together, so every difference comes with a
paired bootstrap interval, and a difference whose interval holds zero is called noise::

    python -m eval.compare before/results.json after/results.json

``deerin eval --against before/results.json`` prints the same for the run it has just made.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.markdown import table
from eval.metrics import QuestionResult, contributions, rate
from eval.report import fmt, records_from_results
from eval.stats import Interval, paired_rate_difference

# The rates compared, in report order; lower is better for the last two.
COMPARED: tuple[tuple[str, str], ...] = (
    ("recall@1", "Recall@1"),
    ("recall@3", "Recall@3"),
    ("recall@5", "Recall@5"),
    ("mrr", "MRR"),
    ("passage_recall", "passage recall"),
    ("answer_hit_rate", "answer hit rate"),
    ("answer_hit_when_read", "answer hit when read"),
    ("citation_precision", "citation precision"),
    ("citation_precision_model", "citation precision, model"),
    ("citation_precision_quote", "citation precision, quotes"),
    ("refusal_accuracy", "refusal accuracy"),
    ("false_refusal_rate", "false-refusal rate"),
    ("extractive_rate", "quote-fallback rate"),
)


@dataclass(frozen=True)
class Row:
    """One rate in both runs, and the paired interval of the difference (new minus old)."""

    key: str
    label: str
    old: float | None
    new: float | None
    difference: Interval | None


@dataclass(frozen=True)
class Comparison:
    """The rates of one set (or ``all``) over the questions both runs answered."""

    name: str
    questions: int
    rows: tuple[Row, ...]
    only_old: tuple[str, ...] = ()  # question ids in the old run alone
    only_new: tuple[str, ...] = ()


def compare(old: dict[str, Any], new: dict[str, Any], *, resamples: int = 2000,
            seed: int = 7) -> list[Comparison]:
    """Compare two ``results.json`` contents: all questions, then each set apart."""
    answered = bool(old["meta"].get("answered")) and bool(new["meta"].get("answered"))
    a = _by_key(old)
    b = _by_key(new)
    sets = list(dict.fromkeys(s for s, _ in (*a, *b)))
    out = [_compare("all", a, b, answered, resamples, seed)]
    if len(sets) > 1:
        for name in sets:
            out.append(_compare(name, {k: v for k, v in a.items() if k[0] == name},
                                {k: v for k, v in b.items() if k[0] == name},
                                answered, resamples, seed))
    return out


def render(comparisons: Sequence[Comparison]) -> list[str]:
    """The comparison as Markdown: a table per set."""
    lines: list[str] = []
    for c in comparisons:
        lines += [f"### {c.name}: {c.questions} questions in both runs", ""]
        if c.only_old or c.only_new:
            lines += [f"Left out (in one run only): {', '.join((*c.only_old, *c.only_new))}", ""]
        rows = []
        for r in c.rows:
            d = r.difference
            rows.append([r.label, fmt(r.old), fmt(r.new),
                         "—" if d is None else f"{d.value:+.3f}",
                         "—" if d is None else f"[{d.lo:+.3f}, {d.hi:+.3f}]"
                         + (" ≈ noise" if d.noise else "")])
        lines += [*table(["rate", "before", "after", "difference", "95 % interval (paired)"],
                         rows), ""]
    return lines


def _by_key(data: dict[str, Any]) -> dict[tuple[str, str], QuestionResult]:
    records, _ = records_from_results(data)
    sets = [q.get("set", "") for q in data["questions"]]
    return {(s, r.gold.id): r for s, r in zip(sets, records, strict=True)}


def _compare(name: str, a: dict[tuple[str, str], QuestionResult],
             b: dict[tuple[str, str], QuestionResult], answered: bool, resamples: int,
             seed: int) -> Comparison:
    shared = [k for k in a if k in b]
    before = [contributions(a[k], answered) for k in shared]
    after = [contributions(b[k], answered) for k in shared]
    rows = []
    for key, label in COMPARED:
        if key not in (before[0] if before else {}):
            continue
        x = [c[key] for c in before]
        y = [c[key] for c in after]
        rows.append(Row(key, label, rate(x), rate(y),
                        paired_rate_difference(x, y, resamples, seed)))
    return Comparison(name, len(shared), tuple(rows),
                      tuple(k[1] for k in a if k not in b), tuple(k[1] for k in b if k not in a))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("old", type=Path, help="results.json of the run before")
    parser.add_argument("new", type=Path, help="results.json of the run after")
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args(argv)
    try:
        old, new = (json.loads(p.read_text(encoding="utf-8")) for p in (args.old, args.new))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(render(compare(old, new, resamples=args.resamples))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
