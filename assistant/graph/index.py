"""The graph as the assistant reads it: linked entities -> ranked clips, communities -> reports.

Loaded once per assistant from the graph store (:func:`indexing.graph.sync.open_graph_store`);
read-only: ``deerin index`` and ``deerin graph build`` keep it in step with the clips.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.graph.linking import EntityLinker, Link
from indexing.graph.build import KnowledgeGraph
from indexing.graph.communities import MAX_SIZE, SEED, algorithm, detect
from indexing.graph.networkx_store import graph_dir
from indexing.graph.reports import clips_by_id, extractive_report, representative_clips
from indexing.graph.settings import GraphSettings
from indexing.graph.store import GraphStore
from indexing.graph.sync import behind, load_graph, open_graph_store
from indexing.graph.types import Community, CommunityReport
from indexing.protocols import Embedder
from indexing.stores.base import ClipReader
from indexing.types import Clip

NEIGHBOURS = 3  # associated entities followed from each linked one
NEIGHBOUR_FACTOR = 0.3  # their clips count this much of the linked entity's weight
GLOBAL_COMMUNITIES = 3  # community reports a global question reads


@dataclass(frozen=True, slots=True)
class RankedClip:
    """A clip the graph found, its graph score, and the entities that led to it."""

    clip_id: str
    score: float
    entities: tuple[str, ...]


class GraphIndex:
    """One index's knowledge graph, ready for questions."""

    def __init__(self, store: ClipReader, kg: KnowledgeGraph, embedder: Embedder | None,
                 cache_dir: Path | None = None, warnings: Sequence[str] = ()) -> None:
        self.store = store
        self.kg = kg
        self.linker = EntityLinker(kg, embedder, cache_dir)
        self.cache_dir = cache_dir
        self.warnings = list(warnings)
        self._communities: list[Community] | None = None
        self._clips: dict[str, Clip] | None = None
        self._reports: dict[str, CommunityReport] = {}
        self._report_vectors: dict[str, np.ndarray] = {}
        self._clip_vectors: dict[str, np.ndarray] = {}

    @classmethod
    def open(cls, store: ClipReader, embedder: Embedder | None,
             settings: GraphSettings | None = None) -> GraphIndex:
        """Load the graph of ``store``'s index; raise :class:`~indexing.graph.store.GraphError`
        when its store cannot be used. A graph behind the clips is used as it is, with a
        warning naming the command that brings it up to date."""
        graph: GraphStore = open_graph_store(store.db_dir, settings)
        try:
            warnings = list(getattr(graph, "warnings", ()))
            todo, gone = behind(store, graph)
            if todo or gone:
                warnings.append(f"the graph lacks {len(todo)} indexed file(s) and holds "
                                f"{len(gone)} removed one(s): run `deerin graph build`")
            kg = load_graph(graph)
        finally:
            graph.close()
        return cls(store, kg, embedder, graph_dir(store.db_dir), warnings)

    # -- clips ---------------------------------------------------------------------------------
    def clip(self, clip_id: str) -> Clip | None:
        if self._clips is None:
            self._clips = clips_by_id(self.store, (m for e in self.kg.entities()
                                                   for m in e.mentions))
        return self._clips.get(clip_id)

    def clip_vectors(self, clips: Sequence[Clip], embedder: Embedder) -> np.ndarray:
        """The embeddings of ``clips`` (their embedding text), one row each; each clip is
        embedded once per graph index, as the same clips answer question after question."""
        todo = list({c.clip_id: c for c in clips if c.clip_id not in self._clip_vectors}.values())
        if todo:
            vecs = embedder.embed_texts([c.embedding_text() for c in todo])
            for c, v in zip(todo, np.asarray(vecs, dtype=np.float32), strict=True):
                self._clip_vectors[c.clip_id] = v
        return np.stack([self._clip_vectors[c.clip_id] for c in clips]) if clips else \
            np.zeros((0, 0), dtype=np.float32)

    # -- local ---------------------------------------------------------------------------------
    def link(self, question: str, lemmas: Sequence[str] = ()) -> list[Link]:
        """The entities ``question`` links (:meth:`EntityLinker.link`)."""
        return self.linker.link(question, lemmas)

    def local(self, links: Sequence[Link]) -> list[RankedClip]:
        """Clips where the linked entities appear (weighted by link score and rarity), then
        where their closest associates appear; ordered by score, one clip per file in turn, so
        a question about something said in many files sees each of them."""
        n = max(sum(1 for _ in self._all_clip_ids()), 1)
        score: dict[str, float] = defaultdict(float)
        via: dict[str, set[str]] = defaultdict(set)
        where: dict[str, tuple[str, float]] = {}
        for link in links:
            entity = self.kg.entity(link.key)
            if entity is None:
                continue
            weight = link.score * _rarity(entity.clips, n)
            for m in entity.mentions:
                score[m.clip_id] += weight
                via[m.clip_id].add(entity.name)
                where[m.clip_id] = (m.media_path, m.start)
            for other, rel in self.kg.related(link.key, NEIGHBOURS):
                if rel.npmi <= 0:
                    continue
                w = weight * NEIGHBOUR_FACTOR * rel.npmi
                for m in other.mentions:
                    score[m.clip_id] += w
                    where[m.clip_id] = (m.media_path, m.start)
        ranked = sorted(score, key=lambda c: (-score[c], where[c]))
        return [RankedClip(c, score[c], tuple(sorted(via[c]))) for c in _round_robin(
            ranked, lambda c: where[c][0])]

    def _all_clip_ids(self) -> set[str]:
        return {m.clip_id for e in self.kg.entities() for m in e.mentions}

    # -- global --------------------------------------------------------------------------------
    def communities(self) -> list[Community]:
        """The graph's communities, kept beside the graph (``cache_dir``) once detected: at 50
        hours of speeches detection takes minutes (1.5 million relations), and every
        ``deerin ask --mode global`` opens the graph anew."""
        if self._communities is None:
            self._communities = self._stored_communities()
        return self._communities

    def _stored_communities(self) -> list[Community]:
        key = hashlib.sha256(f"{self.kg.content_hash()}|{algorithm()}|{MAX_SIZE}|{SEED}"
                             .encode()).hexdigest()[:16]
        path = self.cache_dir / f"communities-{key}.json" if self.cache_dir else None
        try:
            if path is not None and path.exists():
                return [Community(str(c["id"]), int(c["level"]), tuple(c["members"]),
                                  c["parent"]) for c in json.loads(path.read_text("utf-8"))]
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged file is detected again
        found = detect(self.kg)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                for old in path.parent.glob("communities-*.json"):
                    old.unlink()
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps([{"id": c.id, "level": c.level,
                                            "members": list(c.members), "parent": c.parent}
                                           for c in found]), "utf-8")
                tmp.replace(path)
            except OSError:
                pass  # a read-only index only costs the next process a detection
        return found

    def report(self, community: Community) -> CommunityReport:
        """The extractive report of ``community`` (an LLM-written one is
        :mod:`assistant.graph.reports`)."""
        if community.id not in self._reports:
            clips = {c: clip for c in representative_clips(self.kg, community)
                     if (clip := self.clip(c)) is not None}
            rep = extractive_report(self.kg, community, clips)
            self._reports[community.id] = rep
        return self._reports[community.id]

    def community_clips(self, community: Community) -> list[str]:
        """Every clip where a member of ``community`` appears: its report's representative
        clips first, then the rest in the order of its members (most mentioned first)."""
        out = dict.fromkeys(self.report(community).clip_ids)
        for key in community.members:
            entity = self.kg.entity(key)
            out.update(dict.fromkeys(m.clip_id for m in (entity.mentions if entity else ())))
        return list(out)

    def relevant_communities(self, question: str, embedder: Embedder,
                             limit: int = GLOBAL_COMMUNITIES) -> list[tuple[Community, float]]:
        """The top-level communities whose reports are closest to ``question`` (cosine of the
        question and each report's title, key entities and summary)."""
        top = [c for c in self.communities() if c.level == 0]
        if not top:
            return []
        todo = [c for c in top if c.id not in self._report_vectors]
        if todo:
            texts = [_report_text(self.report(c)) for c in todo]
            for c, v in zip(todo, embedder.embed_texts(texts), strict=True):
                self._report_vectors[c.id] = v
        q = embedder.embed_query(question)
        scored = [(c, float(self._report_vectors[c.id] @ q)) for c in top]
        scored.sort(key=lambda cs: (-cs[1], cs[0].id))
        return scored[:limit]


def _report_text(report: CommunityReport) -> str:
    return f"{report.title}. {', '.join(report.key_entities)}. {report.summary}"


def _rarity(clips: int, n: int) -> float:
    """An inverse-document-frequency weight in (0, 1]: a name said everywhere links weakly."""
    return 0.5 + 0.5 * math.log(1 + n / max(clips, 1)) / math.log(1 + n)


def _round_robin(ranked: Sequence[str], file_of: object) -> list[str]:
    """``ranked`` reordered so each file's best comes first, then each file's second, ..."""
    assert callable(file_of)
    per_file: dict[str, list[str]] = {}
    for c in ranked:
        per_file.setdefault(file_of(c), []).append(c)
    out: list[str] = []
    depth = 0
    while len(out) < len(ranked):
        for clips in per_file.values():
            if depth < len(clips):
                out.append(clips[depth])
        depth += 1
    return out
