"""Writing file metadata into an index: manifests in, ``meta`` clips kept in step.

The fields live in the file-metadata store (:mod:`indexing.stores.file_meta`); every change to
a file's record also replaces its ``meta`` clip (:mod:`indexing.stages.meta_clips`), so search
finds the file by what its record says.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from indexing.manifest import Manifest, RowProblem, read_manifest
from indexing.stores.file_meta import FileMeta, FileMetaStore, merged

if TYPE_CHECKING:
    from indexing.protocols import Embedder
    from indexing.stores.base import ClipReader, ClipStore, MediaRecord


@dataclass(frozen=True, slots=True)
class ManifestLoad:
    """What loading a manifest did: rows stored (and whether their file is indexed yet) and
    rows refused."""

    loaded: tuple[tuple[int, Path, bool], ...]
    problems: tuple[RowProblem, ...]
    meta_clips: int = 0


def load_manifest(store: ClipStore, csv_path: Path,
                  embedder: Callable[[], Embedder]) -> ManifestLoad:
    """Read ``csv_path`` and store each good row as the ``manifest`` record of its file.

    Files already indexed get their ``meta`` clip now; files not indexed yet are stored by
    content id and get it when ``deerin index`` reaches them. ``embedder`` is called only when
    a clip has to be embedded. Raises :class:`~indexing.manifest.ManifestError` for an
    unreadable manifest.
    """
    from indexing.media import file_hash

    manifest: Manifest = read_manifest(csv_path, store.media())
    metas = FileMetaStore(store.db_dir)
    loaded: list[tuple[int, Path, bool]] = []
    problems = list(manifest.problems)
    touched: list[str] = []
    with store.writing():
        full = store.id_scheme() == "full"
        for row in manifest.rows:
            record = store.media_by_path(str(row.path))
            if record is not None:
                media_id = record.media_id
            else:
                try:
                    media_id = file_hash(row.path, full=full)
                except OSError as exc:
                    problems.append(RowProblem(row.row, f"cannot read {row.path}: "
                                                        f"{exc.strerror}"))
                    continue
            metas.put(FileMeta(media_id, str(row.path), "manifest", row.fields,
                               inputs=str(manifest.source), updated_at=time.time()))
            loaded.append((row.row, row.path, record is not None))
            if record is not None:
                touched.append(media_id)
        written = refresh_meta_clips(store, touched, embedder)
    return ManifestLoad(tuple(loaded), tuple(sorted(problems, key=lambda p: p.row)), written)


def refresh_meta_clips(store: ClipStore, media_ids: Iterable[str],
                       embedder: Callable[[], Embedder]) -> int:
    """Rewrite the ``meta`` clip of each indexed file in ``media_ids`` from its merged record,
    then bring the full-text index up to date. Takes the writer lock (re-entrant)."""
    from indexing.stages.meta_clips import write_meta_clips

    wanted = set(media_ids)
    if not wanted:
        return 0
    metas = FileMetaStore(store.db_dir)
    records = [m for m in store.media() if m.media_id in wanted]
    if not records:
        return 0
    files = [(m, merged(metas.of(m.media_id, m.path))) for m in records]
    with store.writing():
        written = write_meta_clips(store, embedder(), files)
        store.finalize()
    return written


@dataclass(frozen=True, slots=True)
class CatalogueView:
    """One file's merged record and which source gave each field."""

    fields: dict[str, object]
    sources: dict[str, str]

    @property
    def title(self) -> str:
        return str(self.fields.get("title") or "")


def catalogue_view(store: ClipReader) -> dict[str, CatalogueView]:
    """Every indexed file's merged record, by media id (files with no record are absent)."""
    from indexing.stores.file_meta import provenance

    metas = FileMetaStore(store.db_dir)
    rows = metas.by_media()
    by_path: dict[str, dict[str, FileMeta]] = {}
    for sources in rows.values():
        for meta in sources.values():
            by_path.setdefault(meta.path, {})[meta.source] = meta
    out: dict[str, CatalogueView] = {}
    for m in store.media():
        found = rows.get(m.media_id) or by_path.get(m.path)
        if found:
            out[m.media_id] = CatalogueView(merged(found), provenance(found))
    return out


def catalogue_of_db(db_dir: Path) -> dict[str, CatalogueView]:
    """:func:`catalogue_view` of the index in ``db_dir``; empty when there is no index or it
    cannot be read (the chat shows files without their records rather than failing)."""
    from indexing.stores.base import StoreError
    from indexing.stores.lance import open_reader

    try:
        return catalogue_view(open_reader(db_dir))
    except (StoreError, OSError, ValueError):
        return {}


def catalogue_titles(db_dir: Path) -> dict[str, str]:
    """The catalogue title of each titled file of the index in ``db_dir``, by media id."""
    return {mid: v.title for mid, v in catalogue_of_db(db_dir).items() if v.title}


def set_user_fields(store: ClipStore, media: MediaRecord, values: dict[str, str],
                    embedder: Callable[[], Embedder]) -> dict[str, object]:
    """Merge ``values`` into the ``user`` record of one indexed file (an empty value removes
    the field) and refresh its ``meta`` clip; return the user record."""
    metas = FileMetaStore(store.db_dir)
    current = metas.of(media.media_id, media.path).get("user")
    fields: dict[str, object] = dict(current.fields) if current else {}
    for key, value in values.items():
        if value:
            fields[key] = value
        else:
            fields.pop(key, None)
    with store.writing():
        metas.put(FileMeta(media.media_id, media.path, "user", fields, updated_at=time.time()))
        refresh_meta_clips(store, [media.media_id], embedder)
    return fields
