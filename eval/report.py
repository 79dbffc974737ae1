"""Write an eval run to disk: ``report.md``, ``results.json`` and PNG charts.

``results.json`` is the record of truth: the metrics dict over all questions, the same dict for
each gold set of the run (``metrics_by_set``; ``deerin eval --json`` prints what
:func:`printed_metrics` picks of them), and per question everything needed to recompute them
(:func:`records_from_results`) or to see why a question failed. A run over several sets (say the
tuning set and a held-out one) reports each set apart, so a gain that holds on one set only is
seen as the overfitting it is. ``report.md`` renders the same numbers for people, rounded to
three decimals. Charts are drawn with matplotlib's object API on an Agg canvas, so no GUI
backend or global pyplot state is involved.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.gold import GoldQuestion
from eval.markdown import cell, table
from eval.metrics import (
    QuestionResult,
    answer_hit,
    is_hit,
    media_name,
    overlap,
    states_number,
    summarize,
    temporal_iou,
)
from eval.runner import EvalRun, QuestionOutcome, SystemOutcome, verdict
from indexing.machine import describe, machine_facts

REPORT_FILE = "report.md"
RESULTS_FILE = "results.json"
METRICS_CHART = "metrics.png"
LATENCY_CHART = "latency.png"

HEADLINE: tuple[tuple[str, str], ...] = (
    ("recall@1", "Recall@1"),
    ("recall@3", "Recall@3 (what the model reads)"),
    ("recall@5", "Recall@5"),
    ("mrr", "MRR"),
    ("mean_iou", "mean IoU (best hit)"),
    ("passage_recall", "passage recall (read the answer)"),
    ("citation_precision", "citation precision"),
    ("citation_precision_model", "citation precision, model sentences"),
    ("citation_precision_quote", "citation precision, quotations"),
    ("citation_iou", "mean IoU (cited span)"),
    ("answer_hit_rate", "answer hit rate"),
    ("answer_hit_when_read", "answer hit when the answer was read"),
    ("refusal_accuracy", "refusal accuracy"),
    ("false_refusal_rate", "false-refusal rate"),
    ("extractive_rate", "quote-fallback rate"),
    ("raw_answer_hit_rate", "raw LLM answer hit rate"),
    ("invented_number_rate", "invented-number rate"),
)
# Headline metrics where a lower figure is the better one (said in the chart's axis label).
LOWER_IS_BETTER = ("false_refusal_rate", "extractive_rate", "invented_number_rate")


def fmt(value: float | None, digits: int = 3) -> str:
    """A metric for the report: fixed decimals, or an em dash when it was not measured."""
    return "—" if value is None else f"{value:.{digits}f}"


def write_report(run: EvalRun, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.md``, ``results.json``, ``metrics.png`` and ``latency.png`` to ``out_dir``.

    Returns the written paths by kind (``report``, ``results``, ``metrics_chart``,
    ``latency_chart``). The folder is created if needed.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = results_dict(run)
    paths = {"report": out / REPORT_FILE, "results": out / RESULTS_FILE,
             "metrics_chart": out / METRICS_CHART, "latency_chart": out / LATENCY_CHART}
    paths["results"].write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                encoding="utf-8")
    paths["report"].write_text(render_markdown(run, data["metrics"]), encoding="utf-8")
    plot_metrics(data["metrics"], paths["metrics_chart"])
    plot_latency(run, paths["latency_chart"])
    return paths


# -- results.json -------------------------------------------------------------------------------
def results_dict(run: EvalRun) -> dict[str, Any]:
    """The content of ``results.json``: ``meta`` (with ``sets``: name → gold file), ``metrics``
    (over every question), ``metrics_by_set`` (name → the same dict for that set alone) and
    ``questions`` (each naming its ``set``)."""
    return {
        "meta": {"gold": run.gold_path, "sets": run.gold_sets, "db": run.db_dir, "k": run.k,
                 "answered": run.answered, "llm": run.llm, "embedder": run.embedder,
                 "baseline": run.baseline_info, "elapsed_s": round(run.elapsed_s, 3),
                 "warnings": run.warnings, "machine": machine_facts()},
        "metrics": run.metrics(),
        "metrics_by_set": run.metrics_by_set(),
        "questions": [_question_json(q, run.answered) for q in run.questions],
    }


def printed_metrics(run: EvalRun) -> dict[str, Any]:
    """What ``deerin eval --json`` prints: the metrics dict for a run over one gold set (as it
    always was), and ``{"overall": {...}, "sets": {name: {...}}}`` for a run over several."""
    if not run.multi_set:
        return run.metrics()
    return {"overall": run.metrics(), "sets": run.metrics_by_set()}


def citation_overlap(span: Sequence[Any], gold: GoldQuestion) -> float:
    """Seconds a cited span shares with the gold span (0 in another file or when unanswerable)."""
    media, start, end, *_ = span
    if gold.media is None or gold.start is None or gold.end is None:
        return 0.0
    if media_name(media) != gold.media:
        return 0.0
    return overlap(start, end, gold.start, gold.end)


def _question_json(q: QuestionOutcome, answered: bool) -> dict[str, Any]:
    g = q.gold
    deerin = _system_json(q.deerin, g, answered=answered)
    if answered:
        r = q.deerin.result
        deerin |= {
            "answer": r.answer, "refused": r.refused, "extractive": r.extractive,
            "raw": r.raw, "error": q.deerin.error, "gate": r.gate,
            "read": [{"media": m, "start": s, "end": e} for m, s, e in r.read],
            "citations": [{"n": n, "media": c[0], "start": c[1], "end": c[2],
                           "hit": is_hit(c[0], c[1], c[2], g),
                           "overlap_s": citation_overlap(c, g)}
                          for n, c in zip(q.deerin.citation_numbers, r.citations, strict=True)],
        }
    peer = {} if q.peer is None else {"peer": {
        "answer": q.peer.result.answer, "refused": q.peer.result.refused,
        "citations": [{"media": m, "start": s, "end": e} for m, s, e in q.peer.result.citations],
        "verdict": verdict(q.peer, g, answered=True),
        "timings": {k: round(v, 4) for k, v in q.peer.timings.items()}}}
    return peer | {"id": g.id, "set": q.set_name, "question": g.question,
                   "answerable": g.answerable,
            "gold": {"media": g.media, "start": g.start, "end": g.end, "expect": list(g.expect),
                     "expect_all": g.expect_all, "kind": g.kind, "lang": g.lang,
                     "spans": [{"media": m, "start": s, "end": e} for m, s, e in g.spans]},
            "deerin": deerin, "baseline": _system_json(q.baseline, g, answered=False)}


def _system_json(s: SystemOutcome, gold: GoldQuestion, *, answered: bool) -> dict[str, Any]:
    retrieved = []
    for rank, ((media, start, end, score, kind), text) in enumerate(
            zip(s.result.retrieved, s.texts, strict=True), start=1):
        hit = is_hit(media, start, end, gold)
        retrieved.append({
            "rank": rank, "media": media, "start": start, "end": end, "score": round(score, 4),
            "kind": kind, "text": text, "hit": hit,
            "iou": round(temporal_iou(start, end, gold.start, gold.end), 4)
            if hit and gold.start is not None and gold.end is not None else 0.0})
    return {"retrieved": retrieved, "verdict": verdict(s, gold, answered=answered),
            "timings": {k: round(v, 4) for k, v in s.timings.items()}}


def records_from_results(data: dict[str, Any], set_name: str | None = None,
                         ) -> tuple[list[QuestionResult], list[QuestionResult]]:
    """Rebuild DEERIn's and the baseline's :class:`QuestionResult` lists from ``results.json``.

    Summarising them with :func:`eval.metrics.summarize` gives back the stored metrics (up to
    the answer metrics a retrieval-only run blanks), which is how a report can be re-checked or
    two runs compared without re-running anything. With ``set_name`` only that set's questions
    are rebuilt (compare with ``metrics_by_set[set_name]``).
    """
    deerin: list[QuestionResult] = []
    baseline: list[QuestionResult] = []
    for q in data["questions"]:
        if set_name is not None and q.get("set", "") != set_name:
            continue
        g = q["gold"]
        gold = GoldQuestion(id=q["id"], question=q["question"], media=g["media"],
                            start=g["start"], end=g["end"], expect=tuple(g["expect"]),
                            answerable=q["answerable"],
                            spans=tuple((x["media"], x["start"], x["end"])
                                        for x in g.get("spans", ())),
                            expect_all=bool(g.get("expect_all", False)),
                            kind=g.get("kind", ""), lang=g.get("lang", ""))
        for system, out in (("deerin", deerin), ("baseline", baseline)):
            s = q[system]
            out.append(QuestionResult(
                gold=gold,
                retrieved=[(r["media"], r["start"], r["end"], r["score"], r["kind"])
                           for r in s["retrieved"]],
                answer=s.get("answer", ""), refused=bool(s.get("refused", False)),
                citations=[(c["media"], c["start"], c["end"]) for c in s.get("citations", [])],
                retrieval_s=s["timings"].get("retrieval_s"),
                generation_s=s["timings"].get("generation_s"),
                extractive=bool(s.get("extractive", False)), raw=s.get("raw") or "",
                read=[(x["media"], x["start"], x["end"]) for x in s.get("read", [])],
                gate=s.get("gate", "")))
    return deerin, baseline


def summaries_from_results(data: dict[str, Any], set_name: str | None = None,
                           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`eval.metrics.summarize` of both systems' rebuilt records (see above)."""
    deerin, baseline = records_from_results(data, set_name)
    return summarize(deerin), summarize(baseline)


