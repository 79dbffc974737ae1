"""The LanceDB store: media records, clips (text + vector, full-text indexed) and shots on disk.

Search is hybrid: a BM25 full-text query and vector queries whose rankings are fused with
reciprocal rank fusion (:mod:`indexing.stores.lance_search`).

``deerin.json`` beside the tables records what the index was built with
(:mod:`indexing.stores.meta`).
Writers hold :meth:`LanceStore.writing` (an exclusive file lock) for a whole run, and publish the
table versions readers see after each completed file (:mod:`indexing.stores.lance_versions`).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np
import pyarrow as pa

from indexing.stores.base import ClipReader, ClipStore, FailureRecord, MediaRecord, StoreError
from indexing.stores.file_meta import TABLE as FILE_META_TABLE
from indexing.stores.lance_index import (
    FTS_INDEX,
    ensure_fts_index,
    ensure_vector_index,
    has_index,
    refresh,
    unindexed_rows,
)
from indexing.stores.lance_schema import (
    ADDED_FIELDS,
    FAILURE_SCHEMA,
    SHOT_SCHEMA,
    clip_schema,
    media_schema,
    quote,
    window_schema,
)
from indexing.stores.lance_search import HybridSearch
from indexing.stores.lance_tables import shot_table_names
from indexing.stores.lance_versions import VERSIONS_FILE, pin, publish, published
from indexing.stores.lease import ObjectLease, writer_lock
from indexing.stores.location import IndexLocation
from indexing.stores.lock import WriterLock
from indexing.stores.meta import META_FILE, IndexMeta
from indexing.types import Clip, ClipKind, Hit, Shot, TextTime

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _writes(*, ends_file: bool) -> Callable[
        [Callable[Concatenate[LanceStore, _P], _R]], Callable[Concatenate[LanceStore, _P], _R]]:
    """Mark a method that writes tables: it works on the latest versions (never a reader's
    pinned ones) and then publishes them to readers, if ``ends_file`` (it completes a
    consistent state) or if no run is going (each call then stands alone)."""
    def wrap(method: Callable[Concatenate[LanceStore, _P], _R]
             ) -> Callable[Concatenate[LanceStore, _P], _R]:
        @functools.wraps(method)
        def writing(self: LanceStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            self._unpin()
            result = method(self, *args, **kwargs)
            if ends_file or not self._writer.held:
                publish(self.location, self._db)
            return result
        return writing
    return wrap


class LanceStore:
    """A :class:`~indexing.stores.base.ClipStore` (reader and writer) in a LanceDB directory."""

    META_FILE = META_FILE

    def __init__(self, db_dir: Path | str | IndexLocation, *, create: bool = True,
                 writer: WriterLock | ObjectLease | None = None) -> None:
        """Open the index in ``db_dir`` (creating it unless ``create`` is false): a folder,
        an ``s3://`` URI or a folder pointing at one (:mod:`indexing.stores.location`).

        ``writer`` is a writer lock the caller already holds on ``db_dir`` (see
        :meth:`writing`); by default the store makes its own.
        """
        self.location = IndexLocation.parse(db_dir)
        # Local files of the index (keyframes, graph...): for a remote index, this machine's
        # folder for it.
        self.db_dir = self.location.local_dir
        self.meta = IndexMeta(self.location)
        if not create and not self.meta.exists():
            raise StoreError(f"no DEERIn index at {self.location} (run `deerin index PATH` "
                             "first)")
        self.meta.check_format()
        new = not self.meta.exists()
        self.location.bind()
        self._db = self.location.connect()
        self._lock = threading.Lock()
        self._writer = writer or writer_lock(self.location)
        # Whether this object changed the clips since the full-text index last caught up; a
        # fresh object also checks the index itself (a killed run may have left rows behind).
        self._fts_dirty = False
        self._tables: dict[str, Any] = {}
        self._names: dict[int, tuple[Any, frozenset[str]]] = {}  # id(table) -> (table, columns)
        # A reader sees the table versions the last writer published, not a file half-written.
        self._pins = None if create else published(self.location)
        if new:
            self.meta.create()

    @contextmanager
    def writing(self, wait: float = 0.0) -> Iterator[WriterLock | ObjectLease]:
        """Hold the exclusive writer lock of this index (for a whole run).

        Waits up to ``wait`` seconds for another writer, then raises
        :class:`~indexing.stores.lock.StoreBusy`. Re-entrant: code holding it may call code that
        takes it again. Readers never need it.
        """
        outermost = not self._writer.held
        if outermost:
            self._writer.wait = wait
        with self._writer:
            if outermost:
                # Table handles stay at the version they were opened at; another writer may
                # have committed since, and this run must see (and prune) the latest rows.
                self._unpin()
                self._tables.clear()
            yield self._writer
            if outermost:  # a run that raised keeps its last completed file published
                publish(self.location, self._db)

    def _unpin(self) -> None:
        """Work on the latest table versions from now on (before writing)."""
        if self._pins is not None:
            self._pins = None
            self._tables.clear()

    # -- metadata (deerin.json) ---------------------------------------------------------------
    def embedder(self) -> tuple[str, int] | None:
        return self.meta.embedder()

    def ensure_embedder(self, model_id: str, dim: int) -> None:
        self.meta.ensure_embedder(model_id, dim)

    def id_scheme(self) -> str | None:
        """How this store's media ids were hashed (``sampled`` or ``full``), None if not yet."""
        return self.meta.id_scheme()

    def ensure_id_scheme(self, scheme: str) -> None:
        self.meta.ensure_id_scheme(scheme)

    # -- tables --------------------------------------------------------------------------------
    def _table(self, name: str) -> Any | None:
        if name in self._tables:
            return self._tables[name]
        if self._pins is not None and name not in self._pins:
            # Unpublished: a reader never sees it, so it need not ask LanceDB (a search asks
            # for the windows table every time, and an index may have none).
            return None
        try:
            t = self._db.open_table(name)
        except (FileNotFoundError, ValueError):
            return None
        pinned = pin(t, name, self._pins)
        if pinned is not None:
            self._tables[name] = pinned
        return pinned

    def _table_or_create(self, name: str, schema: pa.Schema) -> Any:
        t = self._table(name)
        if t is None:
            t = self._db.create_table(name, schema=schema, exist_ok=True)
            self._tables[name] = t
        else:
            # A table from before a column was added gets it now (null = unknown); only a
            # writer gets here, so readers never change an index.
            missing = [f for f in ADDED_FIELDS.get(name, ()) if f.name not in t.schema.names]
            if missing:
                t.add_columns(missing)
                self._names.pop(id(t), None)
        return t

    def _columns(self, table: Any, wanted: Sequence[str]) -> list[str]:
        """The ``wanted`` columns that ``table`` has (older tables lack the added ones)."""
        # Asking LanceDB for a schema costs a round trip to its event loop, several per search
        # otherwise; a handle's columns change only when this store adds one.
        known = self._names.get(id(table))
        if known is None or known[0] is not table:
            known = (table, frozenset(table.schema.names))
            self._names[id(table)] = known
        return [c for c in wanted if c in known[1]]

    # -- media ---------------------------------------------------------------------------------
    def media(self) -> list[MediaRecord]:
        t = self._table("media")
        if t is None:
            return []
        rows = t.to_arrow().to_pylist()
        return sorted((MediaRecord(**r) for r in rows), key=lambda m: m.path)

    def media_by_path(self, path: str) -> MediaRecord | None:
        t = self._table("media")
        if t is None:
            return None
        rows = t.search().where(f"path = {quote(path)}").limit(2).to_list()
        return MediaRecord(**{k: rows[0][k] for k in media_schema().names}) if rows else None

    @_writes(ends_file=True)
    def put_media(self, record: MediaRecord) -> None:
        with self._lock:
            t = self._table_or_create("media", media_schema())
            t.delete(f"path = {quote(record.path)}")
            t.add([asdict(record)])

    # In a run, removing is the first step of re-indexing a file: publishing here would show
    # readers the collection without it. Alone (deerin remove), it publishes at once.
    @_writes(ends_file=False)
    def remove_media(self, path: str) -> None:
        with self._lock:
            tables = [(t, "media_path") for t in self._per_file_tables()] + [("media", "path")]
            for name, column in tables:
                t = self._table(name)
                if t is not None and t.count_rows(f"{column} = {quote(path)}"):
                    # Deleting nothing would still write a table version.
                    t.delete(f"{column} = {quote(path)}")
                    self._fts_dirty |= name == "clips"

    def _per_file_tables(self) -> list[str]:
        """The tables whose rows belong to one file: clips, windows, shots and the
        picture-search tables (:mod:`indexing.stores.shot_vectors`, one per vector width)."""
        return ["clips", "windows", "shots", *shot_table_names(self._db)]

    # -- clips and shots -----------------------------------------------------------------------
    @_writes(ends_file=False)
    def remove_clips(self, media_path: str, kind: ClipKind) -> None:
        """Drop the clips (and their windows) of one kind of one file, e.g. to replace its
        ``meta`` clip when its catalogue record changes."""
        cond = f"media_path = {quote(media_path)} AND kind = {quote(kind.value)}"
        with self._lock:
            for name in ("clips", "windows"):
                t = self._table(name)
                if t is not None and t.count_rows(cond):
                    t.delete(cond)
                    self._fts_dirty |= name == "clips"

    @_writes(ends_file=False)
    def add_clips(self, clips: Sequence[Clip], vectors: np.ndarray,
                  windows: Sequence[tuple[int, np.ndarray]] = ()) -> int:
        """Upsert clips by content id, with optional sub-clip window vectors.

        ``windows`` pairs an index into ``clips`` with the vector of a few sentences of that clip;
        search scores a clip by its own vector and its best window.
        """
        if not clips:
            return 0
        if len(clips) != len(vectors):
            raise ValueError("one vector per clip is needed")
        emb = self.embedder()
        if emb is None:
            raise StoreError("call ensure_embedder() before adding clips")
        rows = [
            {"id": c.clip_id, "media_id": c.media_id, "media_path": c.media_path,
             "kind": c.kind.value, "start": c.start, "end": c.end, "seq": c.seq,
             "shot_index": -1 if c.shot_index is None else c.shot_index,
             "keyframe": c.keyframe or "", "text": c.text, "language": c.language or "",
             "times": [{"c0": t.char_start, "c1": t.char_end, "s": t.start, "e": t.end}
                       for t in c.times],
             "vector": np.asarray(v, dtype=np.float32).tolist(),
             "box": list(c.box) if c.box else None}
            for c, v in zip(clips, vectors, strict=True)
        ]
        with self._lock:
            t = self._table_or_create("clips", clip_schema(emb[1]))
            # merge_insert on the content id makes re-adding the same clips a no-op
            res = (t.merge_insert("id").when_not_matched_insert_all().execute(rows))
            if len(windows):
                w = self._table_or_create("windows", window_schema(emb[1]))
                wrows = [{"id": f"{clips[i].clip_id}:{j}", "clip_id": clips[i].clip_id,
                          "media_id": clips[i].media_id, "media_path": clips[i].media_path,
                          "kind": clips[i].kind.value,
                          "vector": np.asarray(v, dtype=np.float32).tolist()}
                         for j, (i, v) in enumerate(windows)]
                w.merge_insert("id").when_not_matched_insert_all().execute(wrows)
            self._fts_dirty = True
        inserted = getattr(res, "num_inserted_rows", None)
        return int(inserted) if inserted is not None else len(rows)

    @_writes(ends_file=False)
    def add_shots(self, media_id: str, media_path: str, shots: Sequence[Shot]) -> None:
        if not shots:
            return
        rows = [
            {"id": f"{media_id}:{s.index}", "media_id": media_id, "media_path": media_path,
             "idx": s.index, "start": s.start, "end": s.end,
             "keyframe": str(s.keyframe) if s.keyframe else "",
             "keyframe_time": -1.0 if s.keyframe_time is None else s.keyframe_time,
             "faces": s.faces}
            for s in shots
        ]
        with self._lock:
            t = self._table_or_create("shots", SHOT_SCHEMA)
            t.merge_insert("id").when_matched_update_all().when_not_matched_insert_all() \
                .execute(rows)

    @staticmethod
    def _row_to_clip(r: dict[str, Any]) -> Clip:
        return Clip(
            media_id=r["media_id"], media_path=r["media_path"], kind=ClipKind(r["kind"]),
            start=float(r["start"]), end=float(r["end"]), text=r["text"], seq=int(r["seq"]),
            shot_index=None if r["shot_index"] < 0 else int(r["shot_index"]),
            keyframe=r["keyframe"] or None, language=r["language"] or None,
            # Stored as float32: rounding to the millisecond gives back the times as written.
            times=tuple(TextTime(int(t["c0"]), int(t["c1"]), round(float(t["s"]), 3),
                                 round(float(t["e"]), 3)) for t in r["times"] or ()),
            box=_box(r.get("box")),
        )

    _CLIP_COLUMNS = ("id", "media_id", "media_path", "kind", "start", "end", "seq", "shot_index",
                     "keyframe", "text", "language", "times", "box")

    def clips_of(self, media_id: str) -> list[Clip]:
        t = self._table("clips")
        if t is None:
            return []
        rows = (t.search().where(f"media_id = {quote(media_id)}")
                .select(self._columns(t, self._CLIP_COLUMNS)).limit(1_000_000).to_list())
        clips = [self._row_to_clip(r) for r in rows]
        return sorted(clips, key=lambda c: (c.kind.value, c.start, c.seq))

    def clip(self, clip_id: str) -> Clip | None:
        """The clip with this content id, or ``None``: one keyed lookup, not a scan of the
        file's clips (large tables have a B-tree on ``id``)."""
        t = self._table("clips")
        if t is None:
            return None
        rows = (t.search().where(f"id = {quote(clip_id)}")
                .select(self._columns(t, self._CLIP_COLUMNS)).limit(1).to_list())
        return self._row_to_clip(rows[0]) if rows else None

    def all_clips(self) -> list[Clip]:
        """Every clip in the store (for evaluation baselines and exports)."""
        t = self._table("clips")
        if t is None:
            return []
        rows = t.to_arrow().select(self._columns(t, self._CLIP_COLUMNS)).to_pylist()
        return [self._row_to_clip(r) for r in rows]

    def clip_vectors(self) -> tuple[list[Clip], np.ndarray]:
        """Every clip with its stored vector, row for row (for maps of the collection)."""
        t = self._table("clips")
        if t is None:
            return [], np.zeros((0, 0), dtype=np.float32)
        table = t.to_arrow().select([*self._CLIP_COLUMNS, "vector"])
        column = table.column("vector").combine_chunks()
        dim = column.type.list_size
        vectors = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
        clips = [self._row_to_clip(r) for r in table.drop_columns(["vector"]).to_pylist()]
        return clips, vectors.reshape(len(clips), dim)

    def shots_of(self, media_id: str) -> list[Shot]:
        t = self._table("shots")
        if t is None:
            return []
        rows = t.search().where(f"media_id = {quote(media_id)}").limit(1_000_000).to_list()
        shots = [Shot(index=int(r["idx"]), start=r["start"], end=r["end"],
                      keyframe=Path(r["keyframe"]) if r["keyframe"] else None,
                      keyframe_time=None if r["keyframe_time"] < 0 else r["keyframe_time"],
                      faces=None if r.get("faces") is None else int(r["faces"]))
                 for r in rows]
        return sorted(shots, key=lambda s: s.index)

    def count_clips(self, media_id: str | None = None) -> int:
        t = self._table("clips")
        if t is None:
            return 0
        return int(t.count_rows(f"media_id = {quote(media_id)}" if media_id else None))

    @_writes(ends_file=False)
    def prune_orphans(self) -> int:
        """Drop clips and shots that no media record vouches for; return how many files had any.

        They are what an interrupted run leaves behind: the media record is written last, so a
        file killed mid-write has rows here but no record (or a record of older content).
        """
        done = {m.path: m.media_id for m in self.media()}
        stale: dict[str, str | None] = {}
        derived = self._per_file_tables()
        for name in derived:
            table = self._table(name)
            if table is None:
                continue
            for r in table.to_arrow().select(["media_path", "media_id"]).to_pylist():
                if done.get(r["media_path"]) != r["media_id"]:
                    stale[r["media_path"]] = done.get(r["media_path"])
        with self._lock:
            for path, keep in stale.items():
                cond = f"media_path = {quote(path)}"
                if keep is not None:
                    cond += f" AND media_id != {quote(keep)}"
                for name in derived:
                    table = self._table(name)
                    if table is not None and table.count_rows(cond):
                        table.delete(cond)
                        self._fts_dirty |= name == "clips"
        return len(stale)

    # -- search --------------------------------------------------------------------------------
    @_writes(ends_file=True)
    def finalize(self) -> bool:
        """Bring the full-text (and, for large stores, vector) index up to date; return whether
        anything had to be done.

        Called after a batch of writes, not per file: rebuilding per file would make indexing
        quadratic. When nothing changed (a re-run over unchanged files) it writes nothing, so
        the table keeps its version. Otherwise the first call builds the full-text index and
        later ones fold new rows into it and drop deleted ones (``optimize``: incremental, and
        it compacts the small fragments each file's write leaves).
        """
        t = self._table("clips")
        if t is None:
            return False
        with self._lock:
            has_fts = has_index(t, FTS_INDEX)
            if has_fts and not self._fts_dirty and not unindexed_rows(t, FTS_INDEX):
                return False
            ensure_fts_index(t)
            # Compact first, so an ANN index built now is built once, on the compacted rows.
            refresh(t)
            w = self._table("windows")
            if w is not None:
                refresh(w)
            # Past the size threshold, clips and windows get an ANN index (built once, then
            # kept up to date by refresh); below it search scans exactly.
            for table in (t, w):
                if table is not None:
                    ensure_vector_index(table)
            self._fts_dirty = False
            return True

    @functools.cached_property
    def _searcher(self) -> HybridSearch:
        return HybridSearch(self._table, self._columns, self._row_to_clip, self._CLIP_COLUMNS)

    def search(self, text: str, vector: np.ndarray | None, k: int = 10,
               kinds: Sequence[ClipKind] | None = None, depth: int = 50) -> list[Hit]:
        """Hybrid search (:mod:`indexing.stores.lance_search`); each hit's ``similarity`` is
        the mean of the clip's cosine and its best window's cosine (a clip whose window ranks
        nowhere counts its own cosine)."""
        return self._searcher.search(text, vector, k=k, kinds=kinds, depth=depth)

    def neighbours(self, clip: Clip, radius: int = 1) -> list[Clip]:
        t = self._table("clips")
        if t is None:
            return []
        cond = (f"media_id = {quote(clip.media_id)} AND kind = {quote(clip.kind.value)} "
                f"AND seq >= {clip.seq - radius} AND seq <= {clip.seq + radius} "
                f"AND seq != {clip.seq}")
        rows = t.search().where(cond).select(self._columns(t, self._CLIP_COLUMNS)) \
            .limit(2 * radius + 1).to_list()
        return sorted((self._row_to_clip(r) for r in rows), key=lambda c: c.seq)

    # -- failures ------------------------------------------------------------------------------
    @_writes(ends_file=False)
    def record_failure(self, path: str, reason: str, stage: str) -> None:
        with self._lock:
            t = self._table_or_create("failures", FAILURE_SCHEMA)
            t.delete(f"path = {quote(path)}")
            t.add([{"path": path, "reason": reason, "stage": stage, "at": time.time()}])

    @_writes(ends_file=False)
    def clear_failure(self, path: str) -> None:
        t = self._table("failures")
        if t is not None:
            with self._lock:
                t.delete(f"path = {quote(path)}")

    def failures(self) -> list[FailureRecord]:
        t = self._table("failures")
        if t is None:
            return []
        return sorted((FailureRecord(**r) for r in t.to_arrow().to_pylist()),
                      key=lambda f: f.path)


