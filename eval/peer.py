"""The peer: what a user would assemble from the same packages, run beside DEERIn in the eval.

LlamaIndex's ``CitationQueryEngine`` — the recipe its documentation gives for answers with
numbered citations — over DEERIn's own clips, embedded by the same embedder and answered by the
same LLM, so the comparison isolates what DEERIn does between retrieval and the reply (fusion,
rerank, windows, the choice of evidence, the checks). LlamaIndex has no refusal of its own: an
answer that says the sources do not help, or cites nothing, counts as refused.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eval.llama import llama_embedding, llama_llm

if TYPE_CHECKING:
    from indexing.protocols import LLM, Embedder
    from indexing.types import Clip

ENGINE = "llama_index.core CitationQueryEngine (top 3 clips, same embedder and LLM)"
TOP_K = 3
MAX_TOKENS = 200
_MARKER = re.compile(r"\[(\d+)\]")
# The engine's own wording when no source helps (its prompt asks it to "indicate that").
_NO_HELP = re.compile(r"\b(?:none of the (?:provided )?sources|sources? (?:do|does) not|"
                      r"not (?:mentioned|provided|stated|found)|no information|cannot (?:be )?"
                      r"(?:answer|determine|find))", re.IGNORECASE)


@dataclass(frozen=True)
class PeerAnswer:
    """The peer's reply: its text, whether it amounts to a refusal, the clips its markers
    cite, the clips it was given, and the seconds it took."""

    text: str
    refused: bool
    cited: tuple[Clip, ...]
    retrieved: tuple[tuple[Clip, float], ...]
    seconds: float


class CitationPeer:
    """LlamaIndex's citation engine over a list of clips."""

    def __init__(self, clips: Sequence[Clip], embedder: Embedder, llm: LLM) -> None:
        from llama_index.core import VectorStoreIndex
        from llama_index.core.query_engine import CitationQueryEngine
        from llama_index.core.schema import TextNode

        self.clips = list(clips)
        keys = ["clip"]
        nodes = [TextNode(text=c.text, id_=f"clip-{i}", metadata={"clip": i},
                          excluded_embed_metadata_keys=keys, excluded_llm_metadata_keys=keys)
                 for i, c in enumerate(self.clips) if c.text.strip()]
        index = VectorStoreIndex(nodes, embed_model=llama_embedding(embedder))
        self.engine = CitationQueryEngine.from_args(index, llm=llama_llm(llm, MAX_TOKENS),
                                                    similarity_top_k=TOP_K)

    def ask(self, question: str) -> PeerAnswer:
        """The engine's answer to ``question``, with the clips its ``[n]`` markers name."""
        t = time.perf_counter()
        response = self.engine.query(question)
        seconds = time.perf_counter() - t
        text = str(response).strip()
        sources = [self.clips[int(n.node.metadata["clip"])] for n in response.source_nodes]
        cited = []
        for m in _MARKER.finditer(text):
            i = int(m.group(1)) - 1
            if 0 <= i < len(sources) and sources[i] not in cited:
                cited.append(sources[i])
        given = tuple((self.clips[int(n.node.metadata["clip"])], float(n.score or 0.0))
                      for n in response.source_nodes)
        refused = not cited or bool(_NO_HELP.search(text))
        return PeerAnswer(text, refused, tuple(cited), given, seconds)
