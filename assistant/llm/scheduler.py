"""Continuous batching for llama.cpp: one context holding several sequences, one ``llama_decode``
per step carrying one token for every sequence that is generating (plus prompt chunks of the
sequences that are still reading their prompt), each request streamed to its own consumer.

The :class:`Scheduler` owns the context and runs it from one thread; callers in any thread
:meth:`~Scheduler.submit` a :class:`Job` and read its queue. Requests join and leave between
steps. A step reads the weights once for all its sequences, so where reading the weights is
the bottleneck a step with four costs little more than a step with one (on the 2-core machine
of the README it was not: see bench/chat_load.py).

How the replies are kept as close as llama.cpp allows to the one-request path
(:class:`~assistant.llm.LlamaCppLLM`) under greedy decoding: each prompt is evaluated in the
same chunks (``chunk`` tokens, the ``n_batch`` of ``llama_cpp.Llama``) from the same positions,
alone in its step, the fixed part (prefix) of a prompt first, from an empty sequence; every
request gets the sampler chain ``llama_cpp.Llama`` builds (repeat penalty included), applied to
its own logits row; and every sequence has a KV stream of its own (``kv_unified`` off: a unified
cache puts a sequence's cells at other indices, which changes the summation order of attention;
measured, 3 greedy replies in 6 then drifted, against 0 in 6 with one stream per sequence).
What remains, most likely, is the matrix kernels: for some quantisations (Qwen's Q4_K_M)
llama.cpp's CPU kernel for several tokens may round differently from its one-token kernel, so a
reply can flip at a near tie (measured on the fast tier: 1-2 paragraphs in 4 drifted; 10/10
answer prompts and the tiny tier's replies matched). The ``exact`` mode gives each token its own
pass to keep the one-token kernels. A cached prefix is the prefix's KV state
saved once
(``llama_state_seq_get_data``) and copied into a new request's stream (a memcpy of a few MB).
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from assistant.llm.base import LLMError

log = logging.getLogger(__name__)

END = object()
"""What a job's queue holds after its last token (or its logits, or its error)."""


