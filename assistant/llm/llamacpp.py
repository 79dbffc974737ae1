"""The embedded backend: a GGUF model run in-process by llama.cpp (``llama_cpp``).

The shipped models are listed in :mod:`weights` (tiers ``fast``, ``default``, ``quality``);
any other GGUF file works too. ``llama_cpp`` is imported when a model is first built.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.llm.base import LLMError, LLMUnavailable, Message


def llama_class() -> Any:
    """``llama_cpp.Llama``, imported with idle OpenMP workers set to sleep.

    OpenMP workers that spin while idle make a thread per core collapse whenever anything else
    runs: on 2 cores the first token came 3x later. The policy is read once, when the OpenMP
    runtime starts with llama_cpp, so every in-process llama.cpp user (this backend, the
    reranker) imports it through here, whoever the caller is (CLI, chat server, tests,
    library); an explicit setting in the environment wins. Raises ImportError.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from llama_cpp import Llama

    return Llama


class LlamaCppLLM:
    """A GGUF model run in-process by llama.cpp; also a :class:`~assistant.llm.ChoiceScorer`.

    The model is loaded once, when the object is built, and reused by every call. A llama.cpp
    context is not reentrant, so calls are serialised with a lock: the chat app can share one
    instance between sessions, each waiting its turn. Consume or close a stream promptly — the
    lock is held until the generator finishes.
    """

    def __init__(
        self,
        model_path: Path,
        n_ctx: int = 4096,
        threads: int | None = None,
        seed: int = 0,
        repeat_penalty: float = 1.1,
        reuse_prefix: bool = False,
    ) -> None:
        """Load ``model_path``; raise :class:`LLMUnavailable` if it cannot be loaded.

        ``threads`` defaults to one per core. ``seed`` is applied to every call so the same
        messages give the same reply. ``repeat_penalty`` (1.0 = off) keeps tiny models from
        looping on a phrase.

        ``reuse_prefix`` keeps the previous call's evaluated tokens and only evaluates what
        differs, which saves the system prompt's evaluation; off by default because the reply
        then depends on the previous call (a batch of different size rounds differently and
        greedy decoding can flip at a near tie), which makes answers and evals unrepeatable.
        """
        self.model_path = Path(model_path).expanduser()
        if not self.model_path.is_file():
            raise LLMUnavailable(f"GGUF model file not found: {self.model_path}")
        try:
            Llama = llama_class()
        except ImportError as e:
            raise LLMUnavailable(
                f"llama.cpp is not installed ({e}): pip install llama-cpp-python"
            ) from e
        self.model_id = f"llamacpp:{self.model_path.name}"
        self.n_ctx = n_ctx
        self.seed = seed
        self.repeat_penalty = repeat_penalty
        self.reuse_prefix = reuse_prefix
        n_threads = threads or max(1, os.cpu_count() or 1)
        try:
            # chat_format=None lets llama_cpp build the chat template stored in the GGUF.
            self._llama: Any = Llama(
                model_path=str(self.model_path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise LLMUnavailable(f"cannot load GGUF model {self.model_path}: {e}") from e
        self._lock = threading.Lock()
        self._formatter: Any = None  # the GGUF's chat template, built on first choice_logprobs

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.1,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply as text deltas (see :meth:`assistant.llm.LLM.stream`)."""
        with self._lock:
            if not self.reuse_prefix:
                self._llama.reset()
            try:
                chunks = self._llama.create_chat_completion(
                    messages=messages,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=list(stop) or None,
                    seed=self.seed,
                    repeat_penalty=self.repeat_penalty,
                    stream=True,
                )
                for chunk in chunks:
                    delta: Any = chunk["choices"][0]["delta"]
                    content = delta.get("content") if isinstance(delta, dict) else None
                    if content:
                        yield str(content)
            except ValueError as e:
                # llama_cpp reports an overflowing prompt as a ValueError: one line for the user.
                raise LLMError(f"{self.model_id}: {e}") from e

    def choice_logprobs(self, messages: list[Message], choices: Sequence[str]) -> list[float]:
        """Log-probability that the reply to ``messages`` starts with each of ``choices``.

        The prompt is the GGUF's chat template with the assistant header appended; it is
        evaluated once and the logits of its last position are log-softmaxed. A choice's value
        is the probability mass of its first token, summed over the spellings as given, in
        lower case and capitalised ("yes" also counts "Yes"), each without a leading space
        (a reply's first token follows the header directly).
        """
        if not choices:
            return []
        with self._lock:
            tokens = self._prompt_tokens(messages)
            if len(tokens) >= self.n_ctx:
                raise LLMError(f"{self.model_id}: the prompt ({len(tokens)} tokens) does not fit "
                               f"in the context window ({self.n_ctx})")
            logits = self._last_logits(tokens)
            first_ids = [self._first_tokens(choice) for choice in choices]
        shifted = logits - logits.max()
        logprobs = shifted - np.log(np.exp(shifted).sum())
        return [float(np.logaddexp.reduce(logprobs[sorted(ids)])) if ids else -math.inf
                for ids in first_ids]

    # -- choice_logprobs helpers (called with the lock held) ----------------------------------

    def _prompt_tokens(self, messages: list[Message]) -> list[int]:
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self._llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise LLMError(f"{self.model_id} has no chat template: choices cannot be scored")
            vocab = self._llama.tokenizer()

            def text_of(token: int) -> str:
                return vocab.decode([token]) if token >= 0 else ""

            self._formatter = Jinja2ChatFormatter(
                template=template, eos_token=text_of(self._llama.token_eos()),
                bos_token=text_of(self._llama.token_bos()), add_generation_prompt=True)
        result = self._formatter(messages=messages)
        return list(self._llama.tokenize(result.prompt.encode("utf-8"),
                                         add_bos=not result.added_special, special=True))

    def _last_logits(self, tokens: list[int]) -> np.ndarray:
        import llama_cpp

        llama = self._llama
        keep = 0
        if self.reuse_prefix:
            # Keep what the previous call evaluated, as generation does; at least the last
            # token is evaluated again so its logits are fresh.
            for a, b in zip(llama.input_ids[: llama.n_tokens], tokens[:-1], strict=False):
                if a != b:
                    break
                keep += 1
        if keep:
            llama.n_tokens = keep
        else:
            llama.reset()
        llama.eval(tokens[keep:])
        pointer = llama_cpp.llama_get_logits_ith(llama.ctx, -1)
        return np.ctypeslib.as_array(pointer, shape=(llama.n_vocab(),)).astype(np.float64)

    def _first_tokens(self, choice: str) -> set[int]:
        ids = set()
        for spelling in {choice.strip(), choice.strip().lower(), choice.strip().capitalize()}:
            if spelling:
                pieces = self._llama.tokenize(spelling.encode("utf-8"), add_bos=False,
                                              special=False)
                if pieces:
                    ids.add(int(pieces[0]))
        return ids

    def __repr__(self) -> str:
        return f"LlamaCppLLM({str(self.model_path)!r}, n_ctx={self.n_ctx})"
