"""A file's catalogue record as one searchable clip of kind ``meta``.

The manifest's title and description (and the catalogue's summary, subjects, people, places)
are words about the whole file, so they become one clip spanning the file: full-text and vector
search then find a file by what an archivist wrote about it, like any other clip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from indexing.types import Clip, ClipKind

if TYPE_CHECKING:
    from indexing.protocols import Embedder
    from indexing.stores.base import ClipWriter, MediaRecord

# Fields read first, in this order; other textual fields (a manifest's extra columns) follow.
_LEADING = ("title", "description", "summary", "subjects", "people", "places", "date", "dates")
# Fields that describe handling, not content: never searchable text.
_NOT_TEXT = frozenset({"file", "rights", "language", "media_id"})


def meta_text(fields: dict[str, Any]) -> str:
    """The searchable text of a catalogue record: its descriptive values, one sentence each."""
    keys = [k for k in _LEADING if k in fields]
    keys += sorted(k for k in fields if k not in _LEADING and k not in _NOT_TEXT)
    parts = []
    for key in keys:
        value = fields[key]
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value if str(v).strip())
        text = " ".join(str(value).split())
        if text:
            parts.append(text if text.endswith((".", "!", "?")) else text + ".")
    return " ".join(parts)


def meta_clip(media_id: str, media_path: str, duration: float,
              fields: dict[str, Any]) -> Clip | None:
    """The ``meta`` clip of one file, or None when the record has no descriptive text."""
    text = meta_text(fields)
    if not text:
        return None
    return Clip(media_id=media_id, media_path=media_path, kind=ClipKind.META, start=0.0,
                end=max(duration, 0.0), text=text, language=None)


def write_meta_clips(store: ClipWriter, embedder: Embedder,
                     files: Sequence[tuple[MediaRecord, dict[str, Any]]]) -> int:
    """Replace the ``meta`` clip of each indexed file with one for its current record.

    The caller holds the store's writer lock and calls ``store.finalize()`` afterwards.
    Returns how many clips were written.
    """
    from indexing.stages.embed import clip_vectors

    written = 0
    store.ensure_embedder(embedder.model_id, embedder.dim)
    for record, fields in files:
        store.remove_clips(record.path, ClipKind.META)
        clip = meta_clip(record.media_id, record.path, record.duration, fields)
        if clip is None:
            continue
        vectors, windows = clip_vectors(embedder, [clip])
        written += store.add_clips([clip], vectors, windows)
    return written
