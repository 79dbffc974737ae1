"""Second-stage rerank by query likelihood: how probable is the question after reading a clip?

First-stage retrieval (MiniLM vectors and BM25, :mod:`assistant.retrieval`) usually finds the
right file but often picks the wrong moment in it: within one speech every clip shares the topic,
and a paraphrased question ("which part of his face…") matches the clip that repeats the
question's words better than the clip that holds the answer ("…to my chin"). A language model
that reads a clip and then the question scores every question token; the mean log-probability
of the question given the clip is a relevance score that uses the whole clip, not one vector
(query likelihood / "UPR", Sachan et al. 2022). No cross-encoder ships offline, but the
SmolLM2-135M GGUF does, so the shipped model is the default scorer.

Scoring a clip costs a prompt evaluation, so only the first few candidates are rescored, and
their likelihood ranking is fused with the first-stage order by rank (no score scales mix).
The depth and the weight are tuned in :mod:`assistant.calibration`;
``bench/ask_latency.py`` measures what the rerank costs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from assistant.calibration import RERANK_DEPTH, W_LIKELIHOOD
from assistant.llm.llamacpp import llama_class
from assistant.rerank_pool import ContextPool, ScoreCache
from assistant.settings import DEFAULT_RERANK_CONTEXTS, RERANK_DEFAULT, RERANK_OFF
from indexing.fusion import rrf
from indexing.types import Hit

if TYPE_CHECKING:
    from weights import ShippedModel


log = logging.getLogger(__name__)

_PROMPT = "Passage: {passage}\nA question about this passage: "


class RerankerUnavailable(RuntimeError):
    """The rerank model cannot be used; the message says what is missing."""


class Reranker(Protocol):
    """Scores how well each passage explains a question (higher is better)."""

    model_id: str

    def likelihood(self, question: str, passages: Sequence[str]) -> list[float]:
        """One score per passage: the mean log-probability of ``question`` after it."""
        ...


@dataclass(frozen=True, slots=True)
class RerankPolicy:
    """How many hits are rescored, and the weight of the likelihood ranking when it is fused
    with the first-stage order (see :func:`rerank_by_likelihood`)."""

    depth: int = RERANK_DEPTH
    weight: float = W_LIKELIHOOD


class LlamaCppReranker:
    """Query likelihood from a GGUF model run in-process by llama.cpp.

    Thread-safe and cached: up to ``contexts`` sessions score at once, each in a llama.cpp
    context of its own (opened when needed; the model file is mapped once, each context costs
    its KV cache and logits buffers, ~120 MB resident), and a score depends only on the
    question and the passage, so the eval and the chat, which ask about the same clips
    repeatedly, compute it once (:class:`~assistant.rerank_pool.ScoreCache`). Every context
    scores exactly as a lone one does: a session's scores do not depend on the others'.
    """

    def __init__(self, model_path: Path, *, threads: int | None = None, n_ctx: int = 512,
                 max_passage_tokens: int = 320, max_question_tokens: int = 120,
                 cache_size: int = 4096, contexts: int = 1) -> None:
        """Load ``model_path``; raise :class:`RerankerUnavailable` if it cannot be loaded.
        ``cache_size`` 0 keeps no score; ``contexts`` is how many sessions score at once."""
        self.model_path = Path(model_path).expanduser()
        if not self.model_path.is_file():
            raise RerankerUnavailable(f"rerank model not found: {self.model_path}")
        try:
            Llama = llama_class()
        except ImportError as e:
            raise RerankerUnavailable(
                f"llama.cpp is not installed ({e}): pip install llama-cpp-python") from e
        if max_passage_tokens + max_question_tokens + 32 > n_ctx:
            raise ValueError("n_ctx is too small for the passage and question budgets")
        if contexts < 1:
            raise ValueError(f"a reranker needs at least one scoring context, not {contexts}")
        self.model_id = f"llamacpp:{self.model_path.name}"
        self.max_passage_tokens = max_passage_tokens
        self.max_question_tokens = max_question_tokens
        n_threads = threads or max(1, os.cpu_count() or 1)

        def open_context() -> _ScoringContext:
            # logits_all: a score needs the logits at every question position.
            llama = Llama(model_path=str(self.model_path), n_ctx=n_ctx, n_threads=n_threads,
                          n_threads_batch=n_threads, logits_all=True, verbose=False)
            return _ScoringContext(llama, max_passage_tokens)

        try:
            self._pool = ContextPool(open_context, contexts)
        except (ValueError, RuntimeError, OSError) as e:
            raise RerankerUnavailable(f"cannot load rerank model {self.model_path}: {e}") from e
        # Tokenizing reads only the model's vocabulary, never a context: any context serves.
        self._llama: Any = self._pool.first().llama
        self._cache = ScoreCache(cache_size)

    @property
    def contexts(self) -> int:
        """How many sessions may score at once."""
        return self._pool.size

    @property
    def pool(self) -> ContextPool[_ScoringContext]:
        """The scoring contexts (how many are open, how often a session waited: benchmarks)."""
        return self._pool

    @property
    def cache(self) -> ScoreCache:
        """The shared scores (hits, scores waited for: benchmarks)."""
        return self._cache

    def likelihood(self, question: str, passages: Sequence[str]) -> list[float]:
        """Mean log-probability per token of ``question`` written after each passage."""
        q_tokens = _tokens(self._llama, question, bos=False)[: self.max_question_tokens]
        keys = [hashlib.blake2b(f"{p}\x00{question}".encode(), digest_size=16).digest()
                for p in passages]
        scores = [self._cache.get(key) for key in keys]
        missing = [i for i, score in enumerate(scores) if score is None]
        if not missing:
            return [s for s in scores if s is not None]
        # The context is taken before any score is claimed in the cache: a thread that waits
        # for another's score then holds a context, and the other computes it with its own,
        # never waiting for a context itself (else two sessions asking the same thing with
        # every context lent could wait for each other forever).
        # Every context keeps all the threads: dividing them between busy contexts was measured
        # slower (README, "Many users at once").
        with self._pool.lend() as context:
            for i in missing:
                scores[i] = self._cache.get_or_compute(
                    keys[i], partial(context.score, passages[i], q_tokens))
        return [s for s in scores if s is not None]


class _ScoringContext:
    """One llama.cpp context scoring one passage at a time (its owner keeps it to itself)."""

    def __init__(self, llama: Any, max_passage_tokens: int) -> None:
        self.llama = llama
        self.max_passage_tokens = max_passage_tokens

    def score(self, passage: str, q_tokens: list[int]) -> float:
        if not q_tokens:
            return 0.0
        llama = self.llama
        body = _tokens(llama, passage, bos=False)[: self.max_passage_tokens]
        text = llama.detokenize(body).decode("utf-8", "ignore")
        prefix = _tokens(llama, _PROMPT.format(passage=text), bos=True)
        llama.reset()
        # Logits are computed only where they are read (the last prefix token and the question):
        # the output layer over the 49k-token vocabulary costs ~15 % of a scoring pass. llama_cpp
        # has no public per-call switch, so its private flag is flipped;
        # tests/assistant/test_rerank.py checks the result against a full pass.
        llama._logits_all = False
        try:
            if len(prefix) > 1:
                llama.eval(prefix[:-1])
            llama._logits_all = True
            llama.eval([prefix[-1], *q_tokens])
        finally:
            llama._logits_all = True
        start = len(prefix) - 1
        logits = np.asarray(llama.scores[start:start + len(q_tokens)], dtype=np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        logprobs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        return float(logprobs[np.arange(len(q_tokens)), q_tokens].mean())


def _tokens(llama: Any, text: str, *, bos: bool) -> list[int]:
    return list(llama.tokenize(text.encode("utf-8"), add_bos=bos, special=False))


def reranker_path(spec: str) -> Path | None:
    """The GGUF file a non-``off`` rerank spec names, without loading it; ``None`` when
    ``default`` and the rerank tier's model is not installed."""
    if spec == RERANK_DEFAULT:
        from weights import ModelMissing, model_path

        try:
            return model_path(_rerank_model())
        except ModelMissing:
            return None
    return Path(spec).expanduser()


