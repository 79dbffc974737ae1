"""Benchmark: would scoring several passages in one forward pass beat a pool of contexts?

    python bench/rerank_batched.py [--passages 8] [--repeats 3] [--threads N]

The alternative to a pool (``bench/rerank_load.py``) is to treat rerank jobs as the answer
model's scheduler treats prompts: one llama.cpp context, one sequence per passage, every
passage read in one ``llama_decode``. A scheduler can only beat the pool on 2 cores if that
costs less CPU per passage than scoring the passages one after the other, and it may only
replace the one-request path if it gives the same scores. This measures both, same run, on
the shipped SmolLM2-135M and word windows of the real subtitles in ../shared/media: CPU and
wall seconds of ``--passages`` passages scored one by one (:class:`LlamaCppReranker`, cache
off) against all of them in one decode (a context with one KV stream per sequence, logits
only at the question positions), and the largest score difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the deerin entry point sets it
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from chat_load import QUESTIONS, subtitle_windows  # noqa: E402

PROMPT = "Passage: {passage}\nA question about this passage: "  # as assistant.rerank reads


class OneDecode:
    """Every passage of a call as a sequence of one ``llama_decode`` (the scheduler way)."""

    def __init__(self, llama: Any, sequences: int, n_ctx: int = 512) -> None:
        import llama_cpp

        self.lib, self.llama = llama_cpp, llama
        params = type(llama.context_params).from_buffer_copy(llama.context_params)
        params.n_ctx = n_ctx * sequences
        params.n_batch = params.n_ubatch = n_ctx * sequences
        params.n_seq_max = sequences
        params.kv_unified = False
        self.ctx = llama_cpp.llama_init_from_model(llama.model, params)
        self.mem = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)
        self.n_vocab = llama.n_vocab()

    def scores(self, items: list[tuple[list[int], list[int]]]) -> list[float]:
        lib, batch = self.lib, self.batch
        lib.llama_memory_clear(self.mem, True)
        n, rows = 0, []
        for seq, (prefix, q) in enumerate(items):
            tokens = prefix + q
            first = len(prefix) - 1  # the logits of this position predict the question's first
            row = []
            for pos, token in enumerate(tokens):
                wanted = first <= pos < first + len(q)
                batch.token[n], batch.pos[n], batch.n_seq_id[n] = token, pos, 1
                batch.seq_id[n][0], batch.logits[n] = seq, int(wanted)
                if wanted:
                    row.append(n)
                n += 1
            rows.append(row)
        batch.n_tokens = n
        if lib.llama_decode(self.ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")
        out = []
        for (_, q), row in zip(items, rows, strict=True):
            logits = np.stack([np.ctypeslib.as_array(lib.llama_get_logits_ith(self.ctx, r),
                                                     shape=(self.n_vocab,)) for r in row])
            logits = logits.astype(np.float64)
            logits -= logits.max(axis=1, keepdims=True)
            logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            out.append(float(logp[np.arange(len(q)), q].mean()))
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    args = ap.parse_args()

    from assistant.rerank import LlamaCppReranker
    from weights import SMOLLM2, require

    windows = subtitle_windows(args.media)
    one = LlamaCppReranker(require(SMOLLM2), threads=args.threads, cache_size=0)
    llama = one._llama
    batched = OneDecode(llama, args.passages)

    def tok(text: str, bos: bool) -> list[int]:
        return list(llama.tokenize(text.encode(), add_bos=bos, special=False))

    one.likelihood(QUESTIONS[0], windows[:1])  # warm
    t_one = c_one = t_batch = c_batch = 0.0
    worst = 0.0
    for r in range(args.repeats):
        question = QUESTIONS[r % len(QUESTIONS)]
        passages = [windows[(r * 5 + j) % len(windows)] for j in range(args.passages)]
        w0, c0 = time.perf_counter(), time.process_time()
        expected = one.likelihood(question, passages)
        t_one += time.perf_counter() - w0
        c_one += time.process_time() - c0
        q = tok(question, False)[: one.max_question_tokens]
        items = []
        for p in passages:
            body = tok(p, False)[: one.max_passage_tokens]
            text = llama.detokenize(body).decode("utf-8", "ignore")
            items.append((tok(PROMPT.format(passage=text), True), q))
        w0, c0 = time.perf_counter(), time.process_time()
        got = batched.scores(items)
        t_batch += time.perf_counter() - w0
        c_batch += time.process_time() - c0
        worst = max(worst, *(abs(a - b) for a, b in zip(expected, got, strict=True)))
        same = sum(a == b for a, b in zip(expected, got, strict=True))
        print(f"repeat {r}: identical scores {same}/{len(passages)}", flush=True)
    n = args.repeats * args.passages
    print(f"\n{n} passages, {args.threads} threads, {os.cpu_count()} cores")
    print(f"one by one (the pool's way): {t_one:.2f} s wall, {c_one:.2f} s CPU "
          f"({c_one / n * 1000:.0f} ms CPU per passage)")
    print(f"one decode (the scheduler's): {t_batch:.2f} s wall, {c_batch:.2f} s CPU "
          f"({c_batch / n * 1000:.0f} ms CPU per passage); CPU ratio "
          f"{c_one / c_batch:.2f}x; largest score difference {worst:.2e}")


if __name__ == "__main__":
    main()
