"""Our models as LlamaIndex components, for the two LlamaIndex pipelines the eval runs beside
DEERIn: the dense baseline (:mod:`eval.runner`) and the citation peer (:mod:`eval.peer`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from indexing.protocols import complete

if TYPE_CHECKING:
    from indexing.protocols import LLM, Embedder


def llama_embedding(embedder: Embedder) -> Any:
    """Wrap our embedder as a LlamaIndex ``BaseEmbedding`` (a query embeds as a query)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.bridge.pydantic import PrivateAttr

    class _Adapter(BaseEmbedding):
        _embedder: Any = PrivateAttr()

        def __init__(self, inner: Embedder) -> None:
            super().__init__(model_name=inner.model_id, embed_batch_size=64)
            self._embedder = inner

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._embedder.embed_query(query).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._embedder.embed_texts([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._embedder.embed_texts(texts).tolist()

    return _Adapter(embedder)


def llama_llm(llm: LLM, max_tokens: int = 256) -> Any:
    """Our LLM as a LlamaIndex ``CustomLLM``: each completion prompt is one user message."""
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback

    class _Adapter(CustomLLM):
        inner: Any = None

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=4096, num_output=max_tokens,
                               model_name=str(getattr(self.inner, "model_id", "llm")))

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False,
                     **kwargs: Any) -> CompletionResponse:
            reply = complete(self.inner, [{"role": "user", "content": prompt}],
                             max_tokens=max_tokens, temperature=0.0)
            return CompletionResponse(text=reply)

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False,
                            **kwargs: Any) -> Any:
            text = ""
            for delta in self.inner.stream([{"role": "user", "content": prompt}],
                                           max_tokens=max_tokens, temperature=0.0):
                text += delta
                yield CompletionResponse(text=text, delta=delta)

    return _Adapter(inner=llm)