def _rerank_model() -> ShippedModel:
    from weights import RERANK_TIER, tier

    chosen = tier(RERANK_TIER)
    assert chosen is not None, f"weights.RERANK_TIER names no tier: {RERANK_TIER}"
    return chosen.model


def load_reranker(spec: str, *, threads: int | None = None,
                  contexts: int = DEFAULT_RERANK_CONTEXTS) -> Reranker | None:
    """The reranker a spec names: ``off``, ``default`` (the rerank tier of :mod:`weights`) or a
    GGUF path, scoring for up to ``contexts`` callers at once (the second context opens only
    when two callers score at once). Raises :class:`RerankerUnavailable` when the model or
    llama.cpp is missing."""
    if spec == RERANK_OFF:
        return None
    path = reranker_path(spec)
    if path is None:
        from weights import missing_message

        raise RerankerUnavailable(f"rerank: {missing_message(_rerank_model())}")
    return LlamaCppReranker(path, threads=threads, contexts=contexts)


class RerankerSlot:
    """The reranker a settings value names, loaded on first use and kept; thread-safe.

    When it cannot be loaded, :meth:`get` returns ``None`` (retrieval keeps the first-stage
    order) and :attr:`problem` says why, once, for the user.
    """

    def __init__(self, spec: str = RERANK_DEFAULT, *, threads: int | None = None,
                 reranker: Reranker | None = None,
                 contexts: int = DEFAULT_RERANK_CONTEXTS) -> None:
        self.spec = spec
        self.threads = threads
        self.contexts = contexts
        self.problem: str | None = None
        self._reranker = reranker
        self._loaded = reranker is not None or spec == RERANK_OFF
        self._lock = threading.Lock()

    def get(self) -> Reranker | None:
        """The reranker, or ``None`` when off or unavailable."""
        with self._lock:
            if not self._loaded:
                try:
                    self._reranker = load_reranker(self.spec, threads=self.threads,
                                                   contexts=self.contexts)
                except RerankerUnavailable as e:
                    self.problem = str(e)
                    log.warning("rerank disabled: %s", e)
                self._loaded = True
            return self._reranker


