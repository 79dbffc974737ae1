"""The side-by-side report of an experiment: ``results.json`` (the record), ``report.md`` (for
people) and ``report.html`` (the same with charts, :mod:`eval.experiment.html`).

Per configuration: retrieval metrics beside the dense baseline's, answer metrics, indexing
real-time factor and cache speed-up, answer latency p50/p95, index size, peak memory of each
step, the questions only it got right, and one plain sentence against the reference (the first
configuration that ran). A question counts as *right* when an answerable one's answer holds an
expected word, or an unanswerable one is refused. Differences whose bootstrap interval over
questions contains zero are marked as within the noise.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.experiment.html import render_html
from eval.experiment.run import ConfigOutcome, Experiment
from eval.experiment.tables import tables
from eval.markdown import table
from eval.stats import Interval, paired_difference, ratio_interval
from indexing.machine import describe, machine_facts

REPORT_MD = "report.md"
RESULTS_JSON = "results.json"
REPORT_HTML = "report.html"
SECTIONS = ("Configurations", "Retrieval", "Answers", "Cost: speed, size, memory",
            "Questions only one configuration got right", "Summary")


def write_report(exp: Experiment) -> dict[str, Path]:
    """Write the three report files into the experiment folder; return their paths."""
    data = results_dict(exp)
    paths = {"results": exp.out / RESULTS_JSON, "report": exp.out / REPORT_MD,
             "html": exp.out / REPORT_HTML}
    paths["results"].write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                encoding="utf-8")
    paths["report"].write_text(render_markdown(data), encoding="utf-8")
    paths["html"].write_text(render_html(data), encoding="utf-8")
    return paths


# -- results.json ---------------------------------------------------------------------------------
def results_dict(exp: Experiment) -> dict[str, Any]:
    """Everything the report shows, as plain data (see the module docstring)."""
    plan = exp.plan
    rows = [_config_row(o) for o in exp.outcomes]
    done = [r for r in rows if r["status"] == "done"]
    first_own = next((r for r in rows if r.get("index") and not r.get("shared_index_with")),
                     None)
    for r in rows:
        idx = r.get("index")
        if idx and first_own and r is not first_own and not r.get("shared_index_with") \
                and idx.get("seconds"):
            idx["speedup_vs_first"] = round(first_own["index"]["seconds"] / idx["seconds"], 2)
    ref = done[0] if done else None
    for r in done:
        r["only_right"] = sorted(q for q, v in r["questions"].items() if v["correct"] and not any(
            o["questions"].get(q, {}).get("correct") for o in done if o is not r))
        if ref is not None and r is not ref:
            r["vs_reference"] = _versus(ref, r, plan.bootstrap, plan.seed)
    return {
        "experiment": {
            "name": plan.name, "plan": str(plan.path), "folder": str(exp.out),
            "questions": str(plan.questions), "gold": str(exp.gold),
            "n_questions": _count_questions(exp.gold), "sheet_errors": exp.sheet_errors,
            "collection": [str(p) for p in plan.collection], "k": plan.k,
            "bootstrap": plan.bootstrap, "seed": plan.seed,
            "share_indexes": plan.share_indexes, "resumed_steps": exp.resumed_steps,
            "machine": machine_facts(),
            "reference": ref["name"] if ref else None,
            "written": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "configurations": rows,
        "summary": summary_sentences(rows, ref),
    }


def _count_questions(gold: Path) -> int:
    return sum(1 for line in gold.read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("//"))


def _config_row(o: ConfigOutcome) -> dict[str, Any]:
    c = o.config
    row: dict[str, Any] = {"name": c.name, "settings": c.describe(),
                           "status": "not run" if o.problem else "done", "problem": o.problem,
                           "index_name": o.index_name, "shared_index_with": o.shared_with}
    if o.index.get("ok"):
        idx = o.index
        row["index"] = {
            "seconds": round(idx["seconds"], 3), "media_seconds": round(idx["media_seconds"], 3),
            "realtime_factor": round(idx["media_seconds"] / idx["seconds"], 2)
            if idx["seconds"] else None,
            "size_mb": round(idx.get("size_bytes", 0) / 2**20, 2),
            "peak_rss_mb": round(idx["peak_rss_mb"], 1), "files": idx["files"],
            "clips": idx["clips"], "failures": idx["failures"], "cache": idx["cache"]}
    if not o.eval.get("ok"):
        return row
    data = json.loads(Path(o.eval["results"]).read_text(encoding="utf-8"))
    m = data["metrics"]
    questions = {}
    for q in data["questions"]:
        v = q["deerin"]["verdict"]
        right = bool(v.get("answer_hit")) if q["answerable"] else bool(v.get("refused"))
        questions[q["id"]] = {"correct": right, "answerable": q["answerable"],
                              "question": q["question"],
                              "hit@5": (v["hit_rank"] is not None and v["hit_rank"] <= 5)
                              if q["answerable"] else None,
                              "answer_s": q["deerin"]["timings"].get("answer_s")}
    base = m["baseline"]
    row.update({
        "eval": {"seconds": round(o.eval["seconds"], 2), "llm": o.eval.get("llm"),
                 "peak_rss_mb": round(o.eval["peak_rss_mb"], 1), "report": o.eval["results"],
                 "warnings": o.eval.get("warnings", [])},
        "retrieval": {k: m[k] for k in ("recall@1", "recall@5", "mrr", "mean_iou")}
        | {"baseline": {k: base[k] for k in ("recall@1", "recall@5", "mrr", "mean_iou")}},
        "answers": {"correct": sum(v["correct"] for v in questions.values()),
                    "n": len(questions)}
        | {k: m[k] for k in ("answer_hit_rate", "refusal_accuracy", "false_refusal_rate",
                             "citation_precision", "extractive_rate")},
        "eval_latency": {"p50": m["latency"]["answer"]["p50"],
                         "p95": m["latency"]["answer"]["p95"],
                         "first_token_p50": m["latency"]["first_token"]["p50"]},
        "latency": _probe_latency(o) or {"p50": m["latency"]["answer"]["p50"],
                                         "p95": m["latency"]["answer"]["p95"],
                                         "first_token_p50": m["latency"]["first_token"]["p50"],
                                         "source": "eval answers"},
        "questions": questions,
    })
    return row


def _probe_latency(o: ConfigOutcome) -> dict[str, Any] | None:
    """p50/p95 of the latency probe's answers (see :func:`eval.experiment.step.probe_step`)."""
    if not o.probe.get("ok") or not o.probe.get("answer_s"):
        return None
    from eval.metrics import latency_summary

    answer = latency_summary(o.probe["answer_s"])
    return {"p50": answer["p50"], "p95": answer["p95"],
            "first_token_p50": latency_summary(o.probe["first_token_s"])["p50"],
            "source": f"probe, {len(o.probe['answer_s'])} questions",
            "peak_rss_mb": round(o.probe["peak_rss_mb"], 1)}


