"""The assistant's own settings: which LLM answers, which model reranks, how many clips.

The indexing layer has its own :class:`indexing.settings.Settings` and knows nothing of these.
Nothing is read at import time: callers build :class:`AssistantSettings` explicitly, from the
environment (:meth:`AssistantSettings.from_env`) or with plain arguments in tests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

RERANK_OFF = "off"
RERANK_DEFAULT = "default"
DEFAULT_RERANK_CONTEXTS = 2
"""Sessions that rerank at once when ``DEERIN_RERANK_CONTEXTS`` says nothing (README: measured)."""


@dataclass(frozen=True)
class AssistantSettings:
    """How questions are answered.

    ``llm`` is an LLM spec (see :func:`assistant.llm.parse_llm_spec`; empty = the answering
    tier of :mod:`weights`). ``rerank`` is ``default`` (query likelihood under the rerank tier
    of :mod:`weights`), ``off``, or the path of another GGUF model. ``k`` clips are given to the
    LLM, which writes at most ``max_tokens`` tokens. ``parallel`` is how many requests the
    chat's embedded llama.cpp model decodes at once (continuous batching; 1 = one at a time);
    ``shared_passes`` lets them share one forward pass per step (else each token has its own:
    exact greedy replies). ``rerank_contexts`` is how many sessions rerank at once (a llama.cpp
    context each, opened when needed; 1 = in turn).
    """

    llm: str = ""
    rerank: str = RERANK_DEFAULT
    k: int = 3
    max_tokens: int = 160
    parallel: int = 4
    shared_passes: bool = False
    rerank_contexts: int = DEFAULT_RERANK_CONTEXTS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, /,
                 **overrides: object) -> AssistantSettings:
        """Read ``DEERIN_LLM``, ``DEERIN_RERANK``, ``DEERIN_LLM_PARALLEL``,
        ``DEERIN_LLM_BATCH`` (``exact`` or ``shared``) and ``DEERIN_RERANK_CONTEXTS`` from
        ``env`` (default: the process environment), then apply the non-None ``overrides``.
        Raises ValueError naming the variable when ``DEERIN_LLM_PARALLEL`` is not a whole number
        from 1 to 64, ``DEERIN_LLM_BATCH`` is neither, or ``DEERIN_RERANK_CONTEXTS`` is not a
        whole number from 1 to 16."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if env.get("DEERIN_LLM", "").strip():
            values["llm"] = env["DEERIN_LLM"].strip()
        if env.get("DEERIN_RERANK", "").strip():
            values["rerank"] = env["DEERIN_RERANK"].strip()
        parallel = _whole_number(env, "DEERIN_LLM_PARALLEL", 64, "parallel LLM requests")
        if parallel is not None:
            values["parallel"] = parallel
        batch = env.get("DEERIN_LLM_BATCH", "").strip().lower()
        if batch:
            if batch not in {"exact", "shared"}:
                raise ValueError(f"DEERIN_LLM_BATCH={batch!r}: use exact (each reply's token "
                                 "in a pass of its own) or shared (one pass for all)")
            values["shared_passes"] = batch == "shared"
        contexts = _whole_number(env, "DEERIN_RERANK_CONTEXTS", 16,
                                 "sessions that rerank at once")
        if contexts is not None:
            values["rerank_contexts"] = contexts
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)  # type: ignore[arg-type]


def _whole_number(env: Mapping[str, str], name: str, high: int, what: str) -> int | None:
    """``env[name]`` as a whole number from 1 to ``high``; None when unset or blank."""
    value = env.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= high:
        raise ValueError(f"{name}={value!r}: give a whole number of {what} from 1 to {high}")
    return int(value)
