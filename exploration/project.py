"""Two-dimensional layouts of unit vectors: UMAP (umap-learn) or t-SNE (scikit-learn).

Large collections are first reduced to 50 dimensions with PCA (the usual step before UMAP and
t-SNE: the neighbour search is then several times faster and the layout barely changes); tiny
ones, where neither method has neighbours to learn from, are laid out by PCA alone.
"""

from __future__ import annotations

import numpy as np

METHODS = ("umap", "tsne")
PCA_ABOVE = 5_000  # points; below this the full vectors are used
PCA_DIMS = 50
TINY = 5  # points; at most this many are laid out by PCA


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
    if method == "umap":
        import umap

        large = n > PCA_ABOVE
        reducer = umap.UMAP(n_neighbors=min(15, n - 1), min_dist=0.1,
                            metric="euclidean" if large else "cosine",
                            init="spectral" if n > 50 else "random",
                            random_state=None if large else seed,
                            n_jobs=(threads or -1) if large else 1, low_memory=True)
        layout = reducer.fit_transform(x)
    else:
        from sklearn.manifold import TSNE

        layout = TSNE(n_components=2, perplexity=max(2.0, min(30.0, (n - 1) / 3)),
                      init="pca", random_state=seed, n_jobs=threads).fit_transform(x)
    return _scaled(np.asarray(layout, dtype=np.float32))


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
