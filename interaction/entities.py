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
    out = [Entity(m.said_start, m.said_end, m.surface, entity.label)
           for entity in graph.entities(labels=sorted(ENTITY_LABELS))
           for m in entity.mentions if m.media_id == media_id]
    return sorted(out, key=lambda e: (e.start, e.end, e.text))
