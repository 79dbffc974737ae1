"""The picture-search table of an index: one CLIP vector per embedded shot frame.

CLIP vectors live in their own LanceDB tables, apart from the clips' text vectors: they are
another model's space and usually another width. One table per width (``shot_vectors_512``...),
so a model of another width never needs a table dropped under a reader. Every row names the
model that made it, and a search reads only the rows of the model it queries with, so
switching ``DEERIN_CLIP_MODEL`` never mixes spaces. Rows are keyed by media id, shot, frame
time and model: re-adding a shot is a no-op. The index's own ``remove_media``/``prune_orphans``
clear these tables with the clips (their names: :mod:`indexing.stores.lance_tables`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from indexing.stores.lance_schema import quote
from indexing.stores.lance_tables import SHOT_VECTORS_PREFIX, shot_table_name, shot_table_names
from indexing.stores.lance_versions import pin, published
from indexing.stores.location import IndexLocation


def shot_vector_schema(dim: int) -> pa.Schema:
    """The table's columns for vectors of width ``dim``."""
    return pa.schema([
        pa.field("id", pa.string()),
        pa.field("media_id", pa.string()),
        pa.field("media_path", pa.string()),
        pa.field("shot_index", pa.int32()),
        pa.field("start", pa.float64()),
        pa.field("end", pa.float64()),
        pa.field("time", pa.float64()),
        pa.field("frame", pa.string()),
        pa.field("keyframe", pa.string()),
        pa.field("model", pa.string()),
        pa.field("vector", pa.list_(pa.float32(), dim)),
    ])


@dataclass(frozen=True, slots=True)
class ShotVector:
    """One embedded frame of a shot, ready to store."""

    media_id: str
    media_path: str
    shot_index: int
    start: float
    end: float
    time: float
    frame: str
    keyframe: str  # the shot's keyframe (the picture shown for it; may differ from frame)
    vector: np.ndarray


@dataclass(frozen=True, slots=True)
class ShotMatch:
    """A shot found by picture search: its best frame and that frame's cosine similarity."""

    media_id: str
    media_path: str
    shot_index: int
    start: float
    end: float
    time: float
    frame: str
    keyframe: str
    similarity: float


class ShotVectors:
    """The ``shot_vectors`` table of the index in ``db_dir``.

    Opens its own LanceDB connection, so it can sit beside a ``LanceStore`` without reaching
    into it; writers call it while holding the store's writer lock.
    """

    def __init__(self, db_dir: Path, *, pinned: bool = False) -> None:
        """Connect to the index in ``db_dir``. A ``pinned`` reader sees the tables at the
        versions the last writer published (:mod:`~indexing.stores.lance_versions`), so never
        a file's picture vectors before its clips; writers (the default) see the latest."""
        self.db_dir = Path(db_dir)
        location = IndexLocation.parse(self.db_dir)
        self._db = location.connect()  # the index's own (maybe remote)
        pins = published(location) if pinned else None
        # A publication older than picture search names no shot table: read those as they are
        # rather than hide vectors an index has had all along.
        if pins is not None and not any(name.startswith(SHOT_VECTORS_PREFIX) for name in pins):
            pins = None
        self._pins = pins

    def _open(self, name: str) -> Any | None:
        try:
            table = self._db.open_table(name)
        except (FileNotFoundError, ValueError):
            return None
        return pin(table, name, self._pins)

    def _table(self, dim: int) -> Any | None:
        return self._open(shot_table_name(dim))

    def _tables(self) -> list[Any]:
        return [t for t in map(self._open, shot_table_names(self._db)) if t is not None]

    def add(self, model: str, rows: Sequence[ShotVector]) -> int:
        """Upsert ``rows`` made by ``model``; return how many were new."""
        if not rows:
            return 0
        dim = int(np.asarray(rows[0].vector).shape[-1])
        t = self._table(dim)
        if t is None:
            t = self._db.create_table(shot_table_name(dim), schema=shot_vector_schema(dim),
                                      exist_ok=True)
        data = [{"id": f"{r.media_id}:{r.shot_index}:{r.time:.3f}:{model}",
                 "media_id": r.media_id, "media_path": r.media_path,
                 "shot_index": r.shot_index, "start": r.start, "end": r.end, "time": r.time,
                 "frame": r.frame, "keyframe": r.keyframe, "model": model,
                 "vector": np.asarray(r.vector, dtype=np.float32).tolist()} for r in rows]
        res = t.merge_insert("id").when_not_matched_insert_all().execute(data)
        inserted = getattr(res, "num_inserted_rows", None)
        return int(inserted) if inserted is not None else len(data)

    def count(self, model: str | None = None) -> int:
        """Stored frames (of ``model`` only, when given)."""
        where = f"model = {quote(model)}" if model else None
        return sum(int(t.count_rows(where)) for t in self._tables())

    def models(self) -> list[str]:
        """The models whose vectors the table holds."""
        return sorted({m for t in self._tables()
                       for m in t.to_arrow().select(["model"]).column("model").to_pylist()})

    def has(self, model: str, media_id: str) -> bool:
        """Whether ``media_id`` already has frames of ``model``."""
        where = f"model = {quote(model)} AND media_id = {quote(media_id)}"
        return any(t.count_rows(where) for t in self._tables())

    def of_media(self, media_id: str) -> list[tuple[str, ShotVector]]:
        """Every stored frame of ``media_id``, with the model that embedded it."""
        out: list[tuple[str, ShotVector]] = []
        for t in self._tables():
            for r in t.search().where(f"media_id = {quote(media_id)}").to_arrow().to_pylist():
                out.append((r["model"], ShotVector(
                    r["media_id"], r["media_path"], int(r["shot_index"]), float(r["start"]),
                    float(r["end"]), float(r["time"]), r["frame"], r["keyframe"],
                    np.asarray(r["vector"], dtype=np.float32))))
        return out

    def search(self, model: str, vector: np.ndarray, k: int = 10) -> list[ShotMatch]:
        """The ``k`` shots whose best frame is closest to ``vector``, best first."""
        t = self._table(len(vector))
        if t is None:
            return []
        rows = (t.search(np.asarray(vector, dtype=np.float32), vector_column_name="vector")
                .distance_type("cosine").where(f"model = {quote(model)}", prefilter=True)
                .select(["media_id", "media_path", "shot_index", "start", "end", "time",
                         "frame", "keyframe", "_distance"])
                .limit(max(4 * k, k + 8)).to_list())  # a shot may have several frames
        best: dict[tuple[str, int], ShotMatch] = {}
        for r in rows:
            key = (r["media_id"], int(r["shot_index"]))
            sim = 1.0 - float(r["_distance"])
            if key not in best or sim > best[key].similarity:
                best[key] = ShotMatch(r["media_id"], r["media_path"], int(r["shot_index"]),
                                      float(r["start"]), float(r["end"]), float(r["time"]),
                                      r["frame"], r["keyframe"], sim)
        return sorted(best.values(), key=lambda m: -m.similarity)[:k]
