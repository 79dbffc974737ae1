"""Benchmark: many sessions reranking at once, one scoring context (in turn) against a pool.

    python bench/rerank_load.py [--users 1,4,10] [--contexts 1,2,4] [--threads N]
                                [--split] [--depth 8]

Each user scores its question against ``--depth`` passages (word windows of the real subtitles
in ../shared/media, about a clip each), as the chat's rerank does for one question; all users
of a round start at once, one thread each. Every configuration is a
:class:`~assistant.rerank.LlamaCppReranker` over the shipped SmolLM2-135M with its score cache
off (``cache_size=0``: the scoring is measured, not the cache) and every context opened before
the round; ``contexts=1`` is the one-context path (sessions in turn). ``--split`` also measures
each pool with the threads divided between its contexts (``threads // contexts`` each) instead
of every context using all of them. Printed per round and configuration: wall time, p50/p95 of
a session's rerank time, CPU seconds, and whether every score equals the one-context path's.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the deerin entry point sets it
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from chat_load import QUESTIONS, pct, subtitle_windows  # noqa: E402


def passages_for(user: int, windows: list[str], depth: int) -> list[str]:
    """The passages a user's rerank reads (different users, different windows)."""
    return [windows[(user * 3 + j) % len(windows)] for j in range(depth)]


def run_round(reranker: object, users: int, windows: list[str], depth: int
              ) -> tuple[list[float], float, float, list[list[float]]]:
    """Every user's rerank at once: (per-user seconds, wall, CPU seconds, scores)."""
    seconds: dict[int, float] = {}
    scores: dict[int, list[float]] = {}
    start = threading.Barrier(users + 1)

    def user(i: int) -> None:
        start.wait()
        t0 = time.perf_counter()
        scores[i] = reranker.likelihood(  # type: ignore[attr-defined]
            QUESTIONS[i % len(QUESTIONS)], passages_for(i, windows, depth))
        seconds[i] = time.perf_counter() - t0

    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    start.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    return (list(seconds.values()), time.perf_counter() - t0, time.process_time() - c0,
            [scores[i] for i in range(users)])


def open_all(reranker: object) -> None:
    """Open every context of the pool now (loading is not what is measured)."""
    pool = reranker.pool  # type: ignore[attr-defined]
    with ExitStack() as stack:
        for _ in range(pool.size):
            stack.enter_context(pool.lend())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", default="1,4,10")
    ap.add_argument("--contexts", default="1,2,4", help="pool sizes; 1 is the baseline")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--split", action="store_true",
                    help="also pools whose contexts share the threads")
    ap.add_argument("--depth", type=int, default=8, help="passages per user")
    ap.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    args = ap.parse_args()

    from assistant.rerank import LlamaCppReranker
    from weights import SMOLLM2, require

    windows = subtitle_windows(args.media)
    configs: list[tuple[str, int, int]] = []
    for n in (int(c) for c in args.contexts.split(",")):
        configs.append((f"{n} ctx x {args.threads} thr", n, args.threads))
        if args.split and n > 1 and args.threads // n >= 1 and args.threads // n != args.threads:
            configs.append((f"{n} ctx x {args.threads // n} thr", n, args.threads // n))
    rerankers = {}
    for name, n, threads in configs:
        r = LlamaCppReranker(require(SMOLLM2), threads=threads, contexts=n, cache_size=0)
        open_all(r)
        r.likelihood(QUESTIONS[0], windows[:1])  # warm
        rerankers[name] = r
    base_name = configs[0][0]
    print(f"SmolLM2-135M query likelihood, {os.cpu_count()} cores, {args.depth} passages per "
          f"user, cache off; baseline: {base_name}")
    print(f"\n{'users':>5} | {'config':<16} | {'wall s':>7} | {'p50 s':>6} {'p95 s':>6} | "
          f"{'CPU s':>6} | {'p50 vs base':>11} | same scores")
    for users in (int(u) for u in args.users.split(",")):
        base: tuple[list[float], float, float, list[list[float]]] | None = None
        for name, _, _ in configs:
            secs, wall, cpu, scores = run_round(rerankers[name], users, windows, args.depth)
            base = base or (secs, wall, cpu, scores)
            same = sum(a == b for a, b in zip(base[3], scores, strict=True))
            print(f"{users:>5} | {name:<16} | {wall:>7.2f} | {pct(secs, 0.5):>6.2f} "
                  f"{pct(secs, 0.95):>6.2f} | {cpu:>6.1f} | "
                  f"{pct(base[0], 0.5) / pct(secs, 0.5):>10.2f}x | {same}/{users}", flush=True)
    print("\n(p50 vs base: the baseline's p50 over this one, > 1 is better)")


if __name__ == "__main__":
    main()
