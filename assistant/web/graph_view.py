"""The knowledge graph in the chat: the entities an answer used, where an entity appears,
questions suggested by the collection's biggest communities, and the whole list of moments a
question asking for every occurrence of something is answered with
(:mod:`assistant.web.evidence_view`).

Kept apart from the Chainlit handlers (:mod:`assistant.web.graph_chat` is the glue) so it can be
read and tested without importing Chainlit. The graph is opened lazily from the index the chat
serves and reopened when the collection changes; an index without a usable graph simply shows no
entities (the chat never fails over the graph).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.graph.evidence import PAGE
from assistant.web.evidence_view import EvidencePage, evidence_page
from assistant.web.render import _cell, span_label
from indexing.graph.types import CONCEPT, CONCEPTS

if TYPE_CHECKING:
    from assistant.graph.evidence import EvidenceList
    from assistant.graph.index import GraphIndex
    from assistant.web.extensions import ChatHost
    from indexing.graph.types import Entity
    from indexing.types import Clip

log = logging.getLogger("deerin.chat")

MAX_ENTITIES = 6  # entities shown under an answer
MAX_APPEARANCES = 8  # playable appearances listed for an entity
MIN_COMMUNITY = 3  # members a community needs before it suggests a question
KEPT_LISTS = 32  # evidence lists kept per graph: the "More" pages of recent questions


@dataclass(frozen=True, slots=True)
class Appearance:
    """One clip where an entity appears, with the seconds to play (its words when timed)."""

    clip: Clip
    start: float
    end: float
    surface: str


class ChatGraph:
    """The graph of the index a :class:`~assistant.web.chat_service.ChatService` serves.
    Thread-safe; every method returns nothing (empty lists, None) when there is no graph.

    ``env`` is where the settings ``graph.evidence_lists`` and ``graph.enabled`` are read, per
    question (default: the process environment, which ``deerin chat`` fills from the
    configuration files)."""

    def __init__(self, service: ChatHost, env: Mapping[str, str] | None = None) -> None:
        self.service = service
        self.env = env
        self._lock = threading.Lock()
        self._signature: object = None
        self._graph: GraphIndex | None = None
        self._by_clip: dict[str, list[Entity]] = {}
        # Evidence lists: the graph linked by name only (a list holds what was named, so
        # entity names are never embedded for it), the parser's model, recent lists.
        self._evidence_lock = threading.Lock()
        self._by_name: GraphIndex | None = None
        self._nlp: Any = None
        self._no_parser = False
        self._lists: OrderedDict[str, EvidenceList | None] = OrderedDict()

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

    def evidence(self, question: str) -> EvidenceList | None:
        """The graph's list of every moment (or recording) ``question`` asks for, as
        :func:`assistant.graph.evidence.find_evidence` finds it; ``None`` when it asks for no
        such list, names nothing the graph knows, the setting ``graph.evidence_lists`` (or
        ``graph.enabled``) is off, or there is no usable graph. Never raises: a failure is
        logged and the question gets the ordinary answer."""
        from assistant.graph.evidence import asks_for_occurrences
        from indexing.graph.extract import ExtractorUnavailable
        from indexing.stores.base import StoreError

        question = question.strip()
        try:
            if (not question or self._no_parser or not asks_for_occurrences(question)
                    or not evidence_lists_on(self.env)):
                return None
            graph = self.graph()
            return None if graph is None else self._find(graph, question)
        except StoreError:
            return None  # no index yet: the ordinary answer says how to make one
        except ExtractorUnavailable as exc:
            self._no_parser = True
            log.warning("no evidence lists in the chat: %s", exc)
        except Exception:
            log.exception("the evidence list of %r failed; answering as usual", question)
        return None

    def _find(self, graph: GraphIndex, question: str) -> EvidenceList | None:
        from assistant.graph.evidence import find_evidence
        from assistant.graph.index import GraphIndex
        from assistant.graph.intent import IntentParser
        from indexing.graph.extract import load_nlp

        with self._evidence_lock:
            if self._by_name is None or self._by_name.kg is not graph.kg:
                self._by_name = GraphIndex(graph.store, graph.kg, None)
                self._lists.clear()
            if question in self._lists:
                self._lists.move_to_end(question)
                return self._lists[question]
            if self._nlp is None:
                self._nlp = load_nlp()
            # A parser per question: its cache would otherwise grow for the server's life.
            found = find_evidence(self._by_name, question, IntentParser(self._nlp))
            self._lists[question] = found
            while len(self._lists) > KEPT_LISTS:
                self._lists.popitem(last=False)
            return found

    def evidence_page(self, question: str, number: int = 1,
                      size: int = PAGE) -> EvidencePage | None:
        """Page ``number`` of :meth:`evidence` for ``question``, each moment with its clip
        and the media route URL that plays it; ``None`` when there is no list. Never raises,
        like :meth:`evidence`."""
        found = self.evidence(question)
        if found is None:
            return None
        try:
            return evidence_page(question.strip(), found, max(1, number), self.clip,
                                 lambda clip, start, end: self.service.media_url(
                                     clip, start=start, end=end), size)
        except Exception:
            log.exception("page %d of the evidence list of %r failed", number, question)
            return None

    def clip(self, clip_id: str) -> Clip | None:
        """A clip the graph mentions, read from the index (``None`` when it is gone)."""
        graph = self._graph
        return graph.clip(clip_id) if graph is not None else None

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


_GRAPH_ATTRIBUTE = "_deerin_chat_graph"
_GRAPHS_LOCK = threading.Lock()


def chat_graph(service: ChatHost) -> ChatGraph:
    """The one :class:`ChatGraph` of ``service``, shared by the chat's handlers and the HTTP
    API (one graph in memory per collection). Kept on the service itself, so it lives and goes
    with it."""
    with _GRAPHS_LOCK:
        graph = getattr(service, _GRAPH_ATTRIBUTE, None)
        if not isinstance(graph, ChatGraph) or graph.service is not service:
            graph = ChatGraph(service)
            setattr(service, _GRAPH_ATTRIBUTE, graph)
        return graph


def evidence_lists_on(env: Mapping[str, str] | None = None) -> bool:
    """Whether questions asking for every occurrence get the graph's list (the settings
    ``graph.evidence_lists`` and ``graph.enabled``, from ``env`` or the process environment)."""
    from config import Config

    config = Config.from_env(env)
    return bool(config["graph.evidence_lists"] and config["graph.enabled"])


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
