"""A IIIF Presentation 3 manifest per indexed file, and a Collection of them, built with
``iiif-prezi3``.

One time-based Canvas (``duration``; ``width``/``height`` for video) is painted with the file
itself, served by the chat app's media route (HTTP Range, so IIIF AV viewers can seek). On the
canvas, up to five annotation pages (:data:`PAGE_KINDS`): the captions (``supplementing``, one
WebVTT file per transcript kind, speech and subtitles, as in the IIIF cookbook's caption recipe:
what AV viewers show as captions), the transcript (``supplementing``, one textual body per
caption, targeting ``canvas#t=start,end``), the shots (``highlighting``, with their keyframe as
thumbnail when one is served), the named entities found in the transcript (``tagging``) and the
on-screen text (``supplementing``, targeting ``canvas#xywh=...&t=...``: where and when it is
shown). ``structures`` is the table of contents: one Range per shot, or
per clip for a file without shots.

Every id is an HTTP(S) URI under ``base_url`` (Presentation 3 requires it), laid out as the chat
app serves them (:mod:`interaction.iiif_web`), so each id can be fetched:
``/iiif/<collection>/manifest.json`` the Collection, ``/iiif/<collection>/<media id>/
manifest.json`` a file's Manifest, ``.../page/<kind>`` its annotation pages, ``.../captions/
<speech|subtitle>.vtt`` its captions; ``/media/<id>/<name>`` plays the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from indexing.fmt import fmt_time, shorten
from indexing.types import Clip, ClipKind, Shot, media_title
from interaction.exports import transcript_cues
from interaction.transcript import Transcript

DEFAULT_BASE = "http://127.0.0.1:8000"
DEFAULT_COLLECTION = "default"
PAGE_KINDS = ("captions", "transcript", "shots", "entities", "ocr")
"""The annotation pages a canvas may have, by the last segment of their ids."""
_PAGE_LABELS = {"captions": "Captions", "transcript": "Transcript", "shots": "Shots",
                "entities": "Named entities", "ocr": "On-screen text"}


@dataclass(frozen=True, slots=True)
class Entity:
    """A name said in a file: its words, its kind (spaCy's label, e.g. PERSON) and seconds."""

    start: float
    end: float
    text: str
    label: str


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What a manifest says about one file."""

    media_id: str
    path: str
    duration: float
    has_video: bool
    width: int = 0
    height: int = 0
    content_type: str = "application/octet-stream"


def file_root(media_id: str, *, base_url: str = DEFAULT_BASE,
              collection: str = DEFAULT_COLLECTION) -> str:
    """Where every id of a file's manifest lives: ``<base>/iiif/<collection>/<media id>``."""
    return f"{base_url.rstrip('/')}/iiif/{collection}/{media_id}"


def captions_url(media_id: str, kind: str, *, base_url: str = DEFAULT_BASE,
                 collection: str = DEFAULT_COLLECTION) -> str:
    """Where the chat app serves a file's captions of ``kind`` (speech, subtitle) as WebVTT."""
    return f"{file_root(media_id, base_url=base_url, collection=collection)}/captions/{kind}.vtt"


def collection_document(name: str, files: Sequence[tuple[str, str]], *,
                        base_url: str = DEFAULT_BASE) -> dict[str, Any]:
    """The Presentation 3 Collection of ``files`` (``(media id, label)`` pairs, in order): one
    reference per file to its manifest."""
    from iiif_prezi3 import Collection, ManifestRef

    base = base_url.rstrip("/")
    refs = [ManifestRef(id=f"{file_root(media_id, base_url=base, collection=name)}"
                           "/manifest.json", type="Manifest", label={"none": [label]})
            for media_id, label in files]
    doc = Collection(id=f"{base}/iiif/{name}/manifest.json", label={"none": [name]},
                     summary={"en": [f"{len(refs)} indexed files"]}, items=refs)
    data: dict[str, Any] = json.loads(doc.jsonld())
    return data


def annotation_pages(facts: FileFacts, transcripts: Sequence[Transcript] = (),
                     shots: Sequence[Shot] = (), entities: Sequence[Entity] = (),
                     ocr: Sequence[Clip] = (), *, base_url: str = DEFAULT_BASE,
                     collection: str = DEFAULT_COLLECTION,
                     keyframe_url: Callable[[Shot], str | None] | None = None,
                     ) -> dict[str, Any]:
    """The canvas's annotation pages that have any annotation, by kind (:data:`PAGE_KINDS`),
    as ``iiif-prezi3`` objects; :func:`manifest` embeds them, the chat app also serves each."""
    from iiif_prezi3 import Annotation, AnnotationBody, AnnotationPage, TextualBody

    root = file_root(facts.media_id, base_url=base_url, collection=collection)
    canvas_id = f"{root}/canvas/1"

    def at(a: float, b: float) -> str:
        return _span(canvas_id, facts.duration, a, b)

    def page(kind: str, items: list[Any]) -> Any:
        return AnnotationPage(id=f"{root}/page/{kind}", label={"en": [_PAGE_LABELS[kind]]},
                              items=items)

    pages: dict[str, Any] = {}
    timed = [tr for tr in transcripts if tr.times]
    if timed:
        pages["captions"] = page("captions", [
            Annotation(id=f"{root}/annotation/captions/{tr.kind.value}",
                       motivation="supplementing", target=canvas_id,
                       body=AnnotationBody(id=captions_url(facts.media_id, tr.kind.value,
                                                           base_url=base_url,
                                                           collection=collection),
                                           type="Text", format="text/vtt",
                                           label={"en": [f"{tr.kind.value.capitalize()} "
                                                         "(WebVTT)"]},
                                           **({"language": tr.language} if tr.language
                                              else {})))
            for tr in timed])
    cues = [(tr, cue) for tr in transcripts for cue in transcript_cues(tr)]
    if cues:
        pages["transcript"] = page("transcript", [
            Annotation(id=f"{root}/annotation/transcript/{i}", motivation="supplementing",
                       body=TextualBody(value=text, format="text/plain",
                                        **({"language": tr.language} if tr.language else {})),
                       target=at(a, b))
            for i, (tr, (a, b, text)) in enumerate(cues, 1)])
    if shots:
        items = []
        for s in shots:
            thumb = keyframe_url(s) if keyframe_url is not None else None
            extra: dict[str, Any] = {}
            if thumb:
                extra["thumbnail"] = [AnnotationBody(id=thumb, type="Image",
                                                     format="image/jpeg")]
            items.append(Annotation(
                id=f"{root}/annotation/shot/{s.index}", motivation="highlighting",
                body=TextualBody(value=f"Shot {s.index + 1}", format="text/plain"),
                target=at(s.start, s.end), **extra))
        pages["shots"] = page("shots", items)
    if entities:
        pages["entities"] = page("entities", [
            Annotation(id=f"{root}/annotation/entity/{i}", motivation="tagging",
                       body=TextualBody(value=e.text, format="text/plain",
                                        purpose="tagging"),
                       label={"en": [e.label]}, target=at(e.start, e.end))
            for i, e in enumerate(entities, 1)])
    shown = sorted((c for c in ocr if c.text.strip()), key=lambda c: (c.start, c.seq))
    if shown:
        pages["ocr"] = page("ocr", [
            Annotation(id=f"{root}/annotation/ocr/{i}", motivation="supplementing",
                       body=TextualBody(value=c.text, format="text/plain",
                                        **({"language": c.language} if c.language else {})),
                       target=_region(at(c.start, c.end), c.box, facts))
            for i, c in enumerate(shown, 1)])
    return pages


def _span(canvas_id: str, duration: float, a: float, b: float) -> str:
    """``canvas#t=a,b``, clipped to the canvas's duration."""
    a, b = max(0.0, a), min(duration, b) if duration > 0 else b
    return f"{canvas_id}#t={a:.3f},{max(b, a):.3f}"


def _region(target: str, box: tuple[float, float, float, float] | None,
            facts: FileFacts) -> str:
    """``canvas#t=a,b`` narrowed to the pixels of ``box`` (fractions of the picture) when the
    canvas has a size: ``canvas#xywh=x,y,w,h&t=a,b``."""
    if box is None or not facts.width or not facts.height:
        return target
    left, top, right, bottom = (min(1.0, max(0.0, v)) for v in box)
    x, y = round(left * facts.width), round(top * facts.height)
    w = max(1, round((right - left) * facts.width))
    h = max(1, round((bottom - top) * facts.height))
    base, _, fragment = target.partition("#")
    return f"{base}#xywh={x},{y},{w},{h}&{fragment}"


def manifest(facts: FileFacts, transcripts: Sequence[Transcript], shots: Sequence[Shot],
             clips: Sequence[Clip] = (), entities: Sequence[Entity] = (), *,
             base_url: str = DEFAULT_BASE, collection: str = DEFAULT_COLLECTION,
             keyframe_url: Callable[[Shot], str | None] | None = None) -> dict[str, Any]:
    """The Presentation 3 manifest of one file, as JSON-LD (a dict). The on-screen text comes
    from the ``ocr`` clips among ``clips``."""
    from iiif_prezi3 import (
        Annotation,
        AnnotationBody,
        AnnotationPage,
        Canvas,
        CanvasRef,
        Manifest,
        Range,
    )

    base = base_url.rstrip("/")
    root = file_root(facts.media_id, base_url=base, collection=collection)
    name = Path(facts.path).name
    canvas_id = f"{root}/canvas/1"
    size = {"width": facts.width, "height": facts.height} if facts.has_video and facts.width \
        else {}
    body = AnnotationBody(id=f"{base}/media/{facts.media_id}/{quote(name, safe='')}",
                          type="Video" if facts.has_video else "Sound",
                          format=facts.content_type, duration=round(facts.duration, 3), **size)
    painting = AnnotationPage(id=f"{root}/page/painting", items=[Annotation(
        id=f"{root}/annotation/painting", motivation="painting", body=body, target=canvas_id)])

    def at(a: float, b: float) -> str:
        return _span(canvas_id, facts.duration, a, b)

    pages = list(annotation_pages(
        facts, transcripts, shots, entities, [c for c in clips if c.kind is ClipKind.OCR],
        base_url=base, collection=collection, keyframe_url=keyframe_url).values())
    canvas = Canvas(id=canvas_id, label={"none": [name]}, duration=round(facts.duration, 3),
                    items=[painting], **size, **({"annotations": pages} if pages else {}))
    if shots:
        toc = [Range(id=f"{root}/range/shot/{s.index}",
                     label={"none": [f"Shot {s.index + 1} ({fmt_time(s.start)}–"
                                     f"{fmt_time(s.end)})"]},
                     items=[CanvasRef(id=at(s.start, s.end), type="Canvas")]) for s in shots]
    else:
        toc = [Range(id=f"{root}/range/clip/{i}",
                     label={"none": [f"{fmt_time(c.start)} {shorten(c.text, 60)}"]},
                     items=[CanvasRef(id=at(c.start, c.end), type="Canvas")])
               for i, c in enumerate(sorted(clips, key=lambda c: c.start), 1)]
    structures = [Range(id=f"{root}/range/contents", label={"en": ["Contents"]}, items=toc)] \
        if toc else None
    m = Manifest(id=f"{root}/manifest.json", label={"none": [media_title(facts.path) or name]},
                 summary={"none": [name]}, items=[canvas],
                 **({"structures": structures} if structures else {}))
    data: dict[str, Any] = json.loads(m.jsonld())
    return data


def validate(data: dict[str, Any]) -> None:
    """Raise :class:`ValueError` (listing what is wrong) unless ``data`` is a valid
    Presentation 3 manifest of a time-based canvas.

    Three layers: the JSON Schema of ``iiif-prezi3``'s models (generated from the IIIF
    Presentation 3 schema; checked with ``jsonschema``, so a missing required property counts,
    which the models' own validation would fill in), the models themselves (strict pydantic),
    and what the schema cannot say about AV: HTTP(S) ids, a painted canvas with a positive
    ``duration``, and every ``#t=start,end`` target inside that duration.
    """
    import jsonschema
    from iiif_prezi3 import Manifest

    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
                for e in jsonschema.Draft202012Validator(
                    Manifest.model_json_schema(by_alias=True)).iter_errors(data)]
    if data.get("@context") != "http://iiif.io/api/presentation/3/context.json":
        problems.append(f"@context is not Presentation 3: {data.get('@context')!r}")
    if not problems:
        try:
            Manifest.model_validate({k: v for k, v in data.items() if k != "@context"})
        except Exception as exc:  # pydantic.ValidationError, listed below
            problems.append(str(exc))
    problems += _av_problems(data)
    if problems:
        raise ValueError("invalid IIIF manifest: " + "; ".join(problems[:10]))


