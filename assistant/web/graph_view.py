"""The knowledge graph in the chat: the entities an answer used, where an entity appears, and
questions suggested by the collection's biggest communities.

Kept apart from the Chainlit handlers (:mod:`assistant.web.graph_chat` is the glue) so it can be
read and tested without importing Chainlit. The graph is opened lazily from the index the chat
serves and reopened when the collection changes; an index without a usable graph simply shows no
entities (the chat never fails over the graph).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.web.render import _cell, span_label
from indexing.graph.types import CONCEPT, CONCEPTS

if TYPE_CHECKING:
    from assistant.graph.index import GraphIndex
    from assistant.web.chat_service import ChatService
    from indexing.graph.types import Entity
    from indexing.types import Clip

log = logging.getLogger("deerin.chat")

MAX_ENTITIES = 6  # entities shown under an answer
MAX_APPEARANCES = 8  # playable appearances listed for an entity
MIN_COMMUNITY = 3  # members a community needs before it suggests a question


@dataclass(frozen=True, slots=True)
class Appearance:
    """One clip where an entity appears, with the seconds to play (its words when timed)."""

    clip: Clip
    start: float
    end: float
    surface: str


class ChatGraph:
    """The graph of the index a :class:`~assistant.web.chat_service.ChatService` serves.
    Thread-safe; every method returns nothing (empty lists, None) when there is no graph."""

    def __init__(self, service: ChatService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._signature: object = None
        self._graph: GraphIndex | None = None
        self._by_clip: dict[str, list[Entity]] = {}

    def graph(self) -> GraphIndex | None:
        """The current index's graph (reopened after the collection changed), or None."""
        from assistant.graph.index import GraphIndex
        from indexing.graph.store import GraphError

        signature = self.service.snapshot().signature
        with self._lock:
            if signature != self._signature:
                self._signature, self._graph, self._by_clip = signature, None, {}
                try:
                    r = self.service.retriever()
                    graph = GraphIndex.open(r.store, r.embedder)
                except (GraphError, OSError, ValueError) as exc:
                    log.warning("no knowledge graph in the chat: %s", exc)
                    return None
                if len(graph.kg):
                    self._graph = graph
                    for e in graph.kg.entities():
                        for clip_id in {m.clip_id for m in e.mentions}:
                            self._by_clip.setdefault(clip_id, []).append(e)
            return self._graph

    def entities_used(self, question: str, clip_ids: list[str],
                      limit: int = MAX_ENTITIES) -> list[Entity]:
        """The entities of the cited ``clip_ids``: those the question names first, then named
        entities before concepts, the rarer (more specific) first."""
        graph = self.graph()
        if graph is None or not clip_ids:
            return []
        linked = {lk.key for lk in graph.link(question)} if question.strip() else set()
        found = {e.key: e for c in clip_ids for e in self._by_clip.get(c, [])}
        ranked = sorted(found.values(), key=lambda e: (e.key not in linked,
                                                       e.label in CONCEPTS, e.clips, e.name))
        return ranked[:limit]

    def appearances(self, key: str, limit: int = MAX_APPEARANCES
                    ) -> tuple[Entity | None, list[Appearance]]:
        """Entity ``key`` and the clips where it appears, in file and time order."""
        graph = self.graph()
        entity = graph.kg.entity(key) if graph is not None else None
        if graph is None or entity is None:
            return None, []
        seen: set[str] = set()
        out = []
        for m in sorted(entity.mentions, key=lambda m: (m.media_path, m.start)):
            clip = graph.clip(m.clip_id)
            if clip is None or m.clip_id in seen:
                continue
            seen.add(m.clip_id)
            # The words themselves when timed, else the clip: a player opens on the name.
            start, end = ((m.said_start, m.said_end) if m.said_end > m.said_start
                          else (m.start, m.end))
            out.append(Appearance(clip, start, end, m.surface))
        return entity, out[:limit]

    def community_questions(self, limit: int = 2) -> list[tuple[str, str]]:
        """(label, question) pairs from the biggest top-level communities: where their most
        mentioned entity appears."""
        graph = self.graph()
        if graph is None:
            return []
        top = [c for c in graph.communities() if c.level == 0 and len(c.members) >= MIN_COMMUNITY]
        top.sort(key=lambda c: (-len(c.members), c.id))
        out: list[tuple[str, str]] = []
        for community in top:
            entity = graph.kg.entity(community.members[0])
            if entity is None or any(entity.name in q for _, q in out):
                continue
            out.append((f"Where does {entity.name} appear?",
                        f"Which recordings mention {entity.name}?"))
            if len(out) == limit:
                break
        return out


def entities_markdown(entities: list[Entity]) -> str:
    """One line per entity: its name, kind and how widely it appears."""
    lines = []
    for e in entities:
        kind = "concept" if e.label == CONCEPT else e.label.lower()
        lines.append(f"- **{_cell(e.name)}** ({kind}): {e.clips} clip(s) in "
                     f"{len(e.files)} file(s)")
    return "\n".join(lines)


def appearances_markdown(entity: Entity, shown: list[Appearance]) -> str:
    """Where ``entity`` appears, one numbered line per playable appearance."""
    head = (f"**{_cell(entity.name)}** appears in {entity.clips} clip(s) of "
            f"{len(entity.files)} file(s)")
    if len(shown) < entity.clips:
        head += f"; the first {len(shown)}:"
    lines = [head, ""]
    for i, a in enumerate(shown, 1):
        lines.append(f"- **[{i}]** {_cell(span_label(a.clip.media_path, a.start, a.end))} — "
                     f"“{_cell(a.surface)}”")
    return "\n".join(lines)
