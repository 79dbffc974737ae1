"""Catalogue records out of DEERIn: plain JSON, Dublin Core and EBUCore-style field names.

A record is the merged view of a file's metadata (:func:`indexing.stores.file_meta.merged`: an
archivist's manifest beats the LLM). The Dublin Core form uses the 15 elements' ``dc:`` names
(DCMI Metadata Element Set 1.1); the EBUCore form follows the ``coreMetadata`` elements of EBU
Tech 3293 (title, description with a typeLabel, subject, date/created, language,
coverage/spatial and temporal, rights, identifier, format, type), as JSON rather than XML.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexing.stores.base import MediaRecord

FORMATS = ("json", "dc", "ebucore")
_MIME = {".mp4": "video/mp4", ".mkv": "video/x-matroska", ".webm": "video/webm",
         ".mov": "video/quicktime", ".avi": "video/x-msvideo", ".ogg": "audio/ogg",
         ".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac"}


def _list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _mime(path: str) -> str:
    suffix = path[path.rfind("."):].lower() if "." in path else ""
    return _MIME.get(suffix, "application/octet-stream")


def plain_record(media: MediaRecord, fields: dict[str, Any],
                 sources: dict[str, str]) -> dict[str, Any]:
    """DEERIn's own names, with which source gave each field."""
    return {"file": media.path, "media_id": media.media_id, "duration": media.duration,
            "kind": media.kind, "fields": fields, "sources": sources}


def dublin_core(media: MediaRecord, fields: dict[str, Any]) -> dict[str, Any]:
    """The record under Dublin Core element names (repeatable elements as lists)."""
    description = fields.get("description") or fields.get("summary") or ""
    record: dict[str, Any] = {
        "dc:identifier": media.media_id,
        "dc:title": fields.get("title", ""),
        "dc:description": description,
        "dc:subject": [*_list(fields.get("subjects")), *_list(fields.get("people"))],
        "dc:date": fields.get("date") or _list(fields.get("dates"))[:1] or "",
        "dc:language": fields.get("language", ""),
        "dc:coverage": [*_list(fields.get("places")), *_list(fields.get("dates"))],
        "dc:rights": fields.get("rights", ""),
        "dc:type": "MovingImage" if media.has_video else "Sound",  # DCMI Type Vocabulary
        "dc:format": _mime(media.path),
        "dc:source": media.path,
    }
    # Manifest columns that name a Dublin Core element (a director is the film's creator).
    for column, element in (("creator", "creator"), ("director", "creator"),
                            ("contributor", "contributor"), ("publisher", "publisher"),
                            ("relation", "relation"), ("collection", "relation")):
        if fields.get(column):
            record.setdefault(f"dc:{element}", []).append(fields[column])
    if fields.get("summary") and fields.get("description"):
        # An archivist's description takes the element; the LLM's summary is kept beside it.
        record["dc:description"] = [fields["description"], fields["summary"]]
    return record


def ebucore(media: MediaRecord, fields: dict[str, Any]) -> dict[str, Any]:
    """The record under EBUCore ``coreMetadata`` element names."""
    descriptions = []
    if fields.get("description"):
        descriptions.append({"typeLabel": "description", "dc:description": fields["description"]})
    if fields.get("summary"):
        descriptions.append({"typeLabel": "summary", "dc:description": fields["summary"]})
    subjects = [{"typeLabel": "topic", "dc:subject": s} for s in _list(fields.get("subjects"))]
    subjects += [{"typeLabel": "person", "dc:subject": p} for p in _list(fields.get("people"))]
    created = fields.get("date") or ""
    record: dict[str, Any] = {
        "ebucore:identifier": {"typeLabel": "DEERIn media id", "dc:identifier": media.media_id},
        "ebucore:title": {"dc:title": fields.get("title", "")},
        "ebucore:description": descriptions,
        "ebucore:subject": subjects,
        "ebucore:date": {"created": created} if created else {},
        "ebucore:language": {"languageCode": fields.get("language", "")},
        "ebucore:coverage": {"spatial": _list(fields.get("places")),
                             "temporal": _list(fields.get("dates"))},
        "ebucore:rights": {"rightsAttributedId": fields.get("rights", "")},
        "ebucore:type": {"objectType": "video" if media.has_video else "audio"},
        "ebucore:format": {"mimeType": _mime(media.path), "duration": media.duration,
                           "locator": media.path},
    }
    return record


def render_record(fmt: str, media: MediaRecord, fields: dict[str, Any],
                  sources: dict[str, str]) -> dict[str, Any]:
    """One file's record in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return plain_record(media, fields, sources)
    if fmt == "dc":
        return dublin_core(media, fields)
    if fmt == "ebucore":
        return ebucore(media, fields)
    raise ValueError(f"unknown catalogue format {fmt!r}: one of {', '.join(FORMATS)}")