# -- report.md ----------------------------------------------------------------------------------
def _span(media: str | None, start: float | None, end: float | None) -> str:
    if media is None or start is None or end is None:
        return "—"
    return f"{media_name(media)} {start:.1f}–{end:.1f} s"


def _counts(qs: Sequence[QuestionOutcome]) -> str:
    n_ans = sum(q.gold.answerable for q in qs)
    return f"{len(qs)} questions ({n_ans} answerable, {len(qs) - n_ans} unanswerable)"


def _headline(metrics: dict[str, Any]) -> list[str]:
    base = metrics["baseline"]
    intervals = metrics.get("uplift_interval", {})
    rows = []
    for key, label in HEADLINE:
        up = metrics["uplift"].get(key)
        ci = intervals.get(key)
        rows.append([label, fmt(metrics[key]), fmt(base.get(key)),
                     "—" if up is None else f"{up:+.3f}",
                     "—" if not ci else f"[{ci[1]:+.3f}, {ci[2]:+.3f}]"
                     + (" ≈ noise" if ci[1] <= 0.0 <= ci[2] else "")])
    return table(["metric", "DEERIn", "baseline", "uplift", "95 % interval (paired)"], rows)


def _peer(metrics: dict[str, Any]) -> list[str]:
    """DEERIn beside LlamaIndex's citation engine over the same clips, embedder and LLM."""
    peer = metrics.get("peer")
    if not peer:
        return []
    rows = []
    for key, label in (("answer_hit_rate", "answer hit rate"),
                       ("citation_precision", "citation precision"),
                       ("refusal_accuracy", "refusal accuracy"),
                       ("false_refusal_rate", "false-refusal rate")):
        ci = peer["lead_interval"].get(key)
        rows.append([label, fmt(metrics[key]), fmt(peer[key]),
                     "—" if not ci else f"{ci[0]:+.3f} [{ci[1]:+.3f}, {ci[2]:+.3f}]"
                     + (" ≈ noise" if ci[1] <= 0.0 <= ci[2] else "")])
    p50 = (metrics["latency"].get("answer") or {}).get("p50")
    peer_p50 = (peer["latency"].get("answer") or {}).get("p50")
    rows.append(["answer latency p50 (s)", fmt(p50, 2), fmt(peer_p50, 2), "—"])
    return ["## Beside the peer", "",
            "LlamaIndex's `CitationQueryEngine` over the same clips, with the same embedder and "
            "LLM (what a user would assemble from the same packages); it refuses when its answer "
            "cites nothing or says the sources do not help.", "",
            *table(["", "DEERIn", "peer", "DEERIn ahead (95 % interval)"], rows), ""]


