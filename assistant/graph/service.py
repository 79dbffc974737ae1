"""Wiring: give an :class:`~assistant.answer.Assistant` a graph mode, and ask in that mode."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from assistant.answer import Assistant, Event
from assistant.graph.global_answer import answer_global
from assistant.graph.index import GraphIndex
from assistant.graph.modes import check_mode
from assistant.graph.retriever import GraphRetriever
from indexing.graph.settings import GraphSettings
from indexing.graph.types import Entity


def with_mode(assistant: Assistant, mode: str,
              settings: GraphSettings | None = None) -> Assistant:
    """``assistant`` retrieving in ``mode`` (``naive`` leaves it as it is). Loads the graph;
    raises :class:`~indexing.graph.store.GraphError` when its store cannot be used and
    ValueError for an unknown mode."""
    mode = check_mode(mode)
    if mode == "naive":
        return assistant
    base = assistant.retriever
    graph = GraphIndex.open(base.store, base.embedder, settings or GraphSettings.from_env())
    assistant.retriever = GraphRetriever(base, graph, mode)
    return assistant


def stream(assistant: Assistant, question: str,
           history: Sequence[tuple[str, str]] = ()) -> Iterator[Event]:
    """:meth:`Assistant.stream`, except that a question in (or resolved to) ``global`` mode is
    answered from community reports (:func:`answer_global`)."""
    r = assistant.retriever
    if isinstance(r, GraphRetriever) and not history and r.mode in ("global", "auto"):
        _, mode = r.resolve(question)
        if mode == "global":
            answer = answer_global(question, r.graph, r.embedder, assistant.llm)
            yield Event("retrieved", hits=answer.retrieved[: assistant.k])
            yield Event("answer", answer=answer)
            return
    yield from assistant.stream(question, history)


def entities_used(assistant: Assistant, clip_ids: Sequence[str]) -> list[Entity]:
    """The graph entities the last question linked that appear in ``clip_ids`` (the clips an
    answer cites), or every linked one when none does; [] outside the graph modes."""
    r = assistant.retriever
    if not isinstance(r, GraphRetriever):
        return []
    linked = [e for lk in r.last_links if (e := r.graph.kg.entity(lk.key)) is not None]
    cited = set(clip_ids)
    used = [e for e in linked if any(m.clip_id in cited for m in e.mentions)]
    return used or linked
