"""The embedded backend: a GGUF model run in-process by llama.cpp (``llama_cpp``).

The shipped models are listed in :mod:`weights` (tiers ``tiny``, ``fast``, ``default``);
any other GGUF file works too. ``llama_cpp`` is imported when a model is first built.
"""

from __future__ import annotations

import ctypes
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from assistant.llm.base import LLMError, LLMUnavailable, Message

# Fixed prompt parts shorter than this are not worth a cached state; a few are kept (the answer,
# judge and rewrite prompts each have their own).
_MIN_PREFIX = 16
_MAX_PREFIXES = 4


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
        prefix_cache: bool = True,
    ) -> None:
        """Load ``model_path``; raise :class:`LLMUnavailable` if it cannot be loaded.

        ``threads`` defaults to one per core. ``seed`` is applied to every call so the same
        messages give the same reply. ``repeat_penalty`` (1.0 = off) keeps tiny models from
        looping on a phrase.

        ``prefix_cache`` keeps the evaluated state of each prompt's fixed part (every message
        but the last: the system prompt and examples) and evaluates only the rest: on two cores
        prompt evaluation is most of the time to the first token. The fixed part is always
        evaluated on its own, from an empty context, so a reply depends only on its messages
        and not on what was asked before (reusing whatever the previous call left, as llama.cpp
        does by itself, batches the tokens differently from call to call, and greedy decoding
        then flips at near ties, which makes answers and evals unrepeatable).
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
        self.prefix_cache = prefix_cache
        self._prefixes: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self.n_threads = threads or max(1, os.cpu_count() or 1)
        try:
            # chat_format=None lets llama_cpp build the chat template stored in the GGUF.
            self._llama: Any = Llama(
                model_path=str(self.model_path),
                n_ctx=self._own_context_size(),
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as e:
            raise LLMUnavailable(f"cannot load GGUF model {self.model_path}: {e}") from e
        self._lock = threading.Lock()
        self._formatters: dict[str, Any] = {}  # the GGUF's chat template, built on first use

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
            try:
                tokens, stops = self._prompt(messages)
                self._check_fits(tokens)
                self._start(messages, tokens)
                chunks = self._llama.create_completion(
                    prompt=tokens,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=[*stops, *stop] or None,
                    seed=self.seed,
                    repeat_penalty=self.repeat_penalty,
                    stream=True,
                )
                for chunk in chunks:
                    text = chunk["choices"][0].get("text")
                    if text:
                        yield str(text)
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
            tokens, _ = self._prompt(messages)
            self._check_fits(tokens)
            self._start(messages, tokens)
            llama = self._llama
            llama.eval(tokens[llama.n_tokens:])
            logits = self._last_logits()
            first_ids = [self._first_tokens(choice) for choice in choices]
        shifted = logits - logits.max()
        logprobs = shifted - np.log(np.exp(shifted).sum())
        return [float(np.logaddexp.reduce(logprobs[sorted(ids)])) if ids else -math.inf
                for ids in first_ids]

    # -- helpers (called with the lock held) -------------------------------------------------

    def _own_context_size(self) -> int:
        """The context ``llama_cpp.Llama`` allocates: the whole window, as every call runs
        in it (a subclass that decodes in a context of its own needs less)."""
        return self.n_ctx

    def _formatter_for(self, generation_prompt: bool) -> Any:
        key = "gen" if generation_prompt else "plain"
        if key not in self._formatters:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self._llama.metadata.get("tokenizer.chat_template")
            if not template:
                raise LLMError(f"{self.model_id} has no chat template in its GGUF file")
            def text_of(token: int) -> str:
                return self._llama.detokenize([token], special=True).decode(
                    "utf-8", errors="ignore") if token >= 0 else ""

            self._formatters[key] = Jinja2ChatFormatter(
                template=template, eos_token=text_of(self._llama.token_eos()),
                bos_token=text_of(self._llama.token_bos()),
                add_generation_prompt=generation_prompt)
        return self._formatters[key]

    def _tokens(self, messages: list[Message], generation_prompt: bool) -> tuple[list[int],
                                                                               list[str]]:
        result = self._formatter_for(generation_prompt)(messages=messages)
        tokens = self._llama.tokenize(result.prompt.encode("utf-8"),
                                      add_bos=not result.added_special, special=True)
        stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop \
            else []
        return list(tokens), [str(x) for x in stop if x]

    def _prompt(self, messages: list[Message]) -> tuple[list[int], list[str]]:
        """The prompt's tokens (the GGUF's chat template, ready for the reply) and its stops."""
        return self._tokens(messages, generation_prompt=True)

    def _check_fits(self, tokens: list[int]) -> None:
        if len(tokens) >= self.n_ctx:
            raise LLMError(f"{self.model_id}: the prompt ({len(tokens)} tokens) does not fit in "
                           f"the context window ({self.n_ctx})")

    def _start(self, messages: list[Message], tokens: list[int]) -> None:
        """Bring the context to the state of the prompt's fixed part evaluated alone (from the
        cache when it was seen before), or to empty; the caller evaluates the rest."""
        import llama_cpp

        llama = self._llama
        llama.reset()
        if not self.prefix_cache or len(messages) < 2:
            return
        prefix = self._tokens(messages[:-1], generation_prompt=False)[0]
        # A template may render the fixed part differently once more messages follow; only a
        # true prefix with something after it can be cached.
        if len(prefix) < _MIN_PREFIX or len(prefix) >= len(tokens) or \
                tokens[: len(prefix)] != prefix:
            return
        key = tuple(prefix)
        state = self._prefixes.get(key)
        if state is None:
            llama.eval(prefix)
            size = llama_cpp.llama_state_get_size(llama.ctx)
            buf = (ctypes.c_uint8 * size)()
            n = llama_cpp.llama_state_get_data(llama.ctx, buf, size)
            self._prefixes[key] = bytes(buf)[:n]
            while len(self._prefixes) > _MAX_PREFIXES:
                self._prefixes.popitem(last=False)
            return
        self._prefixes.move_to_end(key)
        data = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        llama_cpp.llama_state_set_data(llama.ctx, data, len(state))
        llama.input_ids[: len(prefix)] = prefix
        llama.n_tokens = len(prefix)

    def _last_logits(self) -> np.ndarray:
        import llama_cpp

        llama = self._llama
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
