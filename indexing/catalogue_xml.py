"""Catalogue records as the standards define them: oai_dc, EBUCore and PBCore XML, each
validated against its published schema before it is written.

One document per file. A record is the merged view of a file's metadata (the manifest beats
the LLM). Values take the standards' forms: dates as ISO 8601 (W3CDTF) dates, durations as
ISO 8601 durations (EBUCore ``normalPlayTime``, Dublin Core ``format``) or ``HH:MM:SS`` (PBCore
best practice), types from the DCMI Type Vocabulary (``MovingImage``, ``Sound``). A record
that cannot be a valid document — no title, a date that is no date, PBCore without a
description — raises :class:`RecordError` naming the file, and nothing is written for it.

The schemas ship in ``indexing/schemas`` (see its README for sources and licences) and are
read from there only: validation never goes to the network.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexing.stores.base import MediaRecord

SCHEMA_DIR = Path(__file__).parent / "schemas"
XML_FORMATS = ("dc", "ebucore", "pbcore")
SUFFIXES = {"dc": ".oai_dc.xml", "ebucore": ".ebucore.xml", "pbcore": ".pbcore.xml"}
DC = "http://purl.org/dc/elements/1.1/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
EBUCORE = "urn:ebu:metadata-schema:ebucore"
PBCORE = "http://www.pbcore.org/PBCore/PBCoreNamespace.html"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DCMI_TYPE = "http://purl.org/dc/dcmitype/"
_MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mkv": "video/x-matroska",
         ".webm": "video/webm", ".mov": "video/quicktime", ".avi": "video/x-msvideo",
         ".mxf": "application/mxf", ".dv": "video/x-dv", ".mpg": "video/mpeg",
         ".mpeg": "video/mpeg", ".ts": "video/mp2t", ".ogv": "video/ogg", ".ogg": "audio/ogg",
         ".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac", ".m4a": "audio/mp4"}
# ISO 639-1 -> 639-2/B for PBCore's three-letter language element.
_ISO639_2 = {"en": "eng", "de": "ger", "fr": "fre", "es": "spa", "it": "ita", "nl": "dut",
             "pt": "por", "ru": "rus", "ja": "jpn", "zh": "chi", "ko": "kor", "ar": "ara",
             "pl": "pol", "sv": "swe", "da": "dan", "no": "nor", "fi": "fin", "cs": "cze",
             "hu": "hun", "el": "gre", "tr": "tur", "he": "heb", "hi": "hin", "ca": "cat"}


class RecordError(ValueError):
    """A record that cannot be written as a valid document; the message names the file."""


@dataclass(frozen=True, slots=True)
class Written:
    """One record written: the file it describes and the document's path."""

    media_path: str
    out: Path


@dataclass(frozen=True, slots=True)
class Refused:
    """One record not written, and why (one line naming the file)."""

    media_path: str
    reason: str


