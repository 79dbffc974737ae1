"""Captions already computed, by captioning model and keyframe content hash.

A caption is the slow part of enrichment (seconds per keyframe on a CPU); the cache lets a
re-indexed file whose keyframes did not change, or a run killed mid-way, get its captions
back without running the model again. It is its own LanceDB table (``captions``) in the index
folder, written through its own connection by the writer that holds the index's lock.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from indexing.stores.lance_schema import quote

TABLE = "captions"
SCHEMA = pa.schema([
    pa.field("id", pa.string()), pa.field("model", pa.string()),
    pa.field("image", pa.string()), pa.field("text", pa.string()),
    pa.field("at", pa.float64()),
])


def image_hash(path: Path) -> str:
    """The content hash of a keyframe file (sha256, 24 hex digits)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:24]


class CaptionCache:
    """The ``captions`` table of the index in ``db_dir``."""

    def __init__(self, db_dir: Path) -> None:
        import lancedb  # lazy, as in LanceStore

        self._db = lancedb.connect(str(db_dir))

    def _table(self, create: bool = False) -> Any:
        try:
            return self._db.open_table(TABLE)
        except (FileNotFoundError, ValueError):
            if not create:
                return None
            return self._db.create_table(TABLE, schema=SCHEMA, exist_ok=True)

    def get(self, model: str, images: Iterable[str]) -> dict[str, str]:
        """The cached captions of ``model`` for the given image hashes (hash -> text)."""
        t = self._table()
        wanted = sorted(set(images))
        if t is None or not wanted:
            return {}
        found: dict[str, str] = {}
        for i in range(0, len(wanted), 500):  # keep the IN list of one filter short
            ids = ", ".join(quote(f"{model}:{h}") for h in wanted[i:i + 500])
            for r in t.search().where(f"id IN ({ids})").select(["image", "text"]) \
                    .limit(len(wanted)).to_list():
                found[r["image"]] = r["text"]
        return found

    def put(self, model: str, captions: dict[str, str]) -> None:
        """Remember ``captions`` (image hash -> text) of ``model``; re-putting is a no-op."""
        if not captions:
            return
        t = self._table(create=True)
        now = time.time()
        rows = [{"id": f"{model}:{h}", "model": model, "image": h, "text": text, "at": now}
                for h, text in captions.items()]
        t.merge_insert("id").when_not_matched_insert_all().execute(rows)

    def count(self, model: str | None = None) -> int:
        """Cached captions (of ``model`` only, when given)."""
        t = self._table()
        if t is None:
            return 0
        return int(t.count_rows(f"model = {quote(model)}" if model else None))