def _gates(metrics: dict[str, Any]) -> list[str]:
    """Which gate refused how many questions: a false refusal names the check to look at."""
    gates = metrics.get("refusals_by_gate") or {}
    names = sorted({g for side in gates.values() for g in side})
    if not names:
        return []
    rows = [[g, str(gates.get("answerable", {}).get(g, 0)),
             str(gates.get("unanswerable", {}).get(g, 0))] for g in names]
    return ["## Refusals by gate", "",
            "`evidence`: no clip was close enough to read; `judge`: the model's sentences failed "
            "the checks and no passage was judged to answer.", "",
            *table(["gate", "answerable (false refusals)", "unanswerable (right)"], rows), ""]


def _by_kind(qs: Sequence[QuestionOutcome]) -> list[str]:
    """Answer hits and refusals per question kind (for sets that tag their questions)."""
    kinds = sorted({q.gold.kind for q in qs if q.gold.kind})
    if not kinds or not any(q.deerin.result.answer for q in qs):
        return []
    rows = []
    for kind in kinds:
        group = [q for q in qs if q.gold.kind == kind]
        answerable = [q for q in group if q.gold.answerable]
        hits = sum(bool(verdict(q.deerin, q.gold, answered=True)["answer_hit"])
                   for q in answerable)
        refused = sum(q.deerin.result.refused for q in group)
        rows.append([kind, str(len(group)),
                     f"{hits}/{len(answerable)}" if answerable else "—", str(refused)])
    return ["## By kind of question", "",
            *table(["kind", "questions", "answer hits", "refused"], rows), ""]


