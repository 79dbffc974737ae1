"""Aggregation questions: gold sets derived from the subtitles, and the lists scored against them.

An aggregation question ("every moment where Cuba is named", "which recordings mention
Nicaragua?") is a JSONL line with ``id``, ``question``, ``pattern`` (a Python regular
expression) and ``unit`` (``moment`` or ``recording``). Its gold is derived mechanically, so it
scales with the collection: every subtitle cue of the indexed files whose text matches
``pattern`` is a gold moment, and the files holding one are the gold recordings
(:func:`derive_gold`). A list is scored by recall (the share of gold moments, or recordings,
it holds) and precision (the share of its items that are gold); a listed span holds a gold
moment by the rule of every other span metric (:func:`eval.metrics.is_hit`: the core of it).

:func:`score_lists` puts three lists side by side per question: the knowledge graph's evidence
list (:mod:`assistant.graph.evidence`), and the top ``k`` clips of ordinary (``naive``) and
``hybrid`` retrieval, which a top-``k`` answer is limited to by construction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eval.gold import GoldQuestion
from eval.metrics import is_hit, media_name

if TYPE_CHECKING:
    from indexing.settings import Settings

UNITS = ("moment", "recording")
Span = tuple[str, float, float]  # (file name, start, end)


@dataclass(frozen=True, slots=True)
class AggregationQuestion:
    """A question asking for every moment (or recording) matching ``pattern``."""

    id: str
    question: str
    pattern: str
    unit: str = "moment"

    def matches(self, text: str) -> bool:
        return re.search(self.pattern, text) is not None


def load_aggregation(path: str | Path) -> list[AggregationQuestion]:
    """The questions of a JSONL file (``//`` comment lines and blank lines skipped); raises
    ValueError naming the line of a bad one."""
    out: list[AggregationQuestion] = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("//"):
            continue
        try:
            row = json.loads(line)
            q = AggregationQuestion(str(row["id"]), str(row["question"]), str(row["pattern"]),
                                    str(row.get("unit", "moment")))
            re.compile(q.pattern)
        except (ValueError, KeyError, TypeError, re.error) as exc:
            raise ValueError(f"{path}:{n}: not an aggregation question: {exc}") from exc
        if q.unit not in UNITS:
            raise ValueError(f"{path}:{n}: unit must be one of {', '.join(UNITS)}")
        out.append(q)
    return out


def derive_gold(questions: Sequence[AggregationQuestion],
                media: Iterable[str | Path]) -> dict[str, tuple[Span, ...]]:
    """Per question id, every cue of the ``media`` files' subtitle sidecars whose text matches
    its pattern, as (file name, start, end), in file and time order."""
    from indexing.stages.subtitles import find_sidecars, read_cues

    gold: dict[str, list[Span]] = {q.id: [] for q in questions}
    for path in sorted(Path(p) for p in media):
        for sidecar in find_sidecars(path)[:1]:  # the file's first sidecar, as the indexer
            for cue in read_cues(sidecar):
                for q in questions:
                    if q.matches(cue.text):
                        gold[q.id].append((path.name, cue.start, cue.end))
    return {k: tuple(v) for k, v in gold.items()}


@dataclass(frozen=True, slots=True)
class ListScore:
    """One list's recall and precision against a question's gold (None when undefined: no
    gold, or an empty list)."""

    listed: int
    recall: float | None
    precision: float | None


def score_list(listed: Sequence[Span], gold: Sequence[Span], unit: str) -> ListScore:
    """Recall and precision of ``listed`` spans against ``gold`` moments, or of the files
    they name against the gold files (``unit`` ``recording``)."""
    if unit == "recording":
        got = {media_name(m) for m, _, _ in listed}
        want = {m for m, _, _ in gold}
        return ListScore(len(got), len(got & want) / len(want) if want else None,
                         len(got & want) / len(got) if got else None)
    probes = [_gold_question(g) for g in gold]
    found = sum(1 for p in probes if any(is_hit(m, s, e, p) for m, s, e in listed))
    right = sum(1 for m, s, e in listed if any(is_hit(m, s, e, p) for p in probes))
    return ListScore(len(listed), found / len(gold) if gold else None,
                     right / len(listed) if listed else None)


def _gold_question(span: Span) -> GoldQuestion:
    media, start, end = span
    return GoldQuestion("gold", "", media, start, end, (), True)


@dataclass(frozen=True)
class ListResult:
    """One question: its gold count and each list's score (``evidence``, ``naive@k``,
    ``hybrid@k``), and what the evidence list linked."""

    question: AggregationQuestion
    gold: int
    gold_files: int
    scores: dict[str, ListScore]
    listed_names: tuple[str, ...]
    asked_for: str | None  # the unit the question's grammar asked for (None: not recognised)
    seconds: float


def summarize(results: Sequence[ListResult]) -> dict[str, dict[str, float | int | None]]:
    """Per list: mean recall and precision over the questions where each is defined, and how
    many questions reach both >= 0.9."""
    out: dict[str, dict[str, float | int | None]] = {}
    names = sorted({name for r in results for name in r.scores})
    for name in names:
        scores = [r.scores[name] for r in results if name in r.scores]
        rec = [s.recall for s in scores if s.recall is not None]
        pre = [s.precision for s in scores if s.precision is not None]
        out[name] = {
            "n": len(scores),
            "recall": sum(rec) / len(rec) if rec else None,
            "precision": sum(pre) / len(pre) if pre else None,
            "both_0.9": sum(1 for s in scores if (s.recall or 0) >= 0.9
                            and (s.precision or 0) >= 0.9),
        }
    return out


def score_lists(questions: Sequence[AggregationQuestion], settings: Settings, k: int = 10,
                media: Iterable[str | Path] | None = None) -> list[ListResult]:
    """Each question's evidence list and top-``k`` naive and hybrid clips, scored against the
    gold derived from ``media`` (default: every file of the index). Raises StoreError or
    GraphError for an unusable index or graph."""
    import time

    from assistant.graph.evidence import find_evidence
    from assistant.graph.index import GraphIndex
    from assistant.graph.intent import IntentParser
    from assistant.graph.retriever import GraphRetriever
    from assistant.service import build_assistant

    base = build_assistant(settings, with_llm=False).retriever
    graph = GraphIndex.open(base.store, base.embedder)
    hybrid = GraphRetriever(base, graph, "hybrid")
    parser = IntentParser()
    paths = list(media) if media is not None else [r.path for r in base.store.media()]
    gold = derive_gold(questions, paths)
    out: list[ListResult] = []
    for q in questions:
        t = time.perf_counter()
        found = find_evidence(graph, q.question, parser)
        seconds = time.perf_counter() - t
        evidence = [(m.media_path, m.start, m.end) for m in found.moments] if found else []
        scores = {"evidence": score_list(evidence, gold[q.id], q.unit)}
        for name, retriever in (("naive", base), ("hybrid", hybrid)):
            hits = retriever.search(q.question, k=k)
            spans = [(h.clip.media_path, h.clip.start, h.clip.end) for h in hits]
            scores[f"{name}@{k}"] = score_list(spans, gold[q.id], q.unit)
        out.append(ListResult(q, len(gold[q.id]), len({m for m, _, _ in gold[q.id]}), scores,
                              found.names if found else (),
                              found.unit if found else None, seconds))
    return out
