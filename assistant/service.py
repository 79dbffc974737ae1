"""Wiring: build a ready :class:`~assistant.answer.Assistant` from settings and an LLM spec."""

from __future__ import annotations

from assistant.answer import Assistant
from assistant.llm import LLMCache, load_llm
from assistant.retrieval import Retriever
from indexing.settings import Settings
from indexing.stores.lance import LanceStore


def build_assistant(settings: Settings, llm_spec: str | None = None, *, k: int = 3,
                    cache: LLMCache | None = None, with_llm: bool = True) -> Assistant:
    """Open the index (it must exist) and the LLM; raise StoreError/LLMUnavailable clearly."""
    store = LanceStore(settings.db_dir, create=False)
    # Prefix reuse: the system prompt's evaluation is kept between questions (faster first
    # token); replies then depend slightly on the previous question, acceptable for chat.
    llm = load_llm(llm_spec, cache=cache, reuse_prefix=True) if with_llm else None
    return Assistant(Retriever(store, settings), llm, k=k)
