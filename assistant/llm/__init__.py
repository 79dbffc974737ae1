"""LLM backends behind one small interface (see :mod:`assistant.llm.base`).

Pick a backend with a spec string through :func:`load_llm`; the shipped backends are the
embedded llama.cpp (:class:`LlamaCppLLM`, the GGUF tiers of :mod:`weights`) and Ollama
(:class:`OllamaLLM`). Importing this package loads no model and no heavy library.
"""

from assistant.llm.base import (
    LLM,
    ChoiceScorer,
    LLMError,
    LLMUnavailable,
    LLMUsageError,
    Message,
    complete,
)
from assistant.llm.llamacpp import LlamaCppLLM
from assistant.llm.ollama import (
    DEFAULT_OLLAMA_HOST,
    DEFAULT_OLLAMA_MODEL,
    OllamaLLM,
    default_ollama_model,
    list_models,
    ollama_host,
)
from assistant.llm.registry import (
    BACKENDS,
    Backend,
    BackendRegistry,
    LLMCache,
    LLMSpec,
    LoadOptions,
    default_llm_spec,
    load_llm,
    parse_llm_spec,
    register_backend,
)

__all__ = [
    "BACKENDS", "DEFAULT_OLLAMA_HOST", "DEFAULT_OLLAMA_MODEL", "LLM", "Backend",
    "BackendRegistry", "ChoiceScorer", "LLMCache", "LLMError", "LLMSpec", "LLMUnavailable",
    "LLMUsageError", "LlamaCppLLM", "LoadOptions", "Message", "OllamaLLM", "complete",
    "default_llm_spec", "default_ollama_model", "list_models", "load_llm", "ollama_host",
    "parse_llm_spec", "register_backend",
]
