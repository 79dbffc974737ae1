"""Named entities said in a file, timed, for IIIF manifests: read from the knowledge graph.

The graph (:mod:`indexing.graph`) tags every clip once, at index time, with spaCy's English
pipeline and keeps each mention's seconds (the words' own times where the clip has them); a
manifest reuses those mentions instead of tagging the transcript a second time. Only named
entities are exported (people, places, organisations, works...), not noun-phrase concepts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from indexing.graph.types import ENTITY_LABELS
from interaction.iiif import Entity

if TYPE_CHECKING:
    from indexing.graph.build import KnowledgeGraph


def file_entities(graph: KnowledgeGraph, media_id: str) -> list[Entity]:
    """The named entities mentioned in the file ``media_id``, in time order."""
    return entities_by_file(graph).get(media_id, [])


def entities_by_file(graph: KnowledgeGraph) -> dict[str, list[Entity]]:
    """Every file's named entities (by media id), each list in time order; one pass over the
    graph."""
    out: dict[str, list[Entity]] = {}
    for entity in graph.entities(labels=sorted(ENTITY_LABELS)):
        for m in entity.mentions:
            out.setdefault(m.media_id, []).append(
                Entity(m.said_start, m.said_end, m.surface, entity.label))
    for found in out.values():
        found.sort(key=lambda e: (e.start, e.end, e.text))
    return out
