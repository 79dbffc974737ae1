"""Catalogue records out of DEERIn: the formats ``deerin export catalogue`` writes.

``json`` is DEERIn's own: a file's merged record (:func:`indexing.stores.file_meta.merged`: an
archivist's manifest beats the LLM) with the source of each field. ``dc``, ``ebucore`` and
``pbcore`` are the standards' XML documents, validated against their schemas
(:mod:`indexing.catalogue_xml`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexing.stores.base import MediaRecord

FORMATS = ("json", "dc", "ebucore", "pbcore")


def plain_record(media: MediaRecord, fields: dict[str, Any],
                 sources: dict[str, str]) -> dict[str, Any]:
    """DEERIn's own names, with which source gave each field."""
    return {"file": media.path, "media_id": media.media_id, "duration": media.duration,
            "kind": media.kind, "fields": fields, "sources": sources}
