"""Extractive community reports: what a community is about, from its own clips, no LLM.

The title names its three most mentioned entities; the representative clips are those where
most of its entities appear (one per file first, so a theme spanning files shows each); the
summary is the two sentences of those clips that name the most of its entities. An LLM-written
report, when an LLM is configured, is made lazily at query time by the assistant
(:mod:`assistant.graph.reports`) from the same material.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from indexing.graph.build import KnowledgeGraph
from indexing.graph.types import Community, CommunityReport, Mention
from indexing.stores.base import ClipReader
from indexing.text import sentences
from indexing.types import Clip

KEY_ENTITIES = 8
CLIPS = 3
SUMMARY_SENTENCES = 2
_SENTENCE_CHARS = 240


def clips_by_id(store: ClipReader, mentions: Iterable[Mention]) -> dict[str, Clip]:
    """The clips the ``mentions`` point at, by clip id (read file by file from the store)."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for m in mentions:
        wanted[m.media_id].add(m.clip_id)
    out: dict[str, Clip] = {}
    for media_id, ids in wanted.items():
        for clip in store.clips_of(media_id):
            if clip.clip_id in ids:
                out[clip.clip_id] = clip
    return out


def representative_clips(kg: KnowledgeGraph, community: Community,
                         limit: int = CLIPS) -> list[str]:
    """Clip ids where most of the community's entities appear, one per file first."""
    members = set(community.members)
    score: Counter[str] = Counter()
    where: dict[str, tuple[str, float]] = {}
    for key in members:
        entity = kg.entity(key)
        for m in entity.mentions if entity else ():
            score[m.clip_id] += 1
            where[m.clip_id] = (m.media_path, m.start)
    ranked = sorted(score, key=lambda c: (-score[c], where[c]))
    picked: list[str] = []
    files: set[str] = set()
    for clip_id in ranked:  # the best clip of each file, then the rest
        if where[clip_id][0] not in files:
            picked.append(clip_id)
            files.add(where[clip_id][0])
    picked += [c for c in ranked if c not in picked]
    return picked[:limit]


def extractive_report(kg: KnowledgeGraph, community: Community,
                      clips: Mapping[str, Clip]) -> CommunityReport:
    """The report of ``community`` from its entities and the text of its clips (``clips``
    must hold its representative clips, see :func:`representative_clips`)."""
    names = [_name(kg, k) for k in community.members[:KEY_ENTITIES]]
    rep = representative_clips(kg, community)
    summary = " ".join(summary_sentences([clips[c] for c in rep if c in clips],
                                         _surfaces(kg, community.members)))
    return CommunityReport(community.id, ", ".join(names[:3]), summary, tuple(names),
                           tuple(rep))


def summary_sentences(clips: Sequence[Clip], surfaces: Sequence[str],
                      limit: int = SUMMARY_SENTENCES) -> list[str]:
    """The ``limit`` sentences of ``clips`` naming most of ``surfaces``, in clip order."""
    lowered = [s.lower() for s in surfaces if s]
    found: list[tuple[int, int, int, str]] = []
    for ci, clip in enumerate(clips):
        for si, sentence in enumerate(sentences(clip.text, clip.language)):
            text = sentence.lower()
            hits = sum(1 for s in lowered if s in text)
            if hits:
                found.append((hits, ci, si, _trim(sentence)))
    best = sorted(found, key=lambda f: (-f[0], f[1], f[2]))[:limit]
    return [f[3] for f in sorted(best, key=lambda f: (f[1], f[2]))]


def _surfaces(kg: KnowledgeGraph, keys: Sequence[str]) -> list[str]:
    out: list[str] = []
    for key in keys:
        entity = kg.entity(key)
        if entity is not None:
            out += [key, *(m.surface for m in entity.mentions)]
    return sorted(set(out), key=len, reverse=True)


def _name(kg: KnowledgeGraph, key: str) -> str:
    entity = kg.entity(key)
    return entity.name if entity is not None else key


def _trim(sentence: str) -> str:
    sentence = " ".join(sentence.split())
    if len(sentence) <= _SENTENCE_CHARS:
        return sentence
    return sentence[:_SENTENCE_CHARS].rsplit(" ", 1)[0] + "…"
