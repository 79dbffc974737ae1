"""One step of an experiment, run in a child process so its peak memory is its own.

    python -m eval.experiment.step SPEC.json RESULT.json

``SPEC.json`` names the step (``index`` or ``eval``) and its inputs; the result (figures, or
``{"ok": false, "error": ...}``) is written to ``RESULT.json`` atomically, with the step's wall
time and peak resident memory (``resource.getrusage``). The parent
(:mod:`eval.experiment.run`) sets the environment (``DEERIN_RERANK``...) the step runs under.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexing.stores.base import ClipStore


def index_step(spec: dict[str, Any]) -> dict[str, Any]:
    """Index the collection into ``spec["db"]`` through the stage cache; build the knowledge
    graph too when ``spec["graph"]``."""
    from indexing.pipeline import Indexer, open_store
    from indexing.settings import Settings
    from indexing.stage_cache import StageCache, cached_backends

    visual = bool(spec["visual"])
    settings = Settings.from_env({}, db_dir=Path(spec["db"]), asr_model=spec["asr"],
                                 embed_model=spec["embedder"], shots=visual, ocr=visual,
                                 faces=visual)
    cache = StageCache(spec["cache"])
    t0 = time.perf_counter()
    store = open_store(settings)
    built = store.embedder()
    indexer = Indexer(store, settings,
                      backends=cached_backends(settings, cache, built[0] if built else None))
    report = indexer.index([Path(p) for p in spec["collection"]])
    seconds = time.perf_counter() - t0
    failures = [f"{f.path.name}: {f.reason}" for f in report.failures]
    if not report.results:
        return {"ok": False, "error": "indexing failed for every file"
                + (f" ({failures[0]})" if failures else " (no media found)")}
    graph: dict[str, Any] | None = None
    if spec.get("graph"):
        graph = _graph(store)
        if "error" in graph:
            return {"ok": False, "error": graph["error"]}
    return {"ok": True, "seconds": seconds,
            "media_seconds": sum(m.duration for m in store.media()),
            "files": len(report.results), "indexed": report.indexed,
            "clips": store.count_clips(), "failures": failures, "cache": cache.summary(),
            "graph": graph}


def _graph(store: ClipStore) -> dict[str, Any]:
    from indexing.graph.settings import GraphSettings
    from indexing.graph.sync import sync_graph

    t0 = time.perf_counter()
    with store.writing():
        done = sync_graph(store, GraphSettings.from_env())
    if done.failed:
        return {"error": done.problem}
    return {"seconds": time.perf_counter() - t0,
            "mentions": done.report.mentions if done.report else 0}


def eval_step(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the gold set through one configuration (retrieval, answers and their latency) and
    write the eval's own report (per question) to ``spec["out"]``."""
    from eval.report import write_report
    from eval.runner import run_eval
    from indexing.settings import Settings

    settings = Settings.from_env({}, db_dir=Path(spec["db"]), embed_model=spec["embedder"],
                                 asr_model=spec["asr"])
    run = run_eval(spec["gold"], settings, spec["llm"], k=int(spec["k"]),
                   cache_dir=Path(spec["baseline_cache"]), mode=spec["mode"])
    paths = write_report(run, spec["out"])
    return {"ok": True, "seconds": run.elapsed_s, "llm": run.llm, "embedder": run.embedder,
            "results": str(paths["results"]), "warnings": run.warnings}


def probe_step(spec: dict[str, Any]) -> dict[str, Any]:
    """Answer latency as a user meets it: the models loaded and warmed by one question, then
    each of ``spec["questions"]`` asked once, timed whole and to the first token."""
    from assistant.service import build_assistant
    from indexing.settings import Settings

    settings = Settings.from_env({}, db_dir=Path(spec["db"]), embed_model=spec["embedder"])
    assistant = build_assistant(settings, spec["llm"])
    if spec["mode"] != "naive":
        from assistant.graph.service import with_mode

        assistant = with_mode(assistant, spec["mode"])
    assistant.ask(spec["questions"][0])  # loads and warms every model: not timed
    answer_s, first_token_s = [], []
    for question in spec["questions"]:
        t0 = time.perf_counter()
        answer = assistant.ask(question)
        answer_s.append(time.perf_counter() - t0)
        if answer.timings.get("first_token_s") is not None:
            first_token_s.append(answer.timings["first_token_s"])
    return {"ok": True, "answer_s": answer_s, "first_token_s": first_token_s}


STEPS = {"index": index_step, "eval": eval_step, "probe": probe_step}


def main(argv: list[str]) -> int:
    """Run the step ``argv[0]`` describes and write its result to ``argv[1]``."""
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    try:
        result = STEPS[spec["kind"]](spec)
    except Exception as exc:  # reported to the parent as this configuration's reason
        traceback.print_exc()
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}
    result["wall_s"] = time.perf_counter() - t0
    # ru_maxrss is in KiB on Linux: the most this process held at once.
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2), encoding="utf-8")
    os.replace(tmp, result_path)  # atomic: a killed step leaves no half result
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.exit(main(sys.argv[1:]))
