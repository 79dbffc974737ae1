"""Clusters of a map's layout, each labelled by its most particular words (class TF-IDF).

Clusters are found on the 2-D layout (k-means), so each is a region the eye sees as one; its
label is the three words that are frequent in its points' text and rare in the others' — the
class-based TF-IDF of BERTopic: ``tf(word, cluster) * log(1 + mean words per cluster /
frequency of word overall)``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from indexing.text import is_negator, is_stopword, tokens

MAX_CLUSTERS = 30


def cluster_count(n: int) -> int:
    """How many clusters a map of ``n`` points gets: about sqrt(n/5), 1..:data:`MAX_CLUSTERS`."""
    if n < 4:
        return 1
    return max(2, min(MAX_CLUSTERS, round(math.sqrt(n / 5)), n // 2))


def clusters(layout: np.ndarray, k: int | None = None, *, seed: int = 0) -> np.ndarray:
    """A cluster number per point of ``layout`` (``(n, 2)``), numbered from 0."""
    n = len(layout)
    k = cluster_count(n) if k is None else k
    if n == 0:
        return np.zeros(0, np.int32)
    if k <= 1:
        return np.zeros(n, np.int32)
    if n > 20_000:
        from sklearn.cluster import MiniBatchKMeans

        model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096)
    else:
        from sklearn.cluster import KMeans

        model = KMeans(n_clusters=k, random_state=seed, n_init=4)
    return model.fit_predict(layout).astype(np.int32)


def labels(texts: Sequence[str], assigned: np.ndarray, words: int = 3,
           language: str | None = None) -> dict[int, str]:
    """A label per cluster: its ``words`` most particular words, joined by " · "."""
    counts: dict[int, Counter[str]] = {}
    for text, c in zip(texts, assigned.tolist(), strict=True):
        counts.setdefault(int(c), Counter()).update(
            w for w in tokens(text, language) if len(w) > 2 and w.isalpha()
            and not is_stopword(w, language) and not is_negator(w, language))
    overall: Counter[str] = Counter()
    for said in counts.values():
        overall.update(said)
    mean_words = (sum(overall.values()) / max(1, len(counts))) or 1.0
    out = {}
    for c, said in counts.items():
        total = sum(said.values()) or 1
        score = {w: n / total * math.log(1 + mean_words / overall[w]) for w, n in said.items()}
        best = sorted(score, key=lambda w: (-score[w], w))[:words]
        out[c] = " · ".join(best) if best else f"cluster {c + 1}"
    return out