def _by_set(overall: dict[str, Any], by_set: dict[str, dict[str, Any]]) -> list[str]:
    """One table, a column per set: a gap between the sets is the figure to read first."""
    names = list(by_set)
    rows = [["questions", *(str(m["n"]) for m in by_set.values()), str(overall["n"])]]
    rows += [[label, *(fmt(m[key]) for m in by_set.values()), fmt(overall[key])]
             for key, label in HEADLINE]
    lines = ["## By set", "",
             "Each gold set on its own. A set used for tuning scores higher than a held-out one "
             "when the tuning fits its questions rather than questions in general.", ""]
    lines += table(["metric", *(f"`{n}`" for n in names), "all"], rows)
    return [*lines, ""]


def render_markdown(run: EvalRun, metrics: dict[str, Any]) -> str:
    """The human report: headline vs baseline, per file, misses, latency, warnings.

    A run over several gold sets adds a table with a column per set and, per set, its own
    headline, per-file table and misses.
    """
    qs = run.questions
    lines = [
        "# DEERIn eval report", "",
        *([f"- gold sets: {', '.join(f'`{n}` (`{p}`)' for n, p in run.gold_sets.items())} — "
           f"{_counts(qs)}"] if run.multi_set else
          [f"- gold set: `{run.gold_path}` — {_counts(qs)}"]),
        f"- index: `{run.db_dir}`; embedder `{run.embedder}`; ranked lists of k={run.k}",
        f"- LLM: {('`' + run.llm + '`') if run.llm else '— (retrieval only)'}",
        f"- baseline: {run.baseline_info.get('engine')} over "
        f"{run.baseline_info.get('segments', 0)} segments (retrieval only: no answers)",
        f"- run time: {run.elapsed_s:.1f} s; answering errors: {metrics['errors']}",
        f"- machine: {describe(machine_facts())}",
        "", "## Headline" + (" (all sets)" if run.multi_set else ""), "",
    ]
    lines += _headline(metrics)
    lines += ["", f"![metrics vs baseline]({METRICS_CHART})", ""]
    lines += _peer(metrics)
    lines += _gates(metrics)
    if run.multi_set:
        by_set = run.metrics_by_set()
        lines += _by_set(metrics, by_set)
        for name, set_metrics in by_set.items():
            set_qs = run.set_questions(name)
            lines += [f"## Set `{name}`", "", f"`{run.gold_sets[name]}` — {_counts(set_qs)}", "",
                      "### Headline", "", *_headline(set_metrics), ""]
            lines += _demote(_gates(set_metrics))
            lines += _demote(_by_kind(set_qs))
            lines += _demote(_per_file(set_qs, run.answered))
            lines += _demote(_misses(set_qs, run.answered))
    else:
        lines += _by_kind(qs)
        lines += _per_file(qs, run.answered)
        lines += _misses(qs, run.answered)
    lines += _latency(metrics)
    if run.warnings:
        lines += ["", "## Warnings", ""] + [f"- {cell(w, 300)}" for w in run.warnings]
    return "\n".join(lines) + "\n"


