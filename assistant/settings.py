"""The assistant's own settings: which LLM answers, which model reranks, how many clips.

The indexing layer has its own :class:`indexing.settings.Settings` and knows nothing of these.
Nothing is read at import time: callers build :class:`AssistantSettings` explicitly, from the
configuration (:meth:`AssistantSettings.from_config`) or with plain arguments in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from assistant.calibration import RERANK_DEPTH
from config import Config

RERANK_OFF = "off"
RERANK_DEFAULT = "default"
DEFAULT_RERANK_CONTEXTS = 2
"""Sessions that rerank at once by default (the setting ``llm.rerank_contexts``; measured:
see the performance docs)."""


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
    context each, opened when needed; 1 = in turn); ``rerank_depth`` how many first-stage
    candidates the rerank rescores.
    """

    llm: str = ""
    rerank: str = RERANK_DEFAULT
    k: int = 3
    max_tokens: int = 160
    parallel: int = 4
    shared_passes: bool = False
    rerank_contexts: int = DEFAULT_RERANK_CONTEXTS
    rerank_depth: int = RERANK_DEPTH

    @classmethod
    def from_config(cls, config: Config, /, **overrides: object) -> AssistantSettings:
        """Settings from the effective configuration (:func:`config.load_config`), then the
        non-None ``overrides``."""
        values: dict[str, object] = {
            "llm": config["models.llm"],
            "rerank": config["models.rerank"],
            "parallel": config["llm.parallel"],
            "shared_passes": config["llm.batch"] == "shared",
            "rerank_contexts": config["llm.rerank_contexts"],
            "rerank_depth": config["llm.rerank_depth"],
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, /,
                 **overrides: object) -> AssistantSettings:
        """Settings from ``DEERIN_*`` variables alone (the process environment when ``env`` is
        omitted), then the non-None ``overrides``. Raises :class:`config.ConfigError` (a
        ValueError) naming the variable whose value does not parse."""
        return cls.from_config(Config.from_env(env), **overrides)
