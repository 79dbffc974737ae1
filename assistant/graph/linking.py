"""Which graph entities a question names: by name, and by meaning.

A name matches when a run of the question's words, normalised like entity keys, is an entity's
key, alias or surface form ("the Americans'" finds ``american``). A word matches by meaning when
its embedding is close to an entity's name ("birds" -> ``beak``, ``goose``): that is what lets
a question about a theme reach clips that never use the question's word. Words that speak
about the collection rather than its content ("which recordings mention …") link nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from indexing.graph.build import KnowledgeGraph
from indexing.graph.extract import normalise
from indexing.protocols import Embedder
from indexing.text import is_stopword, tokens

LINK_SIMILARITY = 0.5  # cosine of a question word and an entity name (MiniLM: "birds"-"beak" 0.64)
MAX_LINKED = 12
MAX_NGRAM = 4
# Words about the collection and the act of asking, not about its content.
META_WORDS = frozenset("""
recording recordings record records file files clip clips film films video videos movie movies
name names named naming
audio speech speeches talk talks talking mention mentions mentioned mentioning speak speaks
spoken say says said appear appears appearing collection archive archives footage feature
features featuring discuss discusses discussed refer refers together along main theme themes
topic topics subject subjects which who whom what where when how why does do did is are was
were any every all each there someone something people person anyone else also both
""".split())


@dataclass(frozen=True, slots=True)
class Link:
    """An entity the question names (``by`` = ``name`` or ``meaning``) with a score in (0, 1]."""

    key: str
    score: float
    by: str


class EntityLinker:
    """Links questions to the entities of one graph. Entity names are embedded once (and cached
    in ``cache_dir`` when given)."""

    def __init__(self, kg: KnowledgeGraph, embedder: Embedder | None = None,
                 cache_dir: Path | None = None) -> None:
        self.kg = kg
        self.embedder = embedder
        self.cache_dir = cache_dir
        self._names = kg.names()
        self._keys = [e.key for e in kg.entities()]
        self._vectors: np.ndarray | None = None

    def content_words(self, question: str) -> list[str]:
        """The words of ``question`` that may name content (no stop or meta words)."""
        return [w for w in tokens(question) if w not in META_WORDS and not is_stopword(w)
                and any(ch.isalpha() for ch in w)]

    def link(self, question: str, lemmas: Sequence[str] = ()) -> list[Link]:
        """The entities ``question`` names, best first (at most :data:`MAX_LINKED`); ``lemmas``
        are the base forms of its words from a parser ("dying" -> ``die``), matched by name
        like its words."""
        found: dict[str, Link] = {}
        for lemma in lemmas:
            key = self._names.get(normalise(lemma))
            if key is not None and lemma not in META_WORDS and not is_stopword(lemma):
                found.setdefault(key, Link(key, 1.0, "name"))
        words = tokens(question)
        for n in range(MAX_NGRAM, 0, -1):
            for i in range(len(words) - n + 1):
                gram = words[i:i + n]
                if n == 1 and (gram[0] in META_WORDS or is_stopword(gram[0])):
                    continue
                for form in forms(" ".join(gram)):
                    key = self._names.get(form)
                    if key is not None and key not in found:
                        found[key] = Link(key, 1.0, "name")
        if self.embedder is not None and self._keys:
            for key, score in self._by_meaning(question):
                if key not in found:
                    found[key] = Link(key, score, "meaning")
        return sorted(found.values(), key=lambda lk: (-lk.score, lk.key))[:MAX_LINKED]

    def _by_meaning(self, question: str) -> list[tuple[str, float]]:
        words = self.content_words(question)
        if not words:
            return []
        phrases = words + [f"{a} {b}" for a, b in pairwise(words)]
        assert self.embedder is not None
        q = self.embedder.embed_texts(phrases)
        sims = self.vectors() @ q.T  # entities x phrases
        best = sims.max(axis=1)
        order = np.argsort(-best)
        return [(self._keys[i], float(best[i])) for i in order[:MAX_LINKED]
                if best[i] >= LINK_SIMILARITY]

    def vectors(self) -> np.ndarray:
        """The embeddings of every entity key, in :meth:`KnowledgeGraph.entities` order."""
        if self._vectors is None:
            assert self.embedder is not None
            self._vectors = self._cached() if self.cache_dir else None
            if self._vectors is None:
                self._vectors = self.embedder.embed_texts(self._keys).astype(np.float32)
                self._store()
        return self._vectors

    def _cache_path(self) -> Path | None:
        if self.cache_dir is None or self.embedder is None:
            return None
        h = hashlib.sha256(self.embedder.model_id.encode())
        for k in self._keys:
            h.update(k.encode() + b"\x1f")
        return self.cache_dir / f"names-{h.hexdigest()[:16]}.npy"

    def _cached(self) -> np.ndarray | None:
        path = self._cache_path()
        try:
            if path is not None and path.exists():
                v = np.load(path)
                if v.shape[0] == len(self._keys):
                    return v
        except (OSError, ValueError):
            pass  # a damaged cache is recomputed
        return None

    def _store(self) -> None:
        path = self._cache_path()
        if path is None or self._vectors is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            for old in path.parent.glob("names-*.npy"):
                old.unlink()
            tmp = path.with_name(path.stem + ".tmp.npy")
            np.save(tmp, self._vectors)
            tmp.replace(path)
        except OSError:
            pass  # a read-only index only costs the next process an embedding pass


def forms(text: str) -> list[str]:
    """``text`` normalised, and with a plural last word made singular."""
    norm = normalise(text)
    forms = [norm]
    if norm.endswith("ies") and len(norm) > 4:
        forms.append(norm[:-3] + "y")
    if norm.endswith("es") and len(norm) > 4:
        forms.append(norm[:-2])
    if norm.endswith("s") and len(norm) > 3:
        forms.append(norm[:-1])
    return forms
