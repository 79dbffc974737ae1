"""Reciprocal rank fusion: one ranking from several, by rank rather than by score.

Each list adds ``weight / (RRF_K + rank)`` (rank counted from 1) to every item it holds, so an
item several lists found rises and one found by a single list still counts; the lists' own
scores (cosines of different models, BM25) never have to share a scale. The store fuses its
full-text and vector rankings this way (:mod:`indexing.stores.lance_search`), and the assistant
fuses the picture-search and graph rankings into its own (:mod:`assistant.shots`,
:mod:`assistant.graph.retriever`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import TypeVar

RRF_K = 60  # the usual reciprocal-rank-fusion constant: damps the weight of the very first ranks

Key = TypeVar("Key", bound=Hashable)


def rrf_score(rank: int, weight: float = 1.0) -> float:
    """What the item at 0-based ``rank`` of a list of ``weight`` adds to its fused score."""
    return weight / (RRF_K + rank + 1)


def rrf(rankings: Iterable[Iterable[Key]], weights: Sequence[float] | None = None, *,
        into: dict[Key, float] | None = None) -> dict[Key, float]:
    """The fused score of every key of ``rankings`` (each a list of keys, best first), list
    ``i`` weighted by ``weights[i]`` (1 each by default).

    Scores are summed list by list in the given order, and the result keeps the order in
    which keys were first met, so ties sort the same way on every run. ``into``, when given,
    is the dict the scores are added to (and returned).
    """
    fused: dict[Key, float] = {} if into is None else into
    for i, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[i]
        for rank, key in enumerate(ranking):
            fused[key] = fused.get(key, 0.0) + rrf_score(rank, weight)
    return fused
