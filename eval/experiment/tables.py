"""The experiment report's tables by section (header, rows), the same for ``report.md`` and
``report.html``, and the accuracy interval both the tables and the charts show."""

from __future__ import annotations

from typing import Any

from eval.stats import Interval, mean_interval


def accuracy_interval(row: dict[str, Any], resamples: int, seed: int) -> Interval | None:
    """The share of questions ``row`` got right, with its bootstrap interval."""
    return mean_interval([float(v["correct"]) for v in row["questions"].values()],
                         resamples, seed)


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def tables(data: dict[str, Any]) -> dict[str, tuple[list[str], list[list[str]]]]:
    """The report's tables by section (header, rows), shared by Markdown and HTML."""
    rows = data["configurations"]
    done = [r for r in rows if r["status"] == "done"]
    exp = data["experiment"]

    def acc(r: dict[str, Any]) -> str:
        iv = accuracy_interval(r, exp["bootstrap"], exp["seed"])
        a = r["answers"]
        text = f"{a['correct']}/{a['n']}"
        if iv is not None:
            text += f" ({iv.value:.2f}, 95 % {iv.lo:.2f}–{iv.hi:.2f})"
        vs = r.get("vs_reference", {}).get("accuracy")
        if vs:
            text += f"; vs ref {vs['diff'] * 100:+.0f} pts" + (" ≈ noise" if vs["noise"] else "")
        return text

    def index_cell(r: dict[str, Any], key: str, digits: int = 2) -> str:
        return _f((r.get("index") or {}).get(key), digits)

    return {
        "Configurations": (
            ["configuration", "ASR", "embedder", "LLM", "rerank", "mode", "visual", "status"],
            [[r["name"], s["asr"], s["embedder"], s["llm"], "on" if s["rerank"] else "off",
              s["mode"], "on" if s["visual"] else "off",
              "done" if r["status"] == "done" else f"not run: {r['problem']}"]
             for r in rows for s in [r["settings"]]]),
        "Retrieval": (
            ["configuration", "Recall@1", "Recall@5", "MRR", "baseline Recall@5",
             "baseline MRR", "Recall@5 vs ref"],
            [[r["name"], _f(r["retrieval"]["recall@1"]), _f(r["retrieval"]["recall@5"]),
              _f(r["retrieval"]["mrr"]), _f(r["retrieval"]["baseline"]["recall@5"]),
              _f(r["retrieval"]["baseline"]["mrr"]), _vs(r, "recall@5")] for r in done]),
        "Answers": (
            ["configuration", "right (share, interval)", "answer hit rate", "refusal accuracy",
             "false refusals", "citation precision", "quote fallback"],
            [[r["name"], acc(r), _f(r["answers"]["answer_hit_rate"]),
              _f(r["answers"]["refusal_accuracy"]), _f(r["answers"]["false_refusal_rate"]),
              _f(r["answers"]["citation_precision"]), _f(r["answers"]["extractive_rate"])]
             for r in done]),
        "Cost: speed, size, memory": (
            ["configuration", "indexing s", "real-time factor", "cache speed-up",
             "index MB", "index peak MB", "answer p50 s", "answer p95 s", "latency from",
             "eval peak MB"],
            [[r["name"], index_cell(r, "seconds", 1), index_cell(r, "realtime_factor", 1),
              (f"shared with {r['shared_index_with']}" if r.get("shared_index_with")
               else _speedup(r)),
              index_cell(r, "size_mb", 1), index_cell(r, "peak_rss_mb", 0),
              _f((r.get("latency") or {}).get("p50")), _f((r.get("latency") or {}).get("p95")),
              (r.get("latency") or {}).get("source", "—"),
              _f((r.get("eval") or {}).get("peak_rss_mb"), 0)]
             for r in rows if r.get("index")]),
        "Questions only one configuration got right": (
            ["configuration", "right here and nowhere else"],
            [[r["name"], "; ".join(f"{q} ({r['questions'][q]['question'][:60]})"
                                   for q in r["only_right"]) or "none"] for r in done]),
    }


def _vs(r: dict[str, Any], key: str) -> str:
    vs = r.get("vs_reference", {}).get(key)
    if not vs:
        return "reference" if "vs_reference" not in r else "—"
    return f"{vs['diff']:+.2f}" + (" ≈ noise" if vs["noise"] else "")


def _speedup(r: dict[str, Any]) -> str:
    s = (r.get("index") or {}).get("speedup_vs_first")
    return "first index" if s is None else f"{s:.1f}x"