def write_records(fmt: str, records: Iterable[tuple[MediaRecord, dict[str, Any] | None]],
                  folder: Path) -> tuple[list[Written], list[Refused]]:
    """Write each ``(file, fields)`` record as one ``fmt`` document in ``folder`` (named after
    the file: ``reel.ebucore.xml``). Records that cannot be valid, and files with no record,
    are refused with their reason; the others are written all the same. A document appears
    only whole (written beside its name, then renamed)."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Written] = []
    refused: list[Refused] = []
    used: set[str] = set()
    for media, fields in records:
        if fields is None:
            refused.append(Refused(media.path, f"{media.path}: no catalogue record (load a "
                                   "manifest or run `deerin catalogue`)"))
            continue
        try:
            data = render_xml(fmt, media, fields)
        except RecordError as exc:
            refused.append(Refused(media.path, str(exc)))
            continue
        name = Path(media.path).stem + SUFFIXES[fmt]
        if name in used:  # two files of one name in different folders
            name = f"{Path(media.path).stem}-{media.media_id[:8]}{SUFFIXES[fmt]}"
        used.add(name)
        out = folder / name
        partial = folder / f".{name}.partial"
        partial.write_bytes(data)
        partial.replace(out)
        written.append(Written(media.path, out))
    return written, refused


def render_xml(fmt: str, media: MediaRecord, fields: dict[str, Any]) -> bytes:
    """The record of ``media`` in ``fmt`` (one of :data:`XML_FORMATS`) as a UTF-8 document,
    validated against its schema; :class:`RecordError` when it cannot be valid."""
    builders: dict[str, Callable[[MediaRecord, dict[str, Any]], ET.Element]] = {
        "dc": oai_dc, "ebucore": ebucore, "pbcore": pbcore}
    if fmt not in builders:
        raise ValueError(f"unknown XML catalogue format {fmt!r}: one of {', '.join(XML_FORMATS)}")
    root = builders[fmt](media, fields)
    ET.indent(root)
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    problem = validation_problem(fmt, data)
    if problem:
        raise RecordError(f"{media.path}: the {fmt} record does not validate: {problem}")
    return data + b"\n"


def validation_problem(fmt: str, data: bytes) -> str:
    """Why ``data`` is not valid ``fmt`` (one line), or "" when it is."""
    errors = list(schema(fmt).iter_errors(data.decode("utf-8")))
    if not errors:
        return ""
    first = errors[0]
    where = f" at {first.path}" if getattr(first, "path", None) else ""
    return f"{first.reason or first.message}{where}".replace("\n", " ")


@cache
def schema(fmt: str) -> Any:
    """The ``xmlschema`` schema of ``fmt``, built once from the shipped files (no network)."""
    import xmlschema

    dc = str(SCHEMA_DIR / "simpledc20021212.xsd")
    files = {"dc": "oai_dc.xsd", "ebucore": "ebucore.xsd", "pbcore": "pbcore-2.1.xsd"}
    # EBUCore imports the Dublin Core and xml: schemas by URL; both are mapped to the shipped
    # copies (xmlschema carries xml.xsd itself), and `allow="local"` forbids any download.
    return xmlschema.XMLSchema(str(SCHEMA_DIR / files[fmt]), locations=[(DC, dc)],
                               allow="local")


# -- the three forms ----------------------------------------------------------------------------
def oai_dc(media: MediaRecord, fields: dict[str, Any]) -> ET.Element:
    """The record as OAI-PMH ``oai_dc:dc`` (the 15 elements of simple Dublin Core)."""
    title = _title(media, fields)
    date = _date(media, fields)
    root = ET.Element("oai_dc:dc", {"xmlns:oai_dc": OAI_DC, "xmlns:dc": DC, "xmlns:xsi": XSI,
                                    "xsi:schemaLocation": f"{OAI_DC} "
                                    "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"})

    def add(name: str, *values: Any) -> None:
        for v in values:
            if v not in (None, ""):
                ET.SubElement(root, f"dc:{name}").text = str(v)

    add("title", title)
    for element, values in _agents(fields).items():
        add(element, *values)
    add("subject", *_list(fields.get("subjects")), *_list(fields.get("people")))
    add("description", *_descriptions(fields).values())
    add("date", date)
    add("type", _dcmi_type(media))
    add("format", _mime(media.path), _iso_duration(media.duration))
    add("identifier", media.media_id, Path(media.path).as_uri())
    add("language", fields.get("language"))
    add("coverage", *_list(fields.get("places")), *_list(fields.get("dates")))
    add("rights", fields.get("rights"))
    return root


def ebucore(media: MediaRecord, fields: dict[str, Any]) -> ET.Element:
    """The record as EBUCore (EBU Tech 3293) ``ebuCoreMain/coreMetadata``."""
    title = _title(media, fields)
    date = _date(media, fields)
    root = ET.Element("ebucore:ebuCoreMain", {"xmlns:ebucore": EBUCORE, "xmlns:dc": DC,
                                              "xmlns:xsi": XSI, "version": "1.10"})
    core = ET.SubElement(root, "ebucore:coreMetadata")

    def element(parent: ET.Element, name: str, text: str | None = None,
                **attrs: str) -> ET.Element:
        e = ET.SubElement(parent, name, {k: v for k, v in attrs.items() if v})
        if text is not None:
            e.text = text
        return e

    element(element(core, "ebucore:title"), "dc:title", title)
    for name in _agents(fields).get("creator", []):
        c = element(core, "ebucore:creator")
        element(element(c, "ebucore:contactDetails"), "ebucore:name", name)
    for kind, values in (("topic", _list(fields.get("subjects"))),
                         ("person", _list(fields.get("people")))):
        for v in values:
            element(element(core, "ebucore:subject", typeLabel=kind), "dc:subject", v)
    for kind, text in _descriptions(fields).items():
        element(element(core, "ebucore:description", typeLabel=kind), "dc:description", text)
    for role in ("publisher", "contributor"):  # the schema's order
        for name in _agents(fields).get(role, []):
            c = element(core, f"ebucore:{role}")
            element(element(c, "ebucore:contactDetails"), "ebucore:name", name)
    if date:
        d = element(core, "ebucore:date")
        element(d, "dc:date", date)
        element(d, "ebucore:created", **_created(date))
    typed = element(core, "ebucore:type")
    element(typed, "dc:type", _dcmi_type(media))
    fmt = element(core, "ebucore:format")
    if media.has_video:
        element(fmt, "ebucore:videoFormat")
    if media.has_audio:
        element(fmt, "ebucore:audioFormat")
    duration = element(fmt, "ebucore:duration")
    element(duration, "ebucore:normalPlayTime", _iso_duration(media.duration))
    element(fmt, "ebucore:fileSize", str(media.size))
    element(fmt, "ebucore:fileName", Path(media.path).name)
    element(fmt, "ebucore:mimeType", typeLabel=_mime(media.path))
    element(fmt, "ebucore:locator", Path(media.path).as_uri(), typeLabel="file")
    ident = element(core, "ebucore:identifier", typeLabel="DEERIn media id")
    element(ident, "dc:identifier", media.media_id)
    if fields.get("language"):
        element(element(core, "ebucore:language"), "dc:language", str(fields["language"]))
    places, dates = _list(fields.get("places")), _list(fields.get("dates"))
    if places or dates:
        cov = element(core, "ebucore:coverage")
        for name in dates:
            period = element(element(cov, "ebucore:temporal"), "ebucore:PeriodOfTime")
            element(period, "ebucore:periodName", name)
        for name in places:
            element(element(element(cov, "ebucore:spatial"), "ebucore:location"),
                    "ebucore:name", name)
    if fields.get("rights"):
        element(element(core, "ebucore:rights"), "dc:rights", str(fields["rights"]))
    return root


def pbcore(media: MediaRecord, fields: dict[str, Any]) -> ET.Element:
    """The record as a PBCore 2.1 ``pbcoreDescriptionDocument`` with one instantiation (the
    indexed file)."""
    title = _title(media, fields)
    date = _date(media, fields)
    descriptions = _descriptions(fields)
    if not descriptions:
        raise RecordError(f"{media.path}: no description or summary (PBCore requires one; "
                          "add one to the manifest or run `deerin catalogue`)")
    root = ET.Element("pbcoreDescriptionDocument", {
        "xmlns": PBCORE, "xmlns:xsi": XSI, "xsi:schemaLocation":
        f"{PBCORE} http://www.pbcore.org/xsd/pbcore-2.1.xsd"})

    def element(parent: ET.Element, name: str, text: str | None = None,
                **attrs: str) -> ET.Element:
        e = ET.SubElement(parent, name, {k: v for k, v in attrs.items() if v})
        if text is not None:
            e.text = text
        return e

    if date:
        element(root, "pbcoreAssetDate", date, dateType="created")
    element(root, "pbcoreIdentifier", media.media_id, source="DEERIn")
    element(root, "pbcoreTitle", title)
    for v in _list(fields.get("subjects")):
        element(root, "pbcoreSubject", v, subjectType="topic")
    for v in _list(fields.get("people")):
        element(root, "pbcoreSubject", v, subjectType="person")
    for kind, text in descriptions.items():
        element(root, "pbcoreDescription", text, descriptionType=kind)
    for v in _list(fields.get("dates")):
        cov = element(root, "pbcoreCoverage")
        element(cov, "coverage", v)
        element(cov, "coverageType", "Temporal")
    for v in _list(fields.get("places")):
        cov = element(root, "pbcoreCoverage")
        element(cov, "coverage", v)
        element(cov, "coverageType", "Spatial")
    agents = _agents(fields)
    for role, tag in (("creator", "pbcoreCreator"), ("contributor", "pbcoreContributor"),
                      ("publisher", "pbcorePublisher")):
        for name in agents.get(role, []):
            element(element(root, tag), role, name)
    if fields.get("rights"):
        element(element(root, "pbcoreRightsSummary"), "rightsSummary", str(fields["rights"]))
    inst = element(root, "pbcoreInstantiation")
    element(inst, "instantiationIdentifier", Path(media.path).name, source="File name")
    element(inst, "instantiationDigital", _mime(media.path))
    element(inst, "instantiationLocation", Path(media.path).as_uri())
    element(inst, "instantiationMediaType", "Moving Image" if media.has_video else "Sound")
    element(inst, "instantiationFileSize", str(media.size), unitsOfMeasure="bytes")
    element(inst, "instantiationDuration", _hms(media.duration))
    language = _ISO639_2.get(str(fields.get("language") or "").lower()[:2], "")
    if language:
        element(inst, "instantiationLanguage", language)
    return root


# -- values in the standards' forms -------------------------------------------------------------
def _title(media: MediaRecord, fields: dict[str, Any]) -> str:
    title = " ".join(str(fields.get("title") or "").split())
    if not title:
        raise RecordError(f"{media.path}: no title (set one in the manifest, with "
                          f"`deerin manifest set {Path(media.path).name} title=...`, or run "
                          "`deerin catalogue`)")
    return title


def _date(media: MediaRecord, fields: dict[str, Any]) -> str:
    """The record's date as ISO 8601 (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD`` or a ``/`` range of
    them, as manifests take it), "" when it has none; :class:`RecordError` for anything else."""
    from indexing.manifest import valid_date

    value = str(fields.get("date") or "").strip()
    if not value:
        return ""
    date = value[:10] if re.match(r"^\d{4}-\d{2}-\d{2}T", value) else value
    if not valid_date(date):
        raise RecordError(f"{media.path}: date {value!r} is not a date (YYYY, YYYY-MM, "
                          "YYYY-MM-DD or a range START/END of them)")
    return date


def _created(date: str) -> dict[str, str]:
    """EBUCore ``created`` attributes of an ISO date or range: years, and full dates."""
    start, _, end = date.partition("/")
    attrs = {"startYear": start[:4], "startDate": start if len(start) == 10 else ""}
    if end:
        attrs |= {"endYear": end[:4], "endDate": end if len(end) == 10 else ""}
    return attrs


def _descriptions(fields: dict[str, Any]) -> dict[str, str]:
    """An archivist's description and the LLM's summary, each kept under its own label."""
    return {kind: str(fields[kind]).strip() for kind in ("description", "summary")
            if str(fields.get(kind) or "").strip()}


def _agents(fields: dict[str, Any]) -> dict[str, list[str]]:
    """Manifest columns that name a Dublin Core agent or relation (a director is the film's
    creator; a collection, its relation)."""
    out: dict[str, list[str]] = {}
    for column, element in (("creator", "creator"), ("director", "creator"),
                            ("contributor", "contributor"), ("publisher", "publisher"),
                            ("relation", "relation"), ("collection", "relation")):
        for v in _list(fields.get(column)):
            out.setdefault(element, []).append(v)
    return out


def _dcmi_type(media: MediaRecord) -> str:
    # DCMI Type Vocabulary: a film is a MovingImage, a recording without picture is Sound.
    return "MovingImage" if media.has_video else "Sound"


def _iso_duration(seconds: float) -> str:
    """ISO 8601 / xs:duration: ``PT1H2M3.5S``."""
    ms = round(max(0.0, seconds) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + f"{s}S"


def _hms(seconds: float) -> str:
    total = round(max(0.0, seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _mime(path: str) -> str:
    return _MIME.get(Path(path).suffix.lower(), "application/octet-stream")


def _list(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    items: Sequence[Any] = value if isinstance(value, list) else [value]
    return [s for s in (" ".join(str(v).split()) for v in items) if s]
