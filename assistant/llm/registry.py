"""From a spec string to a loaded backend: one registry of backends, name → factory.

Specs (``--llm`` and ``DEERIN_LLM``)::

    tiny | fast | default             a tier of the shipped GGUF models (weights.TIERS)
    llamacpp                          the default tier
    llamacpp:TIER | llamacpp:PATH.gguf | PATH.gguf
    ollama                            ollama:$DEERIN_OLLAMA_MODEL, else ollama:llama3.2
    ollama:MODEL                      a model pulled on the Ollama server ($OLLAMA_HOST)
    NAME[:TARGET]                     any backend added with register_backend

The registry works like PySceneDetect's detector registry or simonw/llm's model plugins: a
backend is a factory registered under a name, and callers only ever hand over a spec. A
malformed or unknown spec raises :class:`LLMUsageError`; a model that cannot be had here
raises :class:`LLMUnavailable`. Nothing is imported or loaded until :func:`load_llm` runs.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from assistant.llm.base import LLM, LLMUnavailable, LLMUsageError
from config import Config


class LLMSpec(NamedTuple):
    """A parsed spec: the backend's registered name and its target (tier, path, model name)."""

    backend: str
    target: str | None


@dataclass(frozen=True)
class LoadOptions:
    """What :func:`load_llm` passes to a backend factory besides the target."""

    env: Mapping[str, str]
    n_ctx: int = 4096
    threads: int | None = None
    prefix_cache: bool = True
    check: bool = True
    parallel: int = 1  # requests a llama.cpp model decodes at once (> 1: continuous batching)
    shared_passes: bool = False  # batched sequences share one forward pass (else: exact)


@dataclass(frozen=True)
class Backend:
    """A registered backend.

    ``resolve(target, options)`` returns the canonical target (an absolute path, a model name)
    and raises :class:`LLMUnavailable` when it cannot be had; two specs that resolve to the same
    target share one loaded model in an :class:`LLMCache`. ``create(canonical, options)``
    builds the backend.
    """

    name: str
    create: Callable[[str, LoadOptions], LLM]
    resolve: Callable[[str | None, LoadOptions], str]
    syntax: str  # how to write a spec for it, for error messages


class BackendRegistry:
    """Backends by name. :data:`BACKENDS` is the process-wide one :func:`load_llm` uses."""

    def __init__(self) -> None:
        self._backends: dict[str, Backend] = {}
        self._lock = threading.Lock()

    def register(self, name: str, factory: Callable[[str, LoadOptions], LLM], *,
                 resolve: Callable[[str | None, LoadOptions], str] | None = None,
                 syntax: str = "") -> None:
        """Add (or replace) the backend called ``name``; see :class:`Backend`.

        Without ``resolve`` the target is used as written and must be given.
        """
        key = name.strip().lower()
        if not key or ":" in key:
            raise ValueError(f"a backend name needs letters and no colon: {name!r}")
        backend = Backend(key, factory, resolve or _target_as_is(key),
                          syntax or f"{key}:TARGET")
        with self._lock:
            self._backends[key] = backend

    def get(self, name: str) -> Backend | None:
        """The backend called ``name``, if registered."""
        with self._lock:
            return self._backends.get(name.strip().lower())

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        with self._lock:
            return tuple(self._backends)

    def syntax(self) -> str:
        """Every accepted spec form, for a usage message."""
        from weights import tier_names

        with self._lock:
            forms = [b.syntax for b in self._backends.values()]
        return ", ".join([*tier_names(), *forms])


def _target_as_is(name: str) -> Callable[[str | None, LoadOptions], str]:
    def resolve(target: str | None, options: LoadOptions) -> str:
        if not target:
            raise LLMUsageError(f"LLM spec {name!r} needs a target: {name}:TARGET")
        return target

    return resolve


# --- the shipped backends ----------------------------------------------------------------------


def _resolve_gguf(target: str | None, options: LoadOptions) -> str:
    """A tier name → its assembled GGUF; anything else → the GGUF path it names."""
    from weights import ModelMissing, model_path, tier

    chosen = tier(target or "default")
    if chosen is not None:
        try:
            return str(model_path(chosen.model, env=options.env))
        except ModelMissing as e:
            raise LLMUnavailable(f"tier {chosen.name}: {e}") from e
    path = Path(target or "").expanduser()
    if not path.is_file():
        raise LLMUnavailable(f"GGUF model file not found: {path}")
    return str(path.resolve())


def _create_llamacpp(path: str, options: LoadOptions) -> LLM:
    from assistant.llm.llamacpp import LlamaCppLLM

    if options.parallel > 1:
        from assistant.llm.batching import BatchedLlamaCppLLM

        return BatchedLlamaCppLLM(Path(path), n_ctx=options.n_ctx, threads=options.threads,
                                  prefix_cache=options.prefix_cache, parallel=options.parallel,
                                  exact=not options.shared_passes)
    return LlamaCppLLM(Path(path), n_ctx=options.n_ctx, threads=options.threads,
                       prefix_cache=options.prefix_cache)


def _resolve_ollama(target: str | None, options: LoadOptions) -> str:
    from assistant.llm.ollama import default_ollama_model, ollama_host

    model = (target or "").strip() or default_ollama_model(options.env)
    # The host is part of what a loaded backend is: a cache keeps one per server.
    return f"{ollama_host(options.env)} {model}"