def _versus(ref: dict[str, Any], row: dict[str, Any], resamples: int,
            seed: int) -> dict[str, Any]:
    """Paired differences row - ref over the questions both answered."""
    shared = [q for q in ref["questions"] if q in row["questions"]]
    acc = paired_difference([float(ref["questions"][q]["correct"]) for q in shared],
                            [float(row["questions"][q]["correct"]) for q in shared],
                            resamples, seed)
    hits = [q for q in shared if ref["questions"][q]["hit@5"] is not None]
    rec = paired_difference([float(ref["questions"][q]["hit@5"]) for q in hits],
                            [float(row["questions"][q]["hit@5"]) for q in hits],
                            resamples, seed)
    timed = [q for q in shared if ref["questions"][q]["answer_s"] is not None
             and row["questions"][q]["answer_s"] is not None]
    ratio = ratio_interval([ref["questions"][q]["answer_s"] for q in timed],
                           [row["questions"][q]["answer_s"] for q in timed], resamples, seed)
    return {"reference": ref["name"], "questions": len(shared),
            "accuracy": _diff(acc), "recall@5": _diff(rec),
            "latency_ratio": round(ratio.value, 2) if ratio else None,
            # a ratio whose interval holds 1 is not told apart from run-to-run noise
            "latency_noise": bool(ratio and ratio.lo <= 1.0 <= ratio.hi),
            "latency_interval": [round(ratio.lo, 2), round(ratio.hi, 2)] if ratio else None}


def _diff(iv: Interval | None) -> dict[str, Any] | None:
    if iv is None:
        return None
    return {"diff": round(iv.value, 4), "lo": round(iv.lo, 4), "hi": round(iv.hi, 4),
            "noise": iv.noise}


