"""The embedded backend serving several requests at once: :class:`BatchedLlamaCppLLM`.

It is :class:`~assistant.llm.LlamaCppLLM` (same GGUF, chat template, prompt prefixes, samplers)
whose calls do not queue behind a lock but join a continuous batch run by a
:class:`~assistant.llm.scheduler.Scheduler`: up to ``parallel`` replies are written together,
each streamed to its own caller, their tokens decoded each in a pass of its own (``exact``, the
default: greedy replies as one at a time) or all in one ``llama_decode`` per step.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.llm.base import LLMError, Message
from assistant.llm.llamacpp import _MAX_PREFIXES, _MIN_PREFIX, LlamaCppLLM
from assistant.llm.scheduler import END, Job, Scheduler

DEFAULT_PARALLEL = 4
"""Sequences decoded together when the settings say nothing (see ``DEERIN_LLM_PARALLEL``)."""


class BatchedLlamaCppLLM(LlamaCppLLM):
    """A GGUF model run in-process by llama.cpp that answers up to ``parallel`` requests at once.

    Thread-safe: any number of threads may stream at once; beyond ``parallel`` they wait for a
    free sequence. Under greedy decoding (``temperature=0``) a reply is the one
    :class:`LlamaCppLLM` gives with ``exact``; without, llama.cpp's several-token kernels may
    round a near tie the other way and the reply drifts from there (measured: fast tier, 1-2 of
    4 paragraphs written at once; see :mod:`assistant.llm.scheduler`). A stream that is closed
    early leaves the batch at the next step. Call :meth:`close` to stop the decoding thread and
    free the context (a long-lived server may just keep it).
    """

    def __init__(
        self,
        model_path: Path,
        n_ctx: int = 4096,
        threads: int | None = None,
        seed: int = 0,
        repeat_penalty: float = 1.1,
        prefix_cache: bool = True,
        parallel: int = DEFAULT_PARALLEL,
        exact: bool = True,
    ) -> None:
        """Load ``model_path`` (see :class:`LlamaCppLLM`); ``n_ctx`` is each request's window,
        and the KV cache holds ``parallel`` of them. Raises
        :class:`~assistant.llm.LLMUnavailable` if the model cannot be loaded. ``exact`` (the
        default) gives every sequence's token a pass of its own: greedy replies exactly as
        :class:`LlamaCppLLM`'s, interleaved, at one-at-a-time cost per token; ``exact=False``
        shares one pass between all sequences, cheaper where reading the weights is the
        bottleneck (it was not on the 2 cores measured: +10 % CPU there, see the README)."""
        super().__init__(model_path, n_ctx=n_ctx, threads=threads, seed=seed,
                         repeat_penalty=repeat_penalty, prefix_cache=prefix_cache)
        self.parallel = parallel
        # Prompt chunks of llama_cpp.Llama's default n_batch, as the one-request path reads.
        self._scheduler = Scheduler(self._llama, parallel=parallel, n_ctx=n_ctx,
                                    chunk=min(n_ctx, 512),
                                    prefixes=_MAX_PREFIXES if prefix_cache else 0,
                                    exact=exact)

    def _own_context_size(self) -> int:
        # llama_cpp.Llama is kept for its model, vocabulary and templates; requests are decoded
        # in the scheduler's context, so its own needs no room.
        return 64

    @property
    def scheduler(self) -> Scheduler:
        """The scheduler decoding for this model (steps and cached prefixes, for benchmarks)."""
        return self._scheduler

    def close(self) -> None:
        """Stop decoding and free the context; later calls raise :class:`LLMError`."""
        self._scheduler.close()

    def __enter__(self) -> BatchedLlamaCppLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.1,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply as text deltas (see :meth:`assistant.llm.LLM.stream`)."""
        tokens, stops = self._prompt(messages)
        self._check_fits(tokens)
        # As llama_cpp's create_completion: no limit, or one past the window, means "until the
        # window is full".
        room = self.n_ctx - len(tokens)
        limit = room if max_tokens <= 0 else min(max_tokens, room)

        def sampler() -> Any:
            # The chain llama_cpp.Llama builds for create_completion (penalties, then greedy or
            # top-k/p, min-p, temperature and a seeded draw), so replies match the one-request
            # path.
            return self._llama._init_sampler(temp=temperature,
                                             repeat_penalty=self.repeat_penalty)

        # A generator: the request joins the batch when the caller starts reading.
        yield from self._text(self._submit(messages, tokens, limit, sampler), [*stops, *stop])

    def choice_logprobs(self, messages: list[Message], choices: Sequence[str]) -> list[float]:
        """Log-probability that the reply to ``messages`` starts with each of ``choices`` (see
        :meth:`LlamaCppLLM.choice_logprobs`); the prompt is evaluated in the shared batch."""
        if not choices:
            return []
        tokens, _ = self._prompt(messages)
        self._check_fits(tokens)
        job = self._submit(messages, tokens, 0, None)
        logits: np.ndarray | None = None
        for item in _items(job):
            logits = item
        if logits is None:
            raise LLMError(f"{self.model_id}: no logits for the prompt")
        first_ids = [self._first_tokens(choice) for choice in choices]
        shifted = logits - logits.max()
        logprobs = shifted - np.log(np.exp(shifted).sum())
        return [float(np.logaddexp.reduce(logprobs[sorted(ids)])) if ids else -math.inf
                for ids in first_ids]

    # -- helpers --------------------------------------------------------------------------------

    def _submit(self, messages: list[Message], tokens: list[int], limit: int,
                make_sampler: Any) -> Job:
        return self._scheduler.submit(Job(tokens, self._prefix_len(messages, tokens), limit,
                                          make_sampler))

    def _prefix_len(self, messages: list[Message], tokens: list[int]) -> int:
        """How many leading tokens are the prompt's fixed part, evaluated (and cached) on its
        own as :class:`LlamaCppLLM` does; 0 when there is none worth it."""
        if not self.prefix_cache or len(messages) < 2:
            return 0
        prefix = self._tokens(messages[:-1], generation_prompt=False)[0]
        if len(prefix) < _MIN_PREFIX or len(prefix) >= len(tokens) or \
                tokens[: len(prefix)] != prefix:
            return 0
        return len(prefix)

    def _text(self, job: Job, stops: list[str]) -> Iterator[str]:
        """The job's tokens as text deltas, cut before the first stop string; text that might
        begin a stop string is held back until the next token decides."""
        decoder = codecs.getincrementaldecoder("utf-8")(errors="ignore")
        text, sent = "", 0
        stops = [s for s in stops if s]
        try:
            for token in _items(job):
                text += decoder.decode(self._llama.detokenize([token]))
                cut = _first_stop(text, stops)
                if cut is not None:
                    if cut > sent:
                        yield text[sent:cut]
                    return
                safe = len(text) - _held_back(text, stops)
                if safe > sent:
                    yield text[sent:safe]
                    sent = safe
            text += decoder.decode(b"", final=True)
            cut = _first_stop(text, stops)
            end = len(text) if cut is None else cut
            if end > sent:
                yield text[sent:end]
        finally:
            job.cancel()  # a consumer that stops early frees its sequence

    def __repr__(self) -> str:
        return (f"BatchedLlamaCppLLM({str(self.model_path)!r}, n_ctx={self.n_ctx}, "
                f"parallel={self.parallel})")


def _items(job: Job) -> Iterator[Any]:
    """What the scheduler puts in ``job.out`` until :data:`END`; an error is raised."""
    while True:
        item = job.out.get()
        if item is END:
            return
        if isinstance(item, BaseException):
            raise item
        yield item


def _first_stop(text: str, stops: list[str]) -> int | None:
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return min(found) if found else None


def _held_back(text: str, stops: list[str]) -> int:
    """The length of the longest end of ``text`` that begins some stop string."""
    longest = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), longest, -1):
            if text.endswith(s[:k]):
                longest = k
                break
    return longest