def _demote(lines: list[str]) -> list[str]:
    """Headings one level down, to nest a section under a set's heading."""
    return [f"#{line}" if line.startswith("#") else line for line in lines]


def _per_file(qs: Sequence[QuestionOutcome], answered: bool) -> list[str]:
    groups: dict[str, list[QuestionOutcome]] = {}
    for q in qs:
        groups.setdefault(q.gold.media or "(unanswerable)", []).append(q)
    rows = []
    for name in sorted(groups, key=lambda n: (n == "(unanswerable)", n)):
        group = groups[name]
        d = summarize([q.deerin.result for q in group])
        b = summarize([q.baseline.result for q in group])
        if name == "(unanswerable)":
            ans = ("refusal acc " + fmt(d["refusal_accuracy"])) if answered else "—"
            rows.append([name, str(len(group)), "—", "—", "—", "—", ans])
            continue
        rows.append([name, str(len(group)), fmt(d["recall@1"], 2), fmt(d["recall@5"], 2),
                     fmt(b["recall@1"], 2), fmt(b["recall@5"], 2),
                     fmt(d["answer_hit_rate"], 2) if answered else "—"])
    header = ["file", "questions", "R@1", "R@5", "baseline R@1", "baseline R@5", "answer hits"]
    return ["## Per file", "", *table(header, rows), ""]


def _misses(qs: Sequence[QuestionOutcome], answered: bool) -> list[str]:
    lines = ["## Misses", "", "### Retrieval: DEERIn's top clip is not the gold moment", ""]
    rows = []
    for q in qs:
        g = q.gold
        v = verdict(q.deerin, g, answered=False)
        if not g.answerable or v["hit@1"]:
            continue
        top = q.deerin.result.retrieved[0] if q.deerin.result.retrieved else None
        bv = verdict(q.baseline, g, answered=False)
        rows.append([g.id, cell(g.question, 70), _span(g.media, g.start, g.end),
                     str(v["hit_rank"] or "—"),
                     _span(*top[:3]) if top else "—",
                     cell(q.deerin.texts[0], 60) if top else "—",
                     str(bv["hit_rank"] or "—")])
    lines += table(["id", "question", "gold span", "rank", "top retrieved", "its text",
                     "baseline rank"], rows) if rows else ["None."]
    if not answered:
        return [*lines, ""]
    lines += ["", "### Answers", ""]
    rows = []
    for q in qs:
        problem = _answer_problem(q)
        if problem:
            r = q.deerin.result
            rows.append([q.gold.id, problem, cell(q.deerin.error or r.answer, 110)])
    lines += table(["id", "problem", "answer"], rows) if rows else ["None."]
    return [*lines, ""]