def _box(value: Any) -> tuple[float, float, float, float] | None:
    """A stored text box as a tuple (float32 rounded back to what was written)."""
    if value is None or len(value) != 4:
        return None
    a, b, c, d = (round(float(v), 4) for v in value)
    return (a, b, c, d)


def erase_index(db_dir: Path | str | IndexLocation) -> None:
    """Delete the DEERIn index in ``db_dir``: its tables, keyframes and metadata, nothing else.

    The file-metadata table (manifest and catalogue records) is kept: the rebuilt index picks
    the records up again.

    Hold the directory's writer lock. Refuses a directory that holds no DEERIn index, so a
    mistyped ``--db`` cannot wipe an unrelated folder.
    """
    location = IndexLocation.parse(db_dir)
    if not location.remote and not location.local_dir.exists():
        return
    if not location.exists(LanceStore.META_FILE):
        if location.remote and not location.list():
            return
        raise StoreError(f"{location} holds no DEERIn index ({LanceStore.META_FILE} missing); "
                         "not erasing it")
    for name in location.list():
        if name == f"{FILE_META_TABLE}.lance":
            continue  # what archivists wrote about their files outlives a rebuild of the clips
        if name.endswith(".lance") or name == "keyframes":
            location.delete(name)
    if location.remote:  # this machine's copy of the keyframes goes with them
        location.delete_local("keyframes")
    location.delete(LanceStore.META_FILE)
    location.delete(VERSIONS_FILE)


def open_reader(where: Path | str | IndexLocation) -> ClipReader:
    """The index at ``where`` (as :class:`LanceStore` takes it), opened for reading: it shows
    the versions the last writer published. Raise :class:`StoreError` when there is none."""
    return LanceStore(where, create=False)


# mypy checks here that LanceStore implements the whole store protocol: the reader and the
# writer halves.
_: type[ClipStore] = LanceStore