def passage_of(hit: Hit) -> str:
    """What the scorer reads for a hit: the clip's words after its source title."""
    return hit.clip.embedding_text()


def rerank_by_likelihood(question: str, hits: Sequence[Hit], reranker: Reranker,
                         policy: RerankPolicy | None = None) -> list[Hit]:
    """Reorder the first ``depth`` hits by a reciprocal rank fusion of their first-stage order
    and their order by query likelihood (weight ``policy.weight``); the rest follow as they
    were. Ranks, not scores, are fused, so no scale of the likelihood or of the similarity
    enters. Each hit's ``score`` is kept; ``likelihood`` is set on the scored ones.
    """
    policy = policy or RerankPolicy()
    head = list(hits[: policy.depth])
    if len(head) < 2:
        return list(hits)
    lls = reranker.likelihood(question, [passage_of(h) for h in head])
    scored = [replace(h, likelihood=ll) for h, ll in zip(head, lls, strict=True)]
    by_likelihood = sorted(range(len(scored)), key=lambda i: (-lls[i], i))
    fused = rrf([range(len(scored)), by_likelihood], [1.0, policy.weight])
    order = sorted(range(len(scored)), key=lambda i: (-fused[i], i))
    return [scored[i] for i in order] + list(hits[policy.depth:])