def _answer_problem(q: QuestionOutcome) -> str:
    g, s = q.gold, q.deerin
    v = verdict(s, g, answered=True)
    if s.error:
        return "error"
    r = s.result
    if not g.answerable:
        if v["refused"]:
            return ""
        return "answered an unanswerable question" + (
            " with a number" if not r.extractive and states_number(r.answer) else "")
    if v["refused"]:
        return "false refusal"
    problems = []
    if not v["answer_hit"]:
        # Tells a model that missed from a check that dropped what the model got right.
        problems.append("no expected item" + (" (the raw LLM output had one)"
                                              if answer_hit(r.raw, g.expect) else ""))
    if r.extractive:
        problems.append("quote fallback")
    cited = v["citation_hits"] or []
    if cited and not all(cited):
        problems.append(f"{cited.count(False)}/{len(cited)} citations off the gold span")
    return "; ".join(problems)


def _latency(metrics: dict[str, Any]) -> list[str]:
    lat, base = metrics["latency"], metrics["baseline"]["latency"]
    rows = []
    for label, summary in (("DEERIn retrieval (top-k search)", lat["retrieval"]),
                           ("baseline retrieval", base["retrieval"]),
                           ("generation (LLM)", lat["generation"]),
                           ("first token", lat["first_token"]),
                           ("whole answer (ask)", lat["answer"])):
        rows.append([label, fmt(summary["p50"]), fmt(summary["p95"]), fmt(summary["mean"])])
    return ["## Latency (seconds)", "", *table(["stage", "p50", "p95", "mean"], rows), "",
            f"![latency distribution]({LATENCY_CHART})"]


# -- charts -------------------------------------------------------------------------------------
def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_metrics(metrics: dict[str, Any], path: Path) -> None:
    """Grouped bars: each headline metric for DEERIn and, where defined, the baseline."""
    fig = _figure(9.0, 4.2)
    ax = fig.add_subplot()
    labels = [label for _, label in HEADLINE]
    width = 0.38
    for offset, name, values, color in (
            (-width / 2, "DEERIn", [metrics[k] for k, _ in HEADLINE], "#2b6cb0"),
            (width / 2, "baseline (dense, raw segments)",
             [metrics["baseline"].get(k) for k, _ in HEADLINE], "#a0aec0")):
        xs = [i + offset for i, v in enumerate(values) if v is not None]
        ys = [v for v in values if v is not None]
        bars = ax.bar(xs, ys, width, label=name, color=color)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in ys], fontsize=7, padding=2)
    ax.set_xticks(range(len(labels)), labels, rotation=25, ha="right", fontsize=8)
    ax.set_ylim(0, 1.25)  # headroom for the legend above bars that reach 1.0
    lower = ", ".join(label for key, label in HEADLINE if key in LOWER_IS_BETTER)
    ax.set_ylabel(f"score (lower is better: {lower})", fontsize=7)
    ax.set_title("DEERIn vs naive dense retrieval")
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    fig.savefig(path)


def plot_latency(run: EvalRun, path: Path) -> None:
    """Box plots (log scale) of per-question latency for each measured stage."""
    series = {
        "DEERIn\nretrieval": [q.deerin.timings.get("retrieval_s") for q in run.questions],
        "baseline\nretrieval": [q.baseline.timings.get("retrieval_s") for q in run.questions],
        "generation": [q.deerin.timings.get("generation_s") for q in run.questions],
        "first\ntoken": [q.deerin.timings.get("first_token_s") for q in run.questions],
        "whole\nanswer": [q.deerin.timings.get("answer_s") for q in run.questions],
    }
    data = {k: [v for v in vs if v is not None and v > 0] for k, vs in series.items()}
    data = {k: v for k, v in data.items() if v}
    fig = _figure(7.0, 4.0)
    ax = fig.add_subplot()
    if data:
        ax.boxplot(list(data.values()), tick_labels=list(data.keys()), showfliers=True)
        ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "no timings", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylabel("seconds per question (log scale)")
    ax.set_title(f"Latency over {len(run.questions)} questions")
    fig.savefig(path)
