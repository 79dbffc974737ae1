"""Benchmark: answer latency with the embedded model, split into retrieval and generation.

    python bench/ask_latency.py [--db DIR] [--media DIR]

Builds (or reuses) an index of ../shared/media, then asks 10 questions with the offline
answering tier (``weights.ANSWER_TIER``; ``--llm fast|tiny|…`` for another) and prints p50/p95
of retrieval time, time to first token and total answer time, with the query-likelihood rerank
(the default) and without it. In the same run it times a bare llama.cpp completion of the same
prompts (no retrieval, no checking) as the baseline for generation, and prints the ratios.
Targets on 2 cores: retrieved clips on screen p50 <= 0.5 s; whole answer p50 <= 1.5x the bare
completion of the same answer prompt.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the deerin entry point sets it
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

QUESTIONS = [
    "Where was mission control when contact with Columbia was lost?",
    "How many astronauts were on board the shuttle?",
    "What does the lecturer lift up in front of the class?",
    "How much energy is enough to kill you according to the professor?",
    "What did Kennedy ask his fellow Americans to do?",
    "What is the bear recording for?",
    "Who is called the most remarkable extraordinary fellow?",
    "What does the pendulum demonstration risk for the lecturer?",
    "What is the device the meeting is designing?",
    "What was stolen according to the His Girl Friday excerpt?",
]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path.home() / ".cache" / "deerin" / "bench-index")
    ap.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    ap.add_argument("--llm", default=None,
                    help="LLM spec, e.g. a tier: tiny, fast, default (default: $DEERIN_LLM)")
    ap.add_argument("--no-prefix-cache", action="store_true",
                    help="re-evaluate the whole prompt each time (repeatable replies)")
    args = ap.parse_args()

    from assistant.answer import Assistant
    from assistant.calibration import PASSAGES
    from assistant.llm import load_llm
    from assistant.passages import nearest_passages
    from assistant.prompting import build_messages
    from assistant.retrieval import Retriever
    from indexing.pipeline import Indexer
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    settings = Settings.from_env({}, db_dir=args.db)
    store = LanceStore(args.db)
    t = time.perf_counter()
    Indexer(store, settings).index([args.media])
    print(f"index ready in {time.perf_counter() - t:.1f} s: {len(store.media())} files, "
          f"{store.count_clips()} clips")
    retriever = Retriever(store, settings)
    # As the app and `deerin ask` run it: each prompt's fixed part is evaluated once and cached.
    llm = load_llm(args.llm, threads=args.threads, prefix_cache=not args.no_prefix_cache)
    print(f"LLM {llm.model_id}")
    bot = Assistant(retriever, llm)
    plain = Assistant(Retriever(store, settings, retriever.embedder, reranker="off"), llm)
    bot.ask("warm-up: what is said at the start?")  # model loads, first-call allocations

    def run(assistant: Assistant) -> dict[str, list[float]]:
        got: dict[str, list[float]] = {"retrieval_s": [], "rerank_s": [], "first_token_s": [],
                                       "total_s": [], "refused": [], "clips_shown_s": []}
        for q in QUESTIONS:
            t = time.perf_counter()
            a = None
            for event in assistant.stream(q):
                if event.kind == "retrieved":  # what the chat shows first: clips and players
                    got["clips_shown_s"].append(time.perf_counter() - t)
                elif event.kind == "answer":
                    a = event.answer
            assert a is not None
            for key in got:
                if key in a.timings:
                    got[key].append(a.timings[key])
            got["refused"].append(float(a.refused))
        return got

    with_rr, without = run(bot), run(plain)
    retrieval, first, total = with_rr["retrieval_s"], with_rr["first_token_s"], with_rr["total_s"]
    bare_first, bare_total = [], []
    for q in QUESTIONS:
        hits = retriever.search(q, k=bot.k)
        passages = nearest_passages(q, hits, retriever.embedder, PASSAGES)
        messages = build_messages(q, [p.text for p in passages])
        t = time.perf_counter()
        got_first = None
        for _ in llm.stream(messages, max_tokens=bot.max_tokens):
            got_first = got_first or time.perf_counter() - t
        bare_first.append(got_first or 0.0)
        bare_total.append(time.perf_counter() - t)

    def row(name: str, v: list[float]) -> str:
        return (f"{name:28s} p50 {statistics.median(v) * 1000:7.0f} ms   "
                f"p95 {pct(v, 0.95) * 1000:7.0f} ms   (n={len(v)})")

    print(row("retrieval (first stage)", retrieval) + "   target p50 <= 100 ms")
    print(row("rerank (query likelihood)", with_rr["rerank_s"]))
    print(row("clips shown in the chat", with_rr["clips_shown_s"]) + "   target p50 <= 500 ms")
    if first:
        print(row("time to first token", first))
    print(row("total answer", total))
    if without["first_token_s"]:
        print(row("no rerank: time to first token", without["first_token_s"]))
    print(row("no rerank: total answer", without["total_s"]))
    print(row("baseline: bare llama.cpp TTFT", bare_first))
    print(row("baseline: bare llama.cpp total", bare_total))
    if first and bare_first:
        ratio = statistics.median(first) / statistics.median(bare_first)
        print(f"first token vs bare llama.cpp: {ratio:.2f}x")
    if total and bare_total:
        ratio = statistics.median(total) / statistics.median(bare_total)
        print(f"whole answer vs bare llama.cpp: {ratio:.2f}x   target <= 1.50x")
    print(f"refused {int(sum(with_rr['refused']))}/{len(QUESTIONS)} with rerank, "
          f"{int(sum(without['refused']))} without; answers from the LLM {len(first)}")


if __name__ == "__main__":
    main()
