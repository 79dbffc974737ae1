"""Retrieval in each GraphRAG mode on the same questions, in one run.

For every gold question and every mode (``naive``, ``local``, ``hybrid``, ``global``, ``auto``;
:mod:`assistant.graph`) the top-``k`` clips are retrieved with the same store, embedder and
rerank, and scored by set-recall@k (share of the question's gold spans hit, see
:func:`eval.metrics.set_recall`), set-recall@5, Recall@1/@5 and MRR of the first hit. No LLM is
loaded: it measures what each mode puts in front of the answerer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.gold import GoldQuestion, load_gold
from eval.metrics import mrr, rank_of_first_hit, recall_at_k, set_recall

if TYPE_CHECKING:
    from indexing.settings import Settings

SET_K = 10


@dataclass(frozen=True)
class ModeResult:
    """One question in one mode: the ranked (media, start, end) spans and their scores."""

    gold: GoldQuestion
    set_name: str
    mode: str
    retrieved: tuple[tuple[str, float, float], ...]
    seconds: float
    resolved: str  # the mode ``auto`` chose (the mode itself otherwise)

    def set_recall(self, k: int) -> float | None:
        return set_recall(self.retrieved, self.gold, k)


def compare_modes(gold_paths: Sequence[str | Path], settings: Settings, modes: Sequence[str],
                  k: int = SET_K, progress: Callable[[int, int, str], None] | None = None
                  ) -> list[ModeResult]:
    """Run every question of ``gold_paths`` through every mode; raises ValueError for a bad
    set or mode, StoreError/GraphError for an unusable index or graph."""
    from assistant.graph.index import GraphIndex
    from assistant.graph.modes import check_mode
    from assistant.graph.retriever import GraphRetriever
    from assistant.retrieval import Retriever
    from assistant.service import build_assistant
    from eval.runner import set_names

    modes = [check_mode(m) for m in modes]
    sets = dict(zip(set_names(list(gold_paths)), gold_paths, strict=True))
    tagged = [(name, g) for name, path in sets.items() for g in load_gold(path)]
    base: Retriever = build_assistant(settings, with_llm=False).retriever
    base.embed_query("warm up")
    graph = GraphIndex.open(base.store, base.embedder) if set(modes) - {"naive"} else None
    out: list[ModeResult] = []
    total = len(tagged) * len(modes)
    for mode in modes:
        retriever = base if mode == "naive" else GraphRetriever(base, graph, mode)  # type: ignore[arg-type]
        for name, gold in tagged:
            if progress is not None:
                progress(len(out) + 1, total, f"{mode} {gold.id}")
            t = time.perf_counter()
            hits = retriever.search(gold.question, k=k)
            spans = tuple((h.clip.media_path, h.clip.start, h.clip.end) for h in hits)
            resolved = getattr(retriever, "last_mode", mode)
            out.append(ModeResult(gold, name, mode, spans, time.perf_counter() - t, resolved))
    return out


def summarize_modes(results: Sequence[ModeResult], k: int = SET_K) -> dict[str, dict[str, Any]]:
    """Per ``set/mode``: n, set_recall@k, set_recall@5, recall@1, recall@5, mrr, p50 seconds."""
    groups: dict[str, list[ModeResult]] = {}
    for r in results:
        groups.setdefault(f"{r.set_name}/{r.mode}", []).append(r)
    table = {}
    for key, rs in groups.items():
        ranks = [rank_of_first_hit(r.retrieved, r.gold) for r in rs if r.gold.answerable]
        sr = [x for r in rs if (x := r.set_recall(k)) is not None]
        sr5 = [x for r in rs if (x := r.set_recall(5)) is not None]
        secs = sorted(r.seconds for r in rs)
        table[key] = {
            "n": len(rs), f"set_recall@{k}": _mean(sr), "set_recall@5": _mean(sr5),
            "recall@1": recall_at_k(ranks, 1), "recall@5": recall_at_k(ranks, 5),
            "mrr": mrr(ranks), "p50_s": secs[len(secs) // 2] if secs else None,
            "auto_chose": sorted({r.resolved for r in rs}) if rs[0].mode == "auto" else None,
        }
    return table


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
