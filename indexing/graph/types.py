"""The graph's frozen data types: mentions (the evidence), entities, relations, communities.

Every entity and relation carries the mentions it was built from, so whatever the graph answers
cites playable clips: a mention names its clip, file and the seconds where the words are said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Labels of named entities kept from spaCy; numbers, dates and amounts say nothing about "who or
# what appears where".
ENTITY_LABELS = frozenset(
    "PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW LANGUAGE".split())
CONCEPT = "CONCEPT"  # the label of a noun-phrase concept (not a named entity)
ACTION = "ACTION"  # the label of an action (a verb's lemma) or a heard sound: a concept too
CONCEPTS = frozenset({CONCEPT, ACTION})  # labels of what is no named entity


@dataclass(frozen=True, slots=True)
class Mention:
    """One appearance of an entity or concept in one clip.

    ``key`` is the normalised name (casefolded, possessive, title and plural removed) that alias
    merging works on; ``surface`` is the text as written. ``start``/``end`` are the clip's
    seconds (what a player plays), ``said_start``/``said_end`` the seconds of the words
    themselves (the clip's when its words carry no times).
    """

    key: str
    surface: str
    label: str
    clip_id: str
    media_id: str
    media_path: str
    kind: str
    seq: int
    start: float
    end: float
    said_start: float
    said_end: float

    def row(self) -> list[object]:
        """A compact list for the graph file (see :meth:`from_row`)."""
        return [self.key, self.surface, self.label, self.clip_id, self.kind, self.seq,
                round(self.start, 3), round(self.end, 3), round(self.said_start, 3),
                round(self.said_end, 3)]

    @classmethod
    def from_row(cls, row: list[Any], media_id: str, media_path: str) -> Mention:
        """The mention a :meth:`row` stands for; raises ValueError/TypeError on a bad row."""
        key, surface, label, clip_id, kind, seq, s, e, ss, se = row
        return cls(str(key), str(surface), str(label), str(clip_id), media_id, media_path,
                   str(kind), int(seq), float(s), float(e), float(ss), float(se))


@dataclass(frozen=True, slots=True)
class Entity:
    """A node of the graph: an entity or concept with every mention of it.

    ``key`` is its id; ``name`` the most frequent surface form; ``aliases`` every normalised
    key merged into it and every surface form seen.
    """

    key: str
    name: str
    label: str
    aliases: tuple[str, ...]
    mentions: tuple[Mention, ...]

    @property
    def clips(self) -> int:
        """In how many clips it appears."""
        return len({m.clip_id for m in self.mentions})

    @property
    def files(self) -> tuple[str, ...]:
        """The files it appears in, sorted."""
        return tuple(sorted({m.media_path for m in self.mentions}))


@dataclass(frozen=True, slots=True)
class Relation:
    """An undirected co-occurrence edge: ``a`` and ``b`` appear in one clip or two adjacent ones.

    ``weight`` counts co-occurrences (1 in one clip, 0.5 in neighbouring clips); ``npmi`` is the
    normalised pointwise mutual information of the two over clips, in [-1, 1]: above 0 they
    appear together more often than chance. ``clip_ids`` are the evidence.
    """

    a: str
    b: str
    weight: float
    npmi: float
    clip_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Community:
    """A group of entities that appear together, at one level of a hierarchy (0 = coarsest)."""

    id: str  # a content hash of its level and members: the key of its cached report
    level: int
    members: tuple[str, ...]  # entity keys, most mentioned first
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class CommunityReport:
    """What a community is about: a title, a summary, its key entities and clips to play.

    ``clip_ids`` are the representative clips (most of the community's entities in one clip);
    ``written_by`` is ``extractive`` or the model id of the LLM that wrote it.
    """

    community_id: str
    title: str
    summary: str
    key_entities: tuple[str, ...]
    clip_ids: tuple[str, ...]
    written_by: str = "extractive"