def _av_problems(data: dict[str, Any]) -> list[str]:
    problems: list[str] = []

    def ids(node: Any, where: str) -> None:
        if isinstance(node, dict):
            value = node.get("id")
            if isinstance(value, str) and not value.startswith(("http://", "https://")):
                problems.append(f"{where}: id {value!r} is not an HTTP(S) URI")
            for k, v in node.items():
                ids(v, f"{where}/{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                ids(v, f"{where}/{i}")

    ids(data, "")
    for canvas in data.get("items") or []:
        duration = canvas.get("duration")
        if not isinstance(duration, int | float) or duration <= 0:
            problems.append(f"canvas {canvas.get('id')}: no positive duration")
            continue
        painted = [a for page in canvas.get("items") or [] for a in page.get("items") or []
                   if a.get("motivation") == "painting"]
        if not painted:
            problems.append(f"canvas {canvas.get('id')}: nothing painted on it")
        for page in canvas.get("annotations") or []:
            for anno in page.get("items") or []:
                target = anno.get("target")
                if isinstance(target, str):
                    problems += _fragment_problems(target, canvas["id"], duration)
    for rng in _ranges(data.get("structures") or []):
        for item in rng.get("items") or []:
            if item.get("type") == "Canvas":
                problems += _fragment_problems(item.get("id", ""), None, None)
    return problems


def _ranges(ranges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in ranges:
        out.append(r)
        out += _ranges([i for i in r.get("items") or [] if i.get("type") == "Range"])
    return out


def _fragment_problems(target: str, canvas_id: str | None,
                       duration: float | None) -> list[str]:
    base, _, fragment = target.partition("#")
    if canvas_id is not None and base != canvas_id:
        return [f"target {target} is not on canvas {canvas_id}"]
    if not fragment:
        return []
    parts = dict(p.partition("=")[::2] for p in fragment.split("&"))
    if "t" not in parts or set(parts) - {"t", "xywh"}:
        return [f"target {target}: not a temporal fragment (t=, optionally with xywh=)"]
    try:
        a, b = (float(x) for x in parts["t"].split(","))
        region = [int(x) for x in parts["xywh"].split(",")] if "xywh" in parts else None
    except ValueError:
        return [f"target {target}: malformed #t=start,end or xywh=x,y,w,h"]
    if not 0 <= a <= b or (duration is not None and b > duration + 1e-3):
        return [f"target {target}: outside 0..{duration}"]
    if region is not None and (len(region) != 4 or min(region) < 0 or 0 in region[2:]):
        return [f"target {target}: xywh is not a region"]
    return []
