"""The graph itself, computed from mentions: alias merging, entities, weighted co-occurrences.

Computing it from the stored mentions (rather than storing nodes and edges) keeps every figure
consistent with the collection: adding or dropping a file changes the frequencies that
co-occurrence weights and alias decisions depend on, and a rebuild takes milliseconds per
thousand mentions.

Alias merging, collection-wide: mentions share an entity when their keys are equal (case,
possessive, article, title and plural were already folded, see :mod:`indexing.graph.extract`),
and a one-word name of a person joins the one longer name of a person it ends ("Bush" ->
"George W. Bush") when exactly one such name exists; with two ("George Bush", "Laura Bush") it
stays apart, and so does a name that only ends an "X of Y" ("China", "Tsai-Hsun of China").

Relations: two entities co-occur when they appear in one clip (weight 1) or in two neighbouring
clips of one file (weight 0.5); ``npmi`` normalises the count against how often each appears.
They are computed when first asked for: all of them for export and communities (pairs grow with
the square of the entities per clip: 1.5 million over fifty hours of speeches, about 20 s), one
entity's alone for :meth:`KnowledgeGraph.related`, so looking one name up stays fast at any size.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from indexing.graph.extract import normalise
from indexing.graph.types import ACTION, CONCEPT, CONCEPTS, Entity, Mention, Relation

_PERSONS = ("PERSON", "NAME")
NEIGHBOUR_WEIGHT = 0.5  # a co-occurrence across two adjacent clips counts half


class KnowledgeGraph:
    """Entities and relations of a set of mentions. Immutable once built."""

    def __init__(self, mentions: Iterable[Mention]) -> None:
        raw = list(mentions)
        self.alias_of = resolve_aliases(raw)
        by_key: dict[str, list[Mention]] = defaultdict(list)
        for m in raw:
            by_key[self.alias_of.get(m.key, m.key)].append(m)
        self._entities = {key: _entity(key, ms, self.alias_of) for key, ms in by_key.items()}
        self._clips = _ClipIndex(self._entities.values())
        self._all: dict[tuple[str, str], Relation] | None = None
        self._adjacent: dict[str, list[Relation]] = {}
        # Every name a user may type, normalised, to the entity it stands for.
        self._names: dict[str, str] = {}
        for e in self._entities.values():
            # each distinct form once: an entity's mentions repeat a few surface forms
            for alias in dict.fromkeys((e.name, *e.aliases, *(m.surface for m in e.mentions))):
                self._names.setdefault(normalise(alias), e.key)
        for e in self._entities.values():
            self._names[e.key] = e.key

    # -- reading -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._entities)

    def entities(self, labels: Sequence[str] | None = None) -> list[Entity]:
        """Every entity, most widely mentioned first (clips, then files, then name)."""
        found = [e for e in self._entities.values() if labels is None or e.label in labels]
        return sorted(found, key=lambda e: (-e.clips, -len(e.files), e.key))

    def entity(self, key: str) -> Entity | None:
        return self._entities.get(key)

    def find(self, name: str) -> Entity | None:
        """The entity ``name`` stands for (any alias or surface form, any case), if any."""
        key = self._names.get(normalise(name))
        return self._entities.get(key) if key else None

    def names(self) -> dict[str, str]:
        """Every normalised name (keys, aliases, surface forms) -> the entity key it links to."""
        return dict(self._names)

    def relations(self) -> list[Relation]:
        """Every relation, heaviest first (computed on first use)."""
        return sorted(self._relations().values(), key=lambda r: (-r.weight, r.a, r.b))

    def related(self, key: str, limit: int | None = None) -> list[tuple[Entity, Relation]]:
        """Neighbours of ``key``, most associated first (npmi, then weight)."""
        if key not in self._adjacent:
            self._adjacent[key] = (
                [r for r in self._all.values() if key in (r.a, r.b)] if self._all is not None
                else self._clips.relations_of(key))
        out = [(self._entities[r.b if r.a == key else r.a], r) for r in self._adjacent[key]]
        out.sort(key=lambda er: (-er[1].npmi * er[1].weight, -er[1].weight, er[0].key))
        return out[:limit] if limit is not None else out

    def _relations(self) -> dict[tuple[str, str], Relation]:
        if self._all is None:
            self._all = self._clips.relations()
        return self._all

    def mention_count(self) -> int:
        return sum(len(e.mentions) for e in self._entities.values())

    def content_hash(self) -> str:
        """A hash of the evidence: equal for the same mentions, whatever their order."""
        h = hashlib.sha256()
        for key in sorted(self._entities):
            h.update(key.encode())
            for clip_id in sorted({m.clip_id for m in self._entities[key].mentions}):
                h.update(clip_id.encode())
        return h.hexdigest()[:20]

    def to_networkx(self) -> Any:
        """The graph as a ``networkx.Graph``: nodes carry name, label, clip and file counts and
        the mentioned clips; edges weight, npmi and evidence clips (for export and analysis)."""
        import networkx as nx  # lazy: heavy, and only export and communities need it

        g = nx.Graph()
        for e in self._entities.values():
            g.add_node(e.key, name=e.name, label=e.label, clips=e.clips, files=len(e.files),
                       aliases=list(e.aliases),
                       mentions=[{"clip": m.clip_id, "media": m.media_path, "start": m.start,
                                  "end": m.end, "said_start": m.said_start,
                                  "said_end": m.said_end} for m in e.mentions])
        for r in self._relations().values():
            g.add_edge(r.a, r.b, weight=r.weight, npmi=r.npmi, clips=list(r.clip_ids))
        return g


def resolve_aliases(mentions: Sequence[Mention]) -> dict[str, str]:
    """Keys to merge into another key (see the module docstring); others map to themselves."""
    labels: dict[str, Counter[str]] = defaultdict(Counter)
    for m in mentions:
        labels[m.key][m.label] += 1
    # A name "X of Y" is X's, not a fuller form of Y: "Tsai-Hsun of China" (which the tagger
    # took for a person's) is no fuller form of China.
    persons = [k for k, c in labels.items() if " " in k and c.most_common(1)[0][0] in _PERSONS
               and k.split()[-2] != "of"]
    ending: dict[str, list[str]] = defaultdict(list)
    for k in persons:
        ending[k.rsplit(" ", 1)[1]].append(k)
    alias_of: dict[str, str] = {}
    for k, c in labels.items():
        if " " in k or c.most_common(1)[0][0] in CONCEPTS:
            continue
        longer = ending.get(k, [])
        if len(longer) == 1:
            alias_of[k] = longer[0]
    return alias_of


def _entity(key: str, mentions: list[Mention], alias_of: dict[str, str]) -> Entity:
    labels = Counter(m.label for m in mentions)
    named = [(n, lab) for lab, n in labels.most_common() if lab not in CONCEPTS]
    label = named[0][1] if named else CONCEPT if CONCEPT in labels else ACTION
    surfaces = Counter(m.surface for m in mentions if alias_of.get(m.key, m.key) == key)
    # The name: the most frequent surface form of the entity's own key, else any.
    own = Counter(m.surface for m in mentions if m.key == key) or surfaces
    name = max(own.items(), key=lambda kv: (kv[1], -len(kv[0]), kv[0]))[0] if own else key
    if label in CONCEPTS:
        name = key
    aliases = sorted({*(k for k, v in alias_of.items() if v == key), *surfaces} - {key, name})
    ordered = sorted(mentions, key=lambda m: (m.media_path, m.kind, m.start, m.said_start))
    return Entity(key=key, name=name, label=label, aliases=tuple(aliases),
                  mentions=tuple(ordered))


class _ClipIndex:
    """Which entities each clip holds and which clip follows which: what relations are
    counted from, built in one pass over the mentions."""

    def __init__(self, entities: Iterable[Entity]) -> None:
        self.in_clip: dict[str, set[str]] = defaultdict(set)
        self.clips_of: dict[str, set[str]] = {}
        position: dict[str, tuple[str, str, str, int]] = {}
        for e in entities:
            self.clips_of[e.key] = {m.clip_id for m in e.mentions}
            for m in e.mentions:
                self.in_clip[m.clip_id].add(e.key)
                position[m.clip_id] = (m.media_id, m.media_path, m.kind, m.seq)
        at = {pos: cid for cid, pos in position.items()}
        self.next: dict[str, str] = {}
        for cid, (mid, path, kind, seq) in position.items():
            nxt = at.get((mid, path, kind, seq + 1))
            if nxt is not None:
                self.next[cid] = nxt
        self.previous = {nxt: cid for cid, nxt in self.next.items()}
        self.n = max(len(self.in_clip), 1)

    def relations(self) -> dict[tuple[str, str], Relation]:
        """Every relation."""
        weight: dict[tuple[str, str], float] = defaultdict(float)
        evidence: dict[tuple[str, str], set[str]] = defaultdict(set)
        for cid, keys in self.in_clip.items():
            nxt = self.next.get(cid)
            pairs: list[tuple[str, str, float, tuple[str, ...]]] = [
                (a, b, 1.0, (cid,)) for a in keys for b in keys if a < b]
            if nxt is not None:
                pairs += [(min(a, b), max(a, b), NEIGHBOUR_WEIGHT, (cid, nxt))
                          for a in keys for b in self.in_clip[nxt] if a != b]
            for a, b, w, clips in pairs:
                weight[(a, b)] += w
                evidence[(a, b)].update(clips)
        return {pair: self._relation(pair, w, evidence[pair]) for pair, w in weight.items()}

    def relations_of(self, key: str) -> list[Relation]:
        """The relations of ``key`` alone, equal to those :meth:`relations` holds for it."""
        weight: dict[str, float] = defaultdict(float)
        evidence: dict[str, set[str]] = defaultdict(set)
        for cid in self.clips_of.get(key, ()):
            for other in self.in_clip[cid] - {key}:
                weight[other] += 1.0
                evidence[other].add(cid)
            for near in (self.next.get(cid), self.previous.get(cid)):
                if near is None:
                    continue
                for other in self.in_clip[near] - {key}:
                    weight[other] += NEIGHBOUR_WEIGHT
                    evidence[other].update((cid, near))
        out = []
        for other, w in weight.items():
            pair = (min(key, other), max(key, other))
            out.append(self._relation(pair, w, evidence[other]))
        return out

    def _relation(self, pair: tuple[str, str], weight: float, clips: set[str]) -> Relation:
        a, b = pair
        return Relation(a, b, weight, _npmi(weight, len(self.clips_of[a]), len(self.clips_of[b]),
                                            self.n), tuple(sorted(clips)))


def _npmi(joint: float, fa: int, fb: int, n: int) -> float:
    """Normalised PMI of two entities over ``n`` clips, in [-1, 1]."""
    p_ab = min(joint / n, 1.0)
    if p_ab >= 1.0:
        return 1.0
    pmi = math.log(p_ab / ((fa / n) * (fb / n)))
    return max(-1.0, min(1.0, pmi / -math.log(p_ab)))
