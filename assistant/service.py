"""Wiring: build a ready :class:`~assistant.answer.Assistant` from settings and an LLM spec."""

from __future__ import annotations

from assistant.answer import Assistant
from assistant.llm import LLMCache, load_llm, parse_llm_spec
from assistant.rerank import RerankPolicy
from assistant.retrieval import Retriever
from assistant.settings import AssistantSettings
from indexing.settings import Settings
from indexing.stores.lance import open_reader


def build_assistant(settings: Settings, llm_spec: str | None = None, *, k: int | None = None,
                    cache: LLMCache | None = None, with_llm: bool = True,
                    options: AssistantSettings | None = None) -> Assistant:
    """Open the index (it must exist) and the LLM; raise StoreError/LLMError clearly
    (:class:`~assistant.llm.LLMUsageError` for a bad spec, before the index is opened).

    ``options`` default to :meth:`AssistantSettings.from_env` (``DEERIN_LLM``,
    ``DEERIN_RERANK``); ``llm_spec`` and ``k``, when given, win over them.
    """
    options = options if options is not None else AssistantSettings.from_env()
    spec = llm_spec or options.llm or None
    if with_llm:
        parse_llm_spec(spec)  # a typo in the spec is reported before anything is opened
    store = open_reader(settings.db_dir)
    # Prefix reuse: the system prompt's evaluation is kept between questions (faster first
    # token); replies then depend slightly on the previous question, acceptable for chat.
    llm = load_llm(spec, cache=cache) if with_llm else None
    retriever = Retriever(store, settings, reranker=options.rerank,
                          policy=RerankPolicy(depth=options.rerank_depth))
    return Assistant(retriever, llm,
                     k=k or options.k, max_tokens=options.max_tokens)
