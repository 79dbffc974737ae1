"""Building a map of an index: points, layout, clusters, labels, page; and the links a page
uses from disk (``file://`` media, thumbnails inlined) or in the chat app (its media routes)."""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from exploration.cluster import clusters, labels
from exploration.html import Links, page
from exploration.points import Point, points
from exploration.project import project
from indexing.stores.base import ClipReader

THUMB_WIDTH = 240


@dataclass(frozen=True)
class MapResult:
    """A built map page and what it took."""

    html: str
    points: int
    clusters: int
    seconds: dict[str, float] = field(default_factory=dict)


class EmptyMap(ValueError):
    """Nothing to put on the map (no clip with words at the chosen level)."""


def build_map(store: ClipReader, links: Links, *, by: str = "clips", method: str = "umap",
              title: str | None = None, threads: int | None = None) -> MapResult:
    """The map page of ``store`` at level ``by`` laid out with ``method``."""
    t0 = time.perf_counter()
    found, vectors = points(store, by)
    if not found:
        raise EmptyMap(f"nothing to map: the index at {store.db_dir} has no {by} with words")
    return map_page(found, vectors, links, method=method, threads=threads,
                    title=title or f"DEERIn map of {store.db_dir.name} ({by})",
                    started=t0)


def map_page(found: list[Point], vectors: np.ndarray, links: Links, *, method: str = "umap",
             title: str = "DEERIn map", threads: int | None = None,
             started: float | None = None) -> MapResult:
    """Lay out, cluster, label and draw ``found`` (with their ``vectors``)."""
    t0 = started if started is not None else time.perf_counter()
    t1 = time.perf_counter()
    layout = project(vectors, method, threads=threads)
    t2 = time.perf_counter()
    assigned = clusters(layout)
    names = labels([p.text for p in found], assigned)
    t3 = time.perf_counter()
    text = page(found, layout, assigned, names, links, title=title)
    t4 = time.perf_counter()
    return MapResult(text, len(found), len(names), {
        "read_s": t1 - t0, "layout_s": t2 - t1, "cluster_s": t3 - t2, "page_s": t4 - t3,
        "total_s": t4 - t0})


def disk_links() -> Links:
    """Links for a page opened from disk: media as ``file://`` URLs, keyframes inlined as
    small JPEG data URIs (the page then works anywhere the media files are)."""
    cache: dict[str, str | None] = {}

    def thumbnail(p: Point) -> str | None:
        if not p.keyframe:
            return None
        if p.keyframe not in cache:
            cache[p.keyframe] = _data_uri(Path(p.keyframe))
        return cache[p.keyframe]

    return Links(media=lambda p: Path(p.media_path).as_uri(), thumbnail=thumbnail)


def _data_uri(path: Path) -> str | None:
    try:
        from PIL import Image

        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((THUMB_WIDTH, THUMB_WIDTH))
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=70)
    except (OSError, ValueError):
        return None  # a keyframe deleted or unreadable: the point simply has no picture
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
