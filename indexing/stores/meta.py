"""``deerin.json``: what an index was built with — its format, embedder and media-id scheme,
and the machines that wrote it.

A store refuses to mix in vectors of another embedder or ids of another hashing scheme, and
refuses to open an index of another format (re-index with ``deerin index --rebuild``). The file
is small and rewritten atomically, so a killed writer never leaves half of it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from indexing.stores.base import StoreError
from indexing.stores.location import IndexLocation

META_FILE = "deerin.json"
# 2: clips carry `language` and `times` (the seconds of each word or cue).
INDEX_FORMAT = 2


class IndexMeta:
    """The metadata file of the index at ``db`` (a folder or an :class:`IndexLocation`)."""

    def __init__(self, db: Path | IndexLocation) -> None:
        self.location = IndexLocation.parse(db)
        self.where = str(self.location)  # the index, as users name it in messages
        # The embedder never changes once recorded: remembered so a search does not re-read
        # the file for every query.
        self._embedder: tuple[str, int] | None = None

    def exists(self) -> bool:
        return self.location.exists(META_FILE)

    def read(self) -> dict[str, Any]:
        """The recorded values (empty for a new index)."""
        try:
            text = self.location.read_text(META_FILE)
            return {} if text is None else dict(json.loads(text))
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"index metadata {self.where}/{META_FILE} is unreadable: "
                             f"{exc}") from exc

    def write(self, meta: dict[str, Any]) -> None:
        self.location.write_text(META_FILE, json.dumps(meta, indent=2))

    def create(self) -> None:
        """Record a new, empty index of the current format."""
        self.write({"format": INDEX_FORMAT, "embedder": None, "dim": None, "id_scheme": None})

    def check_format(self) -> None:
        """Refuse an index written in another format: its clips lack (or have unknown) columns."""
        meta = self.read()
        if not meta:
            return
        found = int(meta.get("format") or 1)
        db_dir = self.where
        if found < INDEX_FORMAT:
            raise StoreError(
                f"index format {found} is older than this DEERIn (format {INDEX_FORMAT}: clips "
                f"with word times and language): re-index with `deerin index --db {db_dir} PATH "
                "--rebuild`")
        if found > INDEX_FORMAT:
            raise StoreError(f"index format {found} at {db_dir} is newer than this DEERIn "
                             f"(format {INDEX_FORMAT}): upgrade DEERIn or use another --db "
                             "directory")

    def embedder(self) -> tuple[str, int] | None:
        """The (model_id, dim) that built the index, or None for an empty index."""
        if self._embedder is None:
            meta = self.read()
            if meta.get("embedder"):
                self._embedder = (str(meta["embedder"]), int(meta["dim"]))
        return self._embedder

    def ensure_embedder(self, model_id: str, dim: int) -> None:
        """Record the embedder on first use; raise :class:`StoreError` if another built it."""
        current = self.embedder()
        if current is None:
            self._update(embedder=model_id, dim=dim)
        elif current != (model_id, dim):
            raise StoreError(
                f"index at {self.where} was built with embedder {current[0]} (dim "
                f"{current[1]}); refusing to mix in vectors from {model_id} (dim {dim}). "
                "Use another --db directory or re-index with the original embedder.")

    def id_scheme(self) -> str | None:
        """How media ids were hashed (``sampled`` or ``full``), None if not yet recorded."""
        value = self.read().get("id_scheme")
        return str(value) if value else None

    def ensure_id_scheme(self, scheme: str) -> None:
        """Record the id scheme on first use; raise :class:`StoreError` on another one."""
        current = self.id_scheme()
        if current is None:
            self._update(id_scheme=scheme)
        elif current != scheme:
            flag = "--full-hash" if current == "full" else "no --full-hash"
            raise StoreError(
                f"index at {self.where} identifies files by {current} content hashes; "
                f"refusing to mix in {scheme}-hash ids (the same file would get two ids). "
                f"Index with {flag}, or use another --db directory.")

    def machines(self) -> list[dict[str, Any]]:
        """The machines that wrote to the index (see :meth:`record_machine`), oldest first."""
        return list(self.read().get("machines") or [])

    def record_machine(self, facts: dict[str, Any], fingerprint: str, at: float) -> None:
        """Note that the machine ``facts`` describe (CPU, kernel switches, library versions;
        see :mod:`indexing.machine`) wrote to the index at ``at``: one entry per fingerprint,
        with the first and last time, so a reader can tell whether two indexes are comparable."""
        machines = self.machines()
        for entry in machines:
            if entry.get("fingerprint") == fingerprint:
                entry["last"] = at
                break
        else:
            machines.append({"fingerprint": fingerprint, "first": at, "last": at, **facts})
        self._update(machines=machines)

    def _update(self, **values: Any) -> None:
        meta = self.read()
        meta.update(values)
        self.write(meta)