def _create_ollama(canonical: str, options: LoadOptions) -> LLM:
    from assistant.llm.ollama import OllamaLLM

    host, _, model = canonical.partition(" ")
    llm = OllamaLLM(model, host=host, num_ctx=options.n_ctx)
    if options.check:
        llm.check()
    return llm


BACKENDS = BackendRegistry()
BACKENDS.register("llamacpp", _create_llamacpp, resolve=_resolve_gguf,
                  syntax="llamacpp[:TIER|:PATH.gguf], PATH.gguf")
BACKENDS.register("ollama", _create_ollama, resolve=_resolve_ollama, syntax="ollama[:MODEL]")


def register_backend(name: str, factory: Callable[[str, LoadOptions], LLM], *,
                     resolve: Callable[[str | None, LoadOptions], str] | None = None,
                     syntax: str = "") -> None:
    """Make ``NAME[:TARGET]`` specs build backends with ``factory`` (see
    :meth:`BackendRegistry.register`)."""
    BACKENDS.register(name, factory, resolve=resolve, syntax=syntax)


# --- specs ---------------------------------------------------------------------------------------


def default_llm_spec(env: Mapping[str, str] | None = None) -> str:
    """The spec to use when the user gave none: ``DEERIN_LLM`` if set, else the answering tier
    (:data:`weights.ANSWER_TIER`). The value is returned as is, for :func:`load_llm` to check."""
    from weights import ANSWER_TIER

    env = os.environ if env is None else env
    return Config.from_env(env)["models.llm"] or ANSWER_TIER


def parse_llm_spec(spec: str | None, env: Mapping[str, str] | None = None,
                   registry: BackendRegistry | None = None) -> LLMSpec:
    """Split a spec (see the module docstring) into backend and target, without loading.

    ``None`` or an empty spec means :func:`default_llm_spec` (``env``: default the process
    environment). A bare ``ollama`` keeps no target here (the model is chosen when loading).
    Raises :class:`LLMUsageError` for a spec that names no known tier, backend or GGUF file.
    """
    from weights import tier

    registry = registry or BACKENDS
    text = (spec or "").strip() or default_llm_spec(env)
    if tier(text) is not None:
        return LLMSpec("llamacpp", text.lower())
    name, sep, target = text.partition(":")
    backend = registry.get(name)
    if backend is not None and not sep:
        return LLMSpec(backend.name, "default" if backend.name == "llamacpp" else None)
    if backend is not None:
        if not target.strip():
            raise LLMUsageError(f"LLM spec {spec!r} names no {backend.name} model: "
                                f"use {backend.syntax}")
        return LLMSpec(backend.name, target.strip())
    if text.lower().endswith(".gguf"):
        return LLMSpec("llamacpp", text)
    raise LLMUsageError(f"unknown LLM spec {text!r}: use {registry.syntax()}")


# --- loading -------------------------------------------------------------------------------------


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
    prefix_cache: bool = True,
    check: bool = True,
    registry: BackendRegistry | None = None,
    parallel: int = 1,
    shared_passes: bool = False,
) -> LLM:
    """Build (or take from ``cache``) the backend a spec names (see :func:`parse_llm_spec`).

    ``env`` supplies ``DEERIN_LLM``, ``DEERIN_OLLAMA_MODEL``, ``OLLAMA_HOST`` and the model cache
    location (default: the process environment). ``n_ctx``, ``threads`` and ``prefix_cache`` go
    to llama.cpp (``prefix_cache``: evaluate each prompt's fixed part once; replies stay
    repeatable). With
    ``check`` an Ollama backend is probed now, so an unreachable server or an unpulled model
    fails here with one clear line rather than mid-answer. A split shipped model is assembled
    into the cache on first use (once; see :mod:`weights.assemble`). ``parallel`` > 1 makes a
    llama.cpp model answer that many requests at once by continuous batching
    (:class:`~assistant.llm.batching.BatchedLlamaCppLLM`: each reply's token in a pass of its
    own, greedy replies exactly as one at a time; with ``shared_passes`` all in one pass, which
    may flip near ties); an Ollama server batches by itself and ignores both.

    Raises :class:`LLMUsageError` for a bad spec and :class:`LLMUnavailable` when the model
    cannot be used here.
    """
    env = os.environ if env is None else env
    registry = registry or BACKENDS
    parsed = parse_llm_spec(spec, env, registry)
    backend = registry.get(parsed.backend)
    assert backend is not None  # parse_llm_spec only returns registered names
    if parallel < 1:
        raise LLMUsageError(f"parallel LLM requests must be at least 1, not {parallel}")
    options = LoadOptions(env=env, n_ctx=n_ctx, threads=threads, prefix_cache=prefix_cache,
                          check=check, parallel=parallel, shared_passes=shared_passes)
    canonical = backend.resolve(parsed.target, options)
    key: tuple[object, ...] = (backend.name, canonical, n_ctx, threads, prefix_cache)
    if backend.name == "llamacpp" and parallel > 1:
        key = (*key, parallel, shared_passes)

    def factory() -> LLM:
        return backend.create(canonical, options)

    return factory() if cache is None else cache.get_or_create(key, factory)
