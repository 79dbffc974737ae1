"""Every moment something is named: the answer to a question that asks for all occurrences.

"Every moment where Cuba is named", "which recordings mention Nicaragua?": such a question has
no answer an LLM can write from the ten clips retrieval hands it; the honest answer is the
whole list, which the knowledge graph already holds (every mention, with its clip, its file
and the seconds where the words are said). This module decides when a question asks for it
and builds it; the caller shows the count and the list, paged, each moment playable.

A question asks for occurrences when its grammar asks for a set (:mod:`assistant.graph.intent`)
*of places in the collection*: the noun it quantifies or asks "which" about is one of the
closed class of words for a moment or a recording (``moment``, ``clip``, ``mention``,
``recording``, ``speech`` ...), not a thing of the content ("which astronauts …" asks for
people, and is answered as any question). What it asks about are the entities it links by
name (never by meaning: a list must hold what was named, not what is like it); named
entities win over concepts, verbs are left out, and a shorter name inside a longer one linked
too gives way ("civil service", not also "service"). A concept also gathers the compound
concepts it heads or modifies ("tariff" takes "tariff law" and "protective tariff"), because
the extractor files "the tariff laws" under ``tariff law`` and ``law``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.graph.index import GraphIndex
from assistant.graph.intent import Intent, IntentParser
from assistant.graph.linking import MAX_NGRAM, META_WORDS, forms
from indexing.graph.build import KnowledgeGraph
from indexing.graph.types import ACTION, Entity, Mention
from indexing.text import is_stopword, tokens

PAGE = 20  # moments per page, in the CLI and the chat
# Nouns by which a question asks for places in the collection: a closed class, like
# :data:`assistant.graph.modes._COLLECTION`, not a list of example questions.
MOMENT_NOUNS = frozenset("""
moment clip mention occurrence instance place time point passage scene part segment excerpt
""".split())
RECORDING_NOUNS = frozenset("""
recording file film video speech address episode programme program tape reel interview
broadcast message document talk lecture
""".split())


@dataclass(frozen=True, slots=True)
class Moment:
    """One clip where a listed entity is named: the clip's seconds (``start``/``end``) and
    those of the words (``said_start``/``said_end``, the clip's when its words carry no
    times), and the names as written there."""

    clip_id: str
    media_path: str
    start: float
    end: float
    said_start: float
    said_end: float
    surfaces: tuple[str, ...]

    @property
    def play(self) -> tuple[float, float]:
        """The seconds a player opens on: the words when timed, else the clip."""
        if self.said_end > self.said_start:
            return self.said_start, self.said_end
        return self.start, self.end


@dataclass(frozen=True, slots=True)
class EvidenceList:
    """Every moment the ``entities`` are named, in file and time order; ``unit`` is what the
    question asked for: ``moment`` or ``recording``."""

    entities: tuple[Entity, ...]
    moments: tuple[Moment, ...]
    unit: str = "moment"

    @property
    def count(self) -> int:
        return len(self.moments)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entities)

    @property
    def files(self) -> tuple[tuple[str, int], ...]:
        """Each file with its number of moments, in file order."""
        counts: dict[str, int] = {}
        for m in self.moments:
            counts[m.media_path] = counts.get(m.media_path, 0) + 1
        return tuple(counts.items())

    def pages(self, size: int = PAGE) -> int:
        """How many pages of ``size`` moments the list fills (at least one)."""
        return max(1, -(-self.count // size))

    def page(self, number: int, size: int = PAGE) -> tuple[Moment, ...]:
        """Moments of page ``number`` (1-based); empty past the last page."""
        if number < 1 or size < 1:
            raise ValueError("pages and their sizes count from 1")
        return self.moments[(number - 1) * size: number * size]

    def to_json(self) -> dict[str, object]:
        """The whole list: names, count, unit, files with their counts, every moment."""
        return {"names": list(self.names), "count": self.count, "unit": self.unit,
                "files": [{"media": f, "moments": n} for f, n in self.files],
                "moments": [{"media": m.media_path, "start": round(m.play[0], 2),
                             "end": round(m.play[1], 2), "clip_start": round(m.start, 2),
                             "clip_end": round(m.end, 2), "clip": m.clip_id,
                             "names": list(m.surfaces)} for m in self.moments]}

    def summary(self) -> str:
        """One sentence: what is named, how often, in how many recordings."""
        names = " or ".join(self.names) or "nothing"
        files = len(self.files)
        if not self.count:
            return f"{names} is named nowhere in this collection."
        return (f"{names} is named at {self.count} moment{'s' * (self.count != 1)} in "
                f"{files} recording{'s' * (files != 1)}.")


def asks_for_occurrences(question: str) -> bool:
    """A cheap first look, before any parser loads: whether ``question`` holds a word for a
    moment or a recording at all (a question without one cannot ask for their list)."""
    nouns = MOMENT_NOUNS | RECORDING_NOUNS
    return any(f in nouns for w in set(tokens(question)) for f in forms(w))


def occurrence_unit(intent: Intent) -> str | None:
    """``moment`` or ``recording`` when ``intent`` asks for every place something occurs,
    else ``None``."""
    if not intent.aggregate:
        return None
    if intent.noun in RECORDING_NOUNS:
        return "recording"
    if intent.noun in MOMENT_NOUNS:
        return "moment"
    return None


def listed_entities(kg: KnowledgeGraph, question: str,
                    intent: Intent) -> tuple[list[Entity], list[str]]:
    """The entities a list answers for, and the names the question used for them (normalised):
    what the question's nominal words name (the parse's
    nouns, names and adjectives: "Show ..." and "List ..." name nothing), longest name first
    (words inside a longer name are not read again: "President Lincoln" is Lincoln, not also
    every president), every entity a name may stand for (singular and plural: "railroads" is
    ``railroads`` and ``railroad``), no verbs, nor the noun the list is of."""
    names = kg.names()
    nominal = set(intent.nominal)
    words = tokens(question)
    taken = [False] * len(words)
    keys: dict[str, None] = {}
    said: dict[str, None] = {}
    for n in range(MAX_NGRAM, 0, -1):
        for i in range(len(words) - n + 1):
            gram = words[i:i + n]
            if any(taken[i:i + n]) or not nominal.issuperset(gram) or (
                    n == 1 and (gram[0] in META_WORDS or is_stopword(gram[0]))):
                continue
            matched = [f for f in forms(" ".join(gram)) if f in names]
            if matched:
                keys.update(dict.fromkeys(names[f] for f in matched))
                said.update(dict.fromkeys(matched))
                taken[i:i + n] = [True] * n
    skip = MOMENT_NOUNS | RECORDING_NOUNS | {intent.noun}
    entities = [e for k in keys if (e := kg.entity(k)) is not None and e.label != ACTION
                and e.key not in skip]
    kept = {e.key for e in entities}
    return entities, [f for f in said if names[f] in kept]


def evidence_list(kg: KnowledgeGraph, entities: Sequence[Entity], unit: str = "moment",
                  said: Sequence[str] = ()) -> EvidenceList:
    """Every moment ``entities`` are named (one per clip), with every longer name that holds
    their keys or the names ``said`` for them ("Chile" in "the Republic of Chile", "tariff"
    in "tariff law", "Lincoln", said for Abraham Lincoln, in "the Lincoln Memorial")."""
    mentions: list[Mention] = []
    for e in containing(kg, entities, said):
        mentions.extend(e.mentions)
    by_clip: dict[str, list[Mention]] = {}
    for m in mentions:
        by_clip.setdefault(m.clip_id, []).append(m)
    moments = [Moment(ms[0].clip_id, ms[0].media_path, ms[0].start, ms[0].end,
                      min(m.said_start for m in ms), max(m.said_end for m in ms),
                      tuple(dict.fromkeys(m.surface for m in ms)))
               for ms in by_clip.values()]
    moments.sort(key=lambda m: (m.media_path, m.start, m.clip_id))
    return EvidenceList(tuple(entities), tuple(moments), unit)


def containing(kg: KnowledgeGraph, entities: Sequence[Entity],
               said: Sequence[str] = ()) -> list[Entity]:
    """``entities`` and every other entity whose key holds one of their keys, or of the names
    ``said``, as a run of words (no actions: a verb names nothing)."""
    wanted = [k.split() for k in dict.fromkeys([*(e.key for e in entities), *said])]
    out = {e.key: e for e in entities}
    for e in kg.entities():
        if e.key in out or e.label == ACTION or " " not in e.key:
            continue
        words = e.key.split()
        if any(_run_in(w, words) for w in wanted):
            out[e.key] = e
    return list(out.values())


def _run_in(short: list[str], long: list[str]) -> bool:
    return len(short) < len(long) and any(long[i:i + len(short)] == short
                                          for i in range(len(long) - len(short) + 1))


def find_evidence(graph: GraphIndex, question: str, parser: IntentParser) -> EvidenceList | None:
    """The evidence list ``question`` asks for, or ``None`` when it asks for no list of
    occurrences or names nothing the graph knows."""
    intent = parser.parse(question)
    unit = occurrence_unit(intent)
    if unit is None:
        return None
    entities, said = listed_entities(graph.kg, question, intent)
    return evidence_list(graph.kg, entities, unit, said) if entities else None
