"""Benchmark: answering many users at once, continuous batching against one-at-a-time.

    python bench/chat_load.py [--llm default|fast|tiny|PATH.gguf] [--users 1,4,10]
                              [--parallel 4] [--max-tokens 64] [--prompts chat|open]
                              [--rerank on|off] [--rerank-contexts 2]

With ``--prompts chat`` (the default) each user sends one answer prompt as the chat builds it
(``build_messages``: the answering system prompt and example, four numbered sources, a
question); the sources are windows of the real subtitles in ../shared/media. The small models
answer those in a few tokens, so reading the prompt is most of the work; ``--prompts open``
asks for a paragraph instead (a short prompt, replies that run to ``--max-tokens``), which
measures generation. All users of a round start at once, each in its own thread,
and stream greedily. The baseline is the one-request path (:class:`LlamaCppLLM`, a lock: users
queue), measured in the same run on the same prompts; the candidate is
:class:`BatchedLlamaCppLLM` with ``--parallel`` sequences. Both have their prompt-prefix cache
warmed first. Printed per round: tokens per second (all replies' tokens over the round's wall
time) and p50/p95 time to first token, side by side with ratios, and whether the replies of the
two paths are identical, and the CPU time each path used (on a shared machine wall times
follow the other jobs; CPU seconds follow the work done).

With ``--rerank on`` (the default, as the chat runs) each user first reranks its question
against the ``RERANK_DEPTH`` windows its sources start (the shipped SmolLM2 query likelihood,
score cache off so every round scores afresh), as the chat does before it writes the prompt,
and its time to first token counts from before the rerank. The baseline reranks with one
scoring context (sessions in turn, as before the pool), the candidate with a pool of
``--rerank-contexts``; the time spent in rerank (p50/p95 per user) is printed for both. The
prompts keep their sources in the same order whatever the scores, so replies stay comparable.
``--baseline batched`` gives the baseline the candidate's batched model, so the two paths
differ only in the rerank pool.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the deerin entry point sets it
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SUBTITLES = ("popeye_sinbad_1936_part1.srt", "popeye_sinbad_1936_part2.srt",
             "popeye_sinbad_1936_part3.srt", "popeye_sinbad_1936_part4.srt",
             "his_girl_friday_1940_clip.vtt")
QUESTIONS = (
    "Who does Sinbad say he is?", "Where does Sinbad live?", "What does Popeye eat?",
    "Who fights Popeye?", "What does Sinbad call his island?", "Who is Hildy?",
    "What is Walter's plan?", "What happens to the ship?", "Who is the most remarkable fellow?",
    "What does the monster look like?", "How does the fight end?", "What does Olive do?",
)
WINDOW = 60  # words per source, about a clip's worth of speech
OPEN = ("a silent film", "a newsreel", "a cartoon", "a lecture film", "a screwball comedy",
        "a documentary", "a space shuttle launch", "a physics demonstration",
        "an inaugural address", "a sailing adventure", "a nature film", "a city street")


@dataclass
class Round:
    """One round: every user's time to first token, the tokens written, the wall time."""

    ttft: list[float]
    tokens: int
    wall: float
    cpu: float  # CPU seconds the process used (every thread): robust on a shared machine
    replies: list[str]
    rerank: list[float]  # each user's seconds in rerank (empty when off)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.wall if self.wall else 0.0


