"""Benchmark: the experiment workbench's stage cache (the target: when only the LLM
differs, the second configuration's indexing is >= 3x faster than the first).

    python bench/experiment_cache.py [--plan eval/plans/example.toml] [--visual]

Indexes the plan's collection three times in one run, each into a fresh index, with the
plan's default ASR model and embedder: (1) the plain pipeline (the baseline: what indexing
costs without the workbench), (2) through an empty stage cache (the first configuration), (3)
through the now filled cache (the second configuration: only the LLM differs, so every stage
is a hit). Prints seconds, real-time factors and the ratios 2/3 (the target) and 2/1 (what
filling the cache costs).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plan", type=Path, default=REPO / "eval" / "plans" / "example.toml")
    ap.add_argument("--visual", action="store_true", help="shots, OCR and faces on")
    args = ap.parse_args()

    from eval.experiment.plan import load_plan
    from indexing.pipeline import Indexer
    from indexing.settings import Settings
    from indexing.stage_cache import StageCache, cached_backends
    from indexing.stores.lance import LanceStore

    plan = load_plan(args.plan)
    config = plan.runnable[0]
    tmp = Path(tempfile.mkdtemp(prefix="deerin-bench-cache-"))
    cache = StageCache(tmp / "cache")
    timings = {}
    media = 0.0
    for run in ("plain pipeline", "cold cache", "warm cache"):
        settings = Settings.from_env({}, db_dir=tmp / run.replace(" ", "-"),
                                     asr_model=config.asr, embed_model=config.embedder,
                                     shots=args.visual, ocr=args.visual, faces=args.visual)
        cache.hits.clear()
        cache.misses.clear()
        t = time.perf_counter()
        store = LanceStore(settings.db_dir)
        backends = None if run == "plain pipeline" else cached_backends(settings, cache)
        report = Indexer(store, settings, backends=backends).index(list(plan.collection))
        timings[run] = time.perf_counter() - t
        media = sum(m.duration for m in store.media())
        print(f"{run:15s} {timings[run]:7.2f} s  {media / timings[run]:6.1f}x real time  "
              f"({report.indexed} files, {store.count_clips()} clips, "
              f"{len(report.failures)} failed)", flush=True)
    print(f"media: {media:.1f} s in {len(plan.collection)} files; cache lookups of the warm "
          f"run: {cache.summary()}")
    print(f"speed-up of the second configuration (cold / warm cache): "
          f"{timings['cold cache'] / timings['warm cache']:.1f}x (target >= 3x)")
    print(f"cost of filling the cache (cold cache / plain pipeline): "
          f"{timings['cold cache'] / timings['plain pipeline']:.2f}")


if __name__ == "__main__":
    main()