@dataclass(eq=False)
class Job:
    """One request: a prompt to evaluate, then ``limit`` tokens to sample (``limit`` 0: only the
    logits of the prompt's last position are wanted, as one float64 array).

    The consumer reads ``out`` (token ids, or the logits array, then :data:`END`; an
    :class:`LLMError` before :data:`END` on failure) and calls :meth:`cancel` when it stops
    reading early. The other fields belong to the scheduler's thread.
    """

    tokens: list[int]
    prefix_len: int
    limit: int
    make_sampler: Callable[[], Any] | None
    out: queue.Queue[object] = field(default_factory=queue.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    slot: int = -1
    pos: int = 0  # tokens of this job in the KV cache
    chunks: deque[tuple[int, int]] = field(default_factory=deque)
    save_prefix: bool = False
    sampler: Any = None
    next_token: int | None = None
    generated: int = 0

    def cancel(self) -> None:
        """Stop this job at the next step (its sequence leaves the context)."""
        self.cancelled.set()


class Scheduler:
    """Owns one llama.cpp context with ``parallel`` request sequences and keeps the states of up
    to ``prefixes`` prompt prefixes; decodes from one thread, started on the first job.

    ``llama`` is the ``llama_cpp.Llama`` the model was loaded with (its model, vocabulary and
    context settings are reused; its own context is not touched). ``n_ctx`` is the window of
    one request; each of the ``parallel`` sequences has a KV stream of that size. ``exact``
    decodes each sequence's token in a pass of its own (the one-token kernels: greedy replies
    exactly as one at a time, at one-at-a-time cost, still interleaved) instead of sharing one
    pass between all sequences.
    """

    def __init__(self, llama: Any, *, parallel: int, n_ctx: int, chunk: int = 512,
                 prefixes: int = 4, exact: bool = False) -> None:
        import llama_cpp

        if parallel < 1:
            raise ValueError(f"parallel sequences must be at least 1, not {parallel}")
        self.parallel = parallel
        self.exact = exact
        self.chunk = chunk
        self.max_prefixes = prefixes
        self._llama = llama
        self._lib = llama_cpp
        params = type(llama.context_params).from_buffer_copy(llama.context_params)
        params.n_ctx = n_ctx * parallel
        # One step = at most one prompt chunk plus one token per sequence, in one micro-batch:
        # llama.cpp must not split it, or chunks would not be evaluated as the one-request path
        # evaluates them.
        params.n_batch = params.n_ubatch = chunk + parallel
        params.n_seq_max = parallel
        params.kv_unified = False  # one stream per sequence: replies as from a lone request
        ctx = llama_cpp.llama_init_from_model(llama.model, params)
        if not ctx:
            raise LLMError(f"llama.cpp could not make a context of {params.n_ctx} tokens for "
                           f"{parallel} parallel sequences")
        self._ctx = ctx
        self._mem = llama_cpp.llama_get_memory(ctx)
        self._vocab = llama_cpp.llama_model_get_vocab(llama.model)
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self._batch = llama_cpp.llama_batch_init(params.n_batch, 0, 1)
        self._cond = threading.Condition()
        self._waiting: deque[Job] = deque()
        self._active: list[Job] = []  # in admission order; only the scheduler thread touches it
        self._free_slots = list(range(parallel))
        self._prefixes: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._read_turn = True
        self.steps = 0  # decode calls so far (for tests and benchmarks)
        self.widest = 0  # most generating sequences one decode call has carried a token for

    # -- the consumer side ----------------------------------------------------------------------

    def submit(self, job: Job) -> Job:
        """Queue ``job``; it joins the running batch at the next step with a free sequence."""
        with self._cond:
            if self._closed:
                raise LLMError("the batching scheduler is closed")
            self._waiting.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="llama-batch",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        return job

    def close(self) -> None:
        """Stop the thread (jobs still queued or running end with an error) and free the
        context."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        for job in [*self._waiting, *self._active]:
            job.out.put(LLMError("the model was closed"))
            job.out.put(END)
        self._waiting.clear()
        self._active.clear()
        self._lib.llama_batch_free(self._batch)
        self._lib.llama_free(self._ctx)

    # -- the scheduler thread -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._waiting and not self._active:
                    self._cond.wait()
                if self._closed:
                    return
                joining = []
                while self._waiting and self._free_slots:
                    job = self._waiting.popleft()
                    if job.cancelled.is_set():
                        job.out.put(END)
                        continue
                    job.slot = min(self._free_slots)  # low ids first: runs stay consecutive
                    self._free_slots.remove(job.slot)
                    joining.append(job)
            try:
                for job in joining:
                    self._admit(job)
                for job in [j for j in self._active if j.cancelled.is_set()]:
                    self._finish(job)
                if self._active:
                    self._step()
            except Exception as e:  # a failed step fails its jobs, the thread keeps serving
                log.exception("llama.cpp batch step failed")
                self._fail_all(e)

    def _admit(self, job: Job) -> None:
        lib = self._lib
        self._active.append(job)
        key = tuple(job.tokens[: job.prefix_len])
        state = self._prefixes.get(key) if job.prefix_len else None
        if state is not None:
            self._prefixes.move_to_end(key)
            data = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
            if not lib.llama_state_seq_set_data(self._ctx, data, len(state), job.slot):
                raise LLMError("llama.cpp could not restore a cached prompt prefix")
            job.pos = job.prefix_len
            job.chunks.extend(self._split(job.prefix_len, len(job.tokens)))
        else:
            job.save_prefix = job.prefix_len > 0
            job.chunks.extend(self._split(0, job.prefix_len))
            job.chunks.extend(self._split(job.prefix_len, len(job.tokens)))
        if job.make_sampler is not None:
            job.sampler = job.make_sampler()

    def _split(self, start: int, end: int) -> list[tuple[int, int]]:
        return [(i, min(end, i + self.chunk)) for i in range(start, end, self.chunk)]

    def _step(self) -> None:
        lib, batch = self._lib, self._batch
        n = 0

        def add(token: int, pos: int, seq: int, logits: bool) -> int:
            nonlocal n
            batch.token[n], batch.pos[n], batch.n_seq_id[n] = token, pos, 1
            batch.seq_id[n][0], batch.logits[n] = seq, int(logits)
            n += 1
            return n - 1

        sampling: list[tuple[Job, int]] = []  # (job, batch row of its logits)
        reading = [job for job in self._active if job.chunks]
        generating = [job for job in self._active if job.next_token is not None]
        # A prompt chunk is decoded on its own, never mixed with other sequences' tokens:
        # measured, a chunk sharing its micro-batch with generating sequences made 1 greedy
        # reply in 7 drift from the one-request path. Chunk steps and token steps alternate,
        # so replies keep flowing while a new prompt is read.
        if reading and (not generating or self._read_turn):
            job = reading[0]
            start, end = job.chunks[0]
            last = end == len(job.tokens)
            for p in range(start, end):
                row = add(job.tokens[p], p, job.slot, last and p == end - 1)
            if last:
                sampling.append((job, row))
            reading = [job]
        else:
            # By sequence id: llama.cpp splits a batch over separate KV streams into
            # micro-batches of consecutive sequence ids, so out of order every token would
            # become a forward pass of its own.
            for job in sorted(generating, key=lambda j: j.slot):
                sampling.append((job, add(job.next_token or 0, job.pos, job.slot, True)))
            reading = []
        self._read_turn = not self._read_turn
        if self.exact and len(sampling) > 1:
            self._decode_one_by_one(sampling)
            return
        batch.n_tokens = n
        rc = lib.llama_decode(self._ctx, batch)
        if rc == 1:  # no room in the KV cache (every request fits its window: not expected)
            victim = self._active[-1]
            victim.out.put(LLMError("the model's context is full with other requests; "
                                    "ask again in a moment"))
            self._finish(victim)
            return
        if rc != 0:
            raise LLMError(f"llama_decode failed ({rc})")
        self.steps += 1
        if not reading:
            self.widest = max(self.widest, len(sampling))
        for job in reading:
            start, end = job.chunks.popleft()
            job.pos = end
            if job.save_prefix and end == job.prefix_len:
                self._remember_prefix(job)
        for job, row in sampling:
            if job.next_token is not None:
                job.pos += 1
                job.next_token = None
            self._sample(job, row)

    def _decode_one_by_one(self, sampling: list[tuple[Job, int]]) -> None:
        """Decode the generating sequences' tokens each in a pass of its own."""
        batch = self._batch
        for job, _ in sampling:
            token = job.next_token or 0
            batch.token[0], batch.pos[0], batch.n_seq_id[0] = token, job.pos, 1
            batch.seq_id[0][0], batch.logits[0] = job.slot, 1
            batch.n_tokens = 1
            rc = self._lib.llama_decode(self._ctx, batch)
            if rc != 0:
                raise LLMError(f"llama_decode failed ({rc})")
            self.steps += 1
            self.widest = max(self.widest, 1)
            job.pos += 1
            job.next_token = None
            self._sample(job, 0)

    def _sample(self, job: Job, row: int) -> None:
        lib = self._lib
        if job.sampler is None:  # only the logits are wanted
            pointer = lib.llama_get_logits_ith(self._ctx, row)
            job.out.put(np.ctypeslib.as_array(pointer, shape=(self._n_vocab,))
                        .astype(np.float64))
            self._finish(job)
            return
        token = int(lib.llama_sampler_sample(job.sampler.sampler, self._ctx, row))
        if lib.llama_vocab_is_eog(self._vocab, token):
            self._finish(job)
            return
        job.out.put(token)
        job.generated += 1
        if job.generated >= job.limit:
            self._finish(job)
        else:
            job.next_token = token

    def _finish(self, job: Job) -> None:
        if job in self._active:
            self._active.remove(job)
        if job.slot >= 0:
            self._lib.llama_memory_seq_rm(self._mem, job.slot, -1, -1)
            with self._cond:
                self._free_slots.append(job.slot)
            job.slot = -1
        job.sampler = None
        job.out.put(END)

    def _remember_prefix(self, job: Job) -> None:
        """Save the state of ``job``'s sequence, which holds exactly its prompt's prefix now
        (one chunk per job and step)."""
        key = tuple(job.tokens[: job.prefix_len])
        if key in self._prefixes or self.max_prefixes <= 0:
            return
        lib = self._lib
        size = lib.llama_state_seq_get_size(self._ctx, job.slot)
        buf = (ctypes.c_uint8 * size)()
        n = lib.llama_state_seq_get_data(self._ctx, buf, size, job.slot)
        self._prefixes[key] = bytes(buf)[:n]
        while len(self._prefixes) > self.max_prefixes:
            self._prefixes.popitem(last=False)

    def _fail_all(self, error: Exception) -> None:
        failure = error if isinstance(error, LLMError) else LLMError(f"llama.cpp: {error}")
        for job in list(self._active):
            job.out.put(failure)
            self._finish(job)
        self._lib.llama_memory_clear(self._mem, True)

    @property
    def cached_prefixes(self) -> int:
        """How many prompt prefixes the context holds now."""
        return len(self._prefixes)