def subtitle_windows(media: Path) -> list[str]:
    """Word windows of the subtitle files' spoken text (cue numbers, times and tags removed)."""
    words: list[str] = []
    for name in SUBTITLES:
        text = (media / name).read_text(encoding="utf-8-sig", errors="replace")
        lines = [ln for ln in text.splitlines() if ln.strip() and "-->" not in ln
                 and not ln.strip().isdigit() and ln.strip() != "WEBVTT"]
        words += re.sub(r"<[^>]+>|\[[^\]]*\]", " ", " ".join(lines)).split()
    # Overlapping windows, as neighbouring clips overlap: the files hold about 500 words.
    windows = [" ".join(words[i:i + WINDOW]) for i in range(0, len(words) - WINDOW, WINDOW // 2)]
    if len(windows) < 4:
        raise SystemExit(f"too little subtitle text in {media}")
    return windows


def prompts_for(users: int, windows: list[str], kind: str = "chat"
                ) -> list[list[dict[str, str]]]:
    """One prompt per user: the chat's answer prompt, or an open request for a paragraph."""
    from assistant.prompting import build_messages

    if kind == "open":
        system = {"role": "system", "content": "You are a film archivist. Answer in one "
                  "paragraph of about a hundred words."}
        return [[system, {"role": "user", "content": "Describe what an archive catalogue "
                          f"should say about {OPEN[u % len(OPEN)]}."}] for u in range(users)]

    return [build_messages(QUESTIONS[u % len(QUESTIONS)],
                           [windows[(u * 4 + j) % len(windows)] for j in range(4)])
            for u in range(users)]


def rerank_passages(users: int, windows: list[str], depth: int) -> list[list[str]]:
    """What each user's rerank reads: ``depth`` windows from its first source on."""
    return [[windows[(u * 4 + j) % len(windows)] for j in range(depth)] for u in range(users)]


def run_round(llm: Any, prompts: list[list[dict[str, str]]], max_tokens: int,
              reranker: Any = None, passages: list[list[str]] | None = None) -> Round:
    """All ``prompts`` streamed at once, one thread each; with a ``reranker``, each user first
    scores its question (``QUESTIONS``) against its ``passages``."""
    ttft: dict[int, float] = {}
    replies: dict[int, str] = {}
    reranked: dict[int, float] = {}
    start = threading.Barrier(len(prompts) + 1)

    def user(i: int) -> None:
        start.wait()
        t0 = time.perf_counter()
        if reranker is not None and passages is not None:
            reranker.likelihood(QUESTIONS[i % len(QUESTIONS)], passages[i])
            reranked[i] = time.perf_counter() - t0
        parts = []
        for delta in llm.stream(prompts[i], max_tokens=max_tokens, temperature=0.0):
            if not parts:
                ttft[i] = time.perf_counter() - t0
            parts.append(delta)
        replies[i] = "".join(parts)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    start.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    texts = [replies.get(i, "") for i in range(len(prompts))]
    tokens = sum(len(llm._llama.tokenize(r.encode(), add_bos=False)) for r in texts if r)
    return Round(list(ttft.values()), tokens, wall, cpu, texts, list(reranked.values()))


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llm", default="default", help="a tier (tiny, fast, default) or a GGUF")
    ap.add_argument("--users", default="1,4,10", help="concurrent users per round")
    ap.add_argument("--parallel", type=int, default=4, help="sequences decoded at once")
    ap.add_argument("--shared", action="store_true",
                    help="batched sequences share one pass per step (default: exact)")
    ap.add_argument("--max-tokens", type=int, default=64, help="tokens per reply at most")
    ap.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    ap.add_argument("--prompts", choices=("chat", "open"), default="chat",
                    help="the chat's answer prompts, or open requests for a paragraph")
    ap.add_argument("--rerank", choices=("on", "off"), default="on",
                    help="each user reranks first, as the chat does (default on)")
    ap.add_argument("--rerank-contexts", type=int, default=None,
                    help="scoring contexts of the candidate's reranker (default: the chat's)")
    ap.add_argument("--baseline", choices=("one", "batched"), default="one",
                    help="the baseline's LLM: one at a time (default), or the candidate's "
                    "batched model, so that only the rerank pool differs")
    ap.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    args = ap.parse_args()

    from assistant.calibration import RERANK_DEPTH
    from assistant.llm import load_llm
    from assistant.settings import DEFAULT_RERANK_CONTEXTS

    windows = subtitle_windows(args.media)
    rounds = [int(u) for u in args.users.split(",")]
    t0 = time.perf_counter()
    many = load_llm(args.llm, threads=args.threads, parallel=args.parallel,
                    shared_passes=args.shared)
    one = many if args.baseline == "batched" else load_llm(args.llm, threads=args.threads)
    contexts = args.rerank_contexts or DEFAULT_RERANK_CONTEXTS
    one_rr = many_rr = None
    if args.rerank == "on":
        from assistant.rerank import LlamaCppReranker
        from weights import SMOLLM2, require

        one_rr = LlamaCppReranker(require(SMOLLM2), threads=args.threads, cache_size=0)
        many_rr = LlamaCppReranker(require(SMOLLM2), threads=args.threads, cache_size=0,
                                   contexts=contexts)
    print(f"model {one.model_id}, loaded in {time.perf_counter() - t0:.1f} s; "
          f"{os.cpu_count()} cores; replies of at most {args.max_tokens} tokens; "
          f"batched: {args.parallel} sequences, "
          f"{'shared passes' if args.shared else 'exact'}; {args.prompts} prompts; "
          f"baseline LLM: {'batched too' if one is many else 'one at a time'}; rerank "
          + (f"on ({RERANK_DEPTH} passages per user; one context -> a pool of {contexts})"
             if one_rr else "off"))
    warm = prompts_for(1, windows, args.prompts)
    warm_passages = rerank_passages(1, windows, 2)
    # Cache the fixed prompt part in both, as a running chat has; open the rerank contexts.
    for llm, rr in ((one, one_rr), (many, many_rr)):
        run_round(llm, warm, 4, rr, warm_passages)
    if many_rr is not None:
        with ExitStack() as stack:
            for _ in range(contexts):
                stack.enter_context(many_rr.pool.lend())

    print(f"\n{'users':>5} | {'tok/s one':>9} {'batched':>8} {'ratio':>6} | "
          f"{'TTFT p50 one':>12} {'batched':>8} {'ratio':>6} | "
          f"{'TTFT p95 one':>12} {'batched':>8} {'ratio':>6} | same replies")
    for users in rounds:
        prompts = prompts_for(users, windows, args.prompts)
        passages = rerank_passages(users, windows, RERANK_DEPTH)
        base = run_round(one, prompts, args.max_tokens, one_rr, passages)
        cand = run_round(many, prompts, args.max_tokens, many_rr, passages)
        same = sum(a == b for a, b in zip(base.replies, cand.replies, strict=True))
        b50, c50 = pct(base.ttft, 0.5), pct(cand.ttft, 0.5)
        b95, c95 = pct(base.ttft, 0.95), pct(cand.ttft, 0.95)
        print(f"{users:>5} | {base.tokens_per_s:>9.2f} {cand.tokens_per_s:>8.2f} "
              f"{cand.tokens_per_s / base.tokens_per_s:>5.2f}x | "
              f"{b50:>11.1f}s {c50:>7.1f}s {b50 / c50:>5.2f}x | "
              f"{b95:>11.1f}s {c95:>7.1f}s {b95 / c95:>5.2f}x | {same}/{users}",
              flush=True)
        print(f"      | wall one {base.wall:.1f} s, batched {cand.wall:.1f} s; tokens "
              f"{base.tokens} / {cand.tokens}; mean TTFT one "
              f"{statistics.fmean(base.ttft):.1f} s, batched {statistics.fmean(cand.ttft):.1f} s; "
              f"CPU one {base.cpu:.1f} s, batched {cand.cpu:.1f} s "
              f"({base.cpu / cand.cpu:.2f}x less)", flush=True)
        if base.rerank and cand.rerank:
            print(f"      | rerank per user p50/p95: one {pct(base.rerank, 0.5):.1f} / "
                  f"{pct(base.rerank, 0.95):.1f} s, batched {pct(cand.rerank, 0.5):.1f} / "
                  f"{pct(cand.rerank, 0.95):.1f} s; summed over users: one "
                  f"{sum(base.rerank):.1f} s, batched {sum(cand.rerank):.1f} s", flush=True)
    close = getattr(many, "close", None)
    if close is not None:
        close()
    print("\n(ratios: batched over one-at-a-time for tok/s; one-at-a-time over batched for "
          "TTFT, so > 1 is better in every column)")


if __name__ == "__main__":
    main()