# -- the plain-language summary ------------------------------------------------------------------
def summary_sentences(rows: list[dict[str, Any]], ref: dict[str, Any] | None) -> list[str]:
    """One sentence per configuration against the reference, one per configuration not run."""
    out = []
    if ref is not None:
        a = ref["answers"]
        out.append(f"Reference: {ref['name']} ({ref['eval']['llm'] or 'no LLM'}) answers "
                   f"{a['correct']} of {a['n']} questions correctly; answer p50 "
                   f"{_secs(ref['latency']['p50'])} ({ref['latency']['source']}).")
    for r in rows:
        if r["status"] != "done":
            out.append(f"{r['name']} did not run: {r['problem']}.")
        elif r is not ref and "vs_reference" in r:
            out.append(_sentence(ref, r))  # type: ignore[arg-type]
    return out


def _sentence(ref: dict[str, Any], r: dict[str, Any]) -> str:
    v = r["vs_reference"]
    acc = v["accuracy"]
    n = v["questions"]
    more = round(acc["diff"] * n) if acc else 0
    if acc and acc["lo"] == acc["hi"] == 0:
        quality = "gets the same questions right"
    elif more == 0:
        quality = "answers as many questions correctly"
    else:
        word = "more" if more > 0 else "fewer"
        quality = (f"answers {abs(more)} {word} of {n} questions correctly "
                   f"({acc['diff'] * 100:+.0f} points)")
    if acc and not acc["lo"] == acc["hi"] == 0:
        quality += (" — within the noise" if acc["noise"] else " — more than the noise") + \
            f" (95 % interval {acc['lo'] * 100:+.0f}..{acc['hi'] * 100:+.0f} points)"
    ratio = v["latency_ratio"]
    if ratio is None:
        speed = "latency not measured"
    elif ratio >= 1.05:
        speed = f"takes {ratio:.1f}x longer per answer"
    elif ratio <= 0.95:
        speed = f"answers {1 / ratio:.1f}x faster"
    else:
        speed = "answers as fast"
    speed += (f" (eval answers p50 {_secs(r['eval_latency']['p50'])} vs "
              f"{_secs(ref['eval_latency']['p50'])}")
    if ratio is not None and v.get("latency_interval"):
        lo, hi = v["latency_interval"]
        if ratio <= 0.95 and lo > 0:  # "n x faster": the interval of the same inverse ratio
            lo, hi = 1 / hi, 1 / lo
        speed += f"; {'within' if v['latency_noise'] else 'beyond'} the noise, {lo:.1f}–{hi:.1f}x"
    speed += ")"
    rec = v["recall@5"]
    recall = ""
    if rec:
        recall = (f"; Recall@5 {r['retrieval']['recall@5']:.2f} vs "
                  f"{ref['retrieval']['recall@5']:.2f}"
                  + (" (within the noise)" if rec["noise"] else ""))
    return f"{r['name']} vs {ref['name']}: {quality}, and {speed}{recall}."


def _secs(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


# -- report.md -------------------------------------------------------------------------------------
def render_markdown(data: dict[str, Any]) -> str:
    """``report.md`` from :func:`results_dict`'s data."""
    exp = data["experiment"]
    lines = [f"# Experiment: {exp['name']}", "",
             f"{exp['n_questions']} questions from `{Path(exp['questions']).name}` over "
             f"{len(exp['collection'])} collection path(s); plan `{exp['plan']}`; written "
             f"{exp['written']}. Intervals: {exp['bootstrap']} bootstrap resamples over "
             f"questions (seed {exp['seed']}); \"≈ noise\" marks a difference whose 95 % "
             "interval contains zero.", "",
             f"Machine: {describe(exp['machine'])}.", ""]
    if exp["sheet_errors"]:
        lines += ["Rows of the question sheet left out:", "",
                  *(f"- {e}" for e in exp["sheet_errors"]), ""]
    lines += ["## Summary", "", *(f"- {s}" for s in data["summary"]), ""]
    notes = {
        "Retrieval": "DEERIn's ranked clips against the dense baseline (LlamaIndex cosine "
                     "over raw ASR segments, same embedder), over the answerable questions.",
        "Answers": "Right = an answerable question's answer holds an expected word, or an "
                   "unanswerable one is refused.",
        "Cost: speed, size, memory": "Indexing time is the index step's wall time (model "
                                     "loading included); real-time factor = media seconds / "
                                     "indexing seconds; cache speed-up = the first "
                                     "configuration's indexing time / this one's. Answer "
                                     "latency: the probe's answers (models loaded and warmed, "
                                     "each question asked once), else the eval's. Peak MB "
                                     "= the step process's maximum resident memory.",
    }
    for title, (header, rows) in tables(data).items():
        lines += [f"## {title}", ""]
        if title in notes:
            lines += [notes[title], ""]
        lines += [*table(header, rows, escape=True), ""] if rows else \
            ["(no configuration ran)", ""]
    return "\n".join(lines)
