"""Two-dimensional layouts of unit vectors: UMAP (umap-learn) or t-SNE (scikit-learn).

Large collections are first reduced to 50 dimensions with PCA (the usual step before UMAP and
t-SNE: the neighbour search is then several times faster and the layout barely changes). Above
:data:`LANDMARKS` points the method lays out a fixed random sample of that many "landmarks"
and every other point is placed at the similarity-weighted mean of its nearest landmarks: the
cost of UMAP grows with the points it optimises, the placement is one matrix product per
block, and a map of 100k clips costs little more than one of 10k. Tiny collections, where
neither method has neighbours to learn from, are laid out by PCA alone.
"""

from __future__ import annotations

import numpy as np

METHODS = ("umap", "tsne")
PCA_ABOVE = 5_000  # points; below this the full vectors are used
PCA_DIMS = 50
TINY = 5  # points; at most this many are laid out by PCA
LANDMARKS = 10_000  # points laid out by the method itself; the rest are placed among them
NEAREST = 5  # landmarks a placed point is averaged from
PLACE_DIMS = 32  # leading dimensions compared when placing (the vectors are PCA-reduced then)


def project(vectors: np.ndarray, method: str = "umap", *, seed: int = 42,
            threads: int | None = None) -> np.ndarray:
    """An ``(n, 2)`` float32 layout of ``vectors`` (rows), scaled into [-1, 1].

    Small inputs get a fixed ``seed`` (the same map every time); large UMAP runs drop it so
    umap-learn may use ``threads`` cores.
    """
    if method not in METHODS:
        raise ValueError(f"--method must be one of {', '.join(METHODS)}, not {method!r}")
    x = np.asarray(vectors, dtype=np.float32)
    n = len(x)
    if n == 0:
        return np.zeros((0, 2), np.float32)
    if n <= TINY:
        return _scaled(_pca(x, 2) if n > 2 else np.array([[-1, 0], [1, 0]][:n], np.float32))
    if n > PCA_ABOVE and x.shape[1] > PCA_DIMS:
        x = _pca(x, PCA_DIMS)
    if n > LANDMARKS:
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(n, LANDMARKS, replace=False))
        layout = np.empty((n, 2), np.float32)
        layout[chosen] = _fit(x[chosen], method, seed, threads)
        rest = np.setdiff1d(np.arange(n), chosen, assume_unique=True)
        layout[rest] = _place(x[rest], x[chosen], layout[chosen])
    else:
        layout = _fit(x, method, seed, threads)
    return _scaled(np.asarray(layout, dtype=np.float32))


def _fit(x: np.ndarray, method: str, seed: int, threads: int | None) -> np.ndarray:
    n = len(x)
    if method == "umap":
        import umap

        large = n > PCA_ABOVE
        reducer = umap.UMAP(n_neighbors=min(15, n - 1), min_dist=0.1,
                            metric="euclidean" if large else "cosine",
                            init="spectral" if n > 50 else "random",
                            random_state=None if large else seed,
                            n_jobs=(threads or -1) if large else 1, low_memory=True)
        return np.asarray(reducer.fit_transform(x), dtype=np.float32)
    from sklearn.manifold import TSNE

    return np.asarray(TSNE(n_components=2, perplexity=max(2.0, min(30.0, (n - 1) / 3)),
                           init="pca", random_state=seed, n_jobs=threads).fit_transform(x),
                      dtype=np.float32)


def _place(points: np.ndarray, landmarks: np.ndarray, positions: np.ndarray,
           block: int = 4096) -> np.ndarray:
    """Each point at the similarity-weighted mean position of its :data:`NEAREST` most
    similar landmarks (cosine over the leading :data:`PLACE_DIMS` principal components, which
    carry most of the variance), computed a block of points at a time."""
    points, landmarks = points[:, :PLACE_DIMS], landmarks[:, :PLACE_DIMS]
    unit = landmarks / np.maximum(np.linalg.norm(landmarks, axis=1, keepdims=True), 1e-12)
    out = np.empty((len(points), 2), np.float32)
    for a in range(0, len(points), block):
        chunk = points[a:a + block]
        chunk = chunk / np.maximum(np.linalg.norm(chunk, axis=1, keepdims=True), 1e-12)
        sims = chunk @ unit.T
        near = np.argpartition(-sims, NEAREST, axis=1)[:, :NEAREST]
        weights = np.maximum(np.take_along_axis(sims, near, axis=1), 1e-6)
        out[a:a + block] = (positions[near] * weights[..., None]).sum(1) / weights.sum(
            1, keepdims=True)
    return out


def _pca(x: np.ndarray, dims: int) -> np.ndarray:
    from sklearn.decomposition import PCA

    dims = min(dims, x.shape[0], x.shape[1])
    return PCA(n_components=dims, svd_solver="randomized" if dims < min(x.shape) else "full",
               random_state=0).fit_transform(x).astype(np.float32)


def _scaled(layout: np.ndarray) -> np.ndarray:
    if layout.shape[1] < 2:  # PCA of points on a line
        layout = np.hstack([layout, np.zeros((len(layout), 2 - layout.shape[1]), np.float32)])
    centred = layout - layout.mean(axis=0)
    span = float(np.abs(centred).max()) or 1.0
    return (centred / span).astype(np.float32)
