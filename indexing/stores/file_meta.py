"""The file-metadata store: descriptive fields per media file, by where they came from.

One LanceDB table (``file_meta``) beside the clips holds, for each media id, one row per
*source*: ``manifest`` (an archivist's collection manifest), ``llm`` (the catalogue the LLM
wrote) and ``user`` (edits made by hand). Fields are kept as a JSON object, so a manifest's extra
columns survive as they are. :func:`merged` is the one place that decides precedence: an
archivist's word beats the LLM's.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from indexing.stores.lance_schema import quote
from indexing.stores.location import IndexLocation

TABLE = "file_meta"
SOURCES = ("user", "manifest", "llm")  # highest precedence first

FILE_META_SCHEMA = pa.schema([
    pa.field("id", pa.string()),
    pa.field("media_id", pa.string()),
    pa.field("path", pa.string()),
    pa.field("source", pa.string()),
    pa.field("fields", pa.string()),  # a JSON object
    pa.field("inputs", pa.string()),  # a hash of what produced the fields (resumption)
    pa.field("updated_at", pa.float64()),
])


@dataclass(frozen=True, slots=True)
class FileMeta:
    """The fields one source gave one file."""

    media_id: str
    path: str
    source: str
    fields: dict[str, Any]
    inputs: str = ""
    updated_at: float = 0.0


class FileMetaStore:
    """The ``file_meta`` table of the index in ``db_dir`` (created on first write)."""

    def __init__(self, db_dir: Path) -> None:
        self.db_dir = Path(db_dir)
        self._db = IndexLocation.parse(self.db_dir).connect()  # the index's own (maybe remote)

    def _table(self) -> Any | None:
        try:
            return self._db.open_table(TABLE)
        except (FileNotFoundError, ValueError):
            return None

    def put(self, meta: FileMeta) -> None:
        """Store (replace) what ``meta.source`` says about ``meta.media_id``."""
        if meta.source not in SOURCES:
            raise ValueError(f"unknown metadata source {meta.source!r}; one of {SOURCES}")
        table = self._table()
        if table is None:
            table = self._db.create_table(TABLE, schema=FILE_META_SCHEMA, exist_ok=True)
        row = {"id": f"{meta.media_id}:{meta.source}", "media_id": meta.media_id,
               "path": meta.path, "source": meta.source,
               "fields": json.dumps(meta.fields, ensure_ascii=False, sort_keys=True),
               "inputs": meta.inputs, "updated_at": meta.updated_at or time.time()}
        table.merge_insert("id").when_matched_update_all().when_not_matched_insert_all() \
            .execute([row])

    def delete(self, media_id: str, source: str) -> None:
        """Forget what ``source`` said about ``media_id`` (nothing happens if it said nothing)."""
        table = self._table()
        cond = f"id = {quote(f'{media_id}:{source}')}"
        if table is not None and table.count_rows(cond):
            table.delete(cond)

    def all(self) -> list[FileMeta]:
        """Every stored row."""
        table = self._table()
        if table is None:
            return []
        return [_meta(r) for r in table.to_arrow().to_pylist()]

    def _where(self, condition: str) -> list[FileMeta]:
        table = self._table()
        if table is None:
            return []
        return [_meta(r) for r in table.search().where(condition).limit(len(SOURCES) * 64)
                .to_list()]

    def of(self, media_id: str, path: str | None = None) -> dict[str, FileMeta]:
        """What each source says about one file, by source.

        A file whose bytes changed since (a new media id) keeps what was said about the path.
        """
        found = {m.source: m for m in self._where(f"media_id = {quote(media_id)}")}
        if not found and path is not None:
            rows = sorted(self._where(f"path = {quote(path)}"), key=lambda m: m.updated_at)
            found = {m.source: m for m in rows}  # the latest record of each source wins
        return found

    def by_media(self) -> dict[str, dict[str, FileMeta]]:
        """Every file's rows: media id -> source -> fields."""
        out: dict[str, dict[str, FileMeta]] = {}
        for m in self.all():
            out.setdefault(m.media_id, {})[m.source] = m
        return out


def _winners(by_source: dict[str, FileMeta]) -> dict[str, tuple[str, Any]]:
    """Each field's winning source and value: a higher source (user, then manifest) wins over
    the LLM; empty values never win."""
    out: dict[str, tuple[str, Any]] = {}
    for source in reversed(SOURCES):
        meta = by_source.get(source)
        if meta is None:
            continue
        for key, value in meta.fields.items():
            if value not in (None, "", [], {}):
                out[key] = (source, value)
    return out


def merged(by_source: dict[str, FileMeta]) -> dict[str, Any]:
    """One view of a file's fields: a field a higher source gives (user, then manifest) wins
    over the LLM's; empty values never win."""
    return {key: value for key, (_, value) in _winners(by_source).items()}


def provenance(by_source: dict[str, FileMeta]) -> dict[str, str]:
    """Which source each field of :func:`merged` comes from."""
    return {key: source for key, (source, _) in _winners(by_source).items()}


def _meta(row: dict[str, Any]) -> FileMeta:
    return FileMeta(row["media_id"], row["path"], row["source"], json.loads(row["fields"]),
                    row["inputs"], row["updated_at"])
