"""Catalogue records written by the LLM: title, summary, subjects, people, places and dates of
each indexed file, from its transcript, on-screen text and captions.

The reply must be one JSON object with the expected keys; a reply that does not parse is asked
for once more, then reported. People, places and dates the LLM names are kept only when the
material (or the knowledge graph's entities of that file) contains them, so a small model
cannot invent a cast. The language comes from speech recognition or the subtitles, never from
the LLM. Records are stored with a hash of their inputs: a second run skips every file whose
inputs, prompt and model are unchanged.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from indexing.fmt import fmt_time
from indexing.protocols import complete
from indexing.types import ClipKind, content_id
from prompts import load_prompt, render

if TYPE_CHECKING:
    from indexing.protocols import LLM
    from indexing.stores.base import ClipReader, ClipStore, MediaRecord

LIST_FIELDS = ("subjects", "people", "places", "dates")
TEXT_FIELDS = ("title", "summary")
CATALOGUE_FIELDS = (*TEXT_FIELDS, *LIST_FIELDS, "language")
# What the LLM reads of a file: enough to say what it is about, small enough for a 4k context.
_TRANSCRIPT_CHARS = 3500
_SCREEN_CHARS = 600
_CAPTION_CHARS = 600
_MAX_TOKENS = 320
_PERSON_LABELS = frozenset({"PERSON"})
_PLACE_LABELS = frozenset({"GPE", "LOC", "FAC"})


class CatalogueError(Exception):
    """The LLM's reply could not be read as a catalogue record (after one retry)."""


@dataclass(frozen=True, slots=True)
class CatalogueInput:
    """What the LLM is given about one file."""

    media: MediaRecord
    transcript: str
    screen_text: str
    captions: str
    language: str
    people: tuple[str, ...] = ()  # the knowledge graph's PERSON entities in the file
    places: tuple[str, ...] = ()  # and its places

    def digest(self, model: str) -> str:
        """A hash of everything that shapes the record: inputs, prompts and model."""
        return content_id(model, load_prompt("catalogue_system"), load_prompt("catalogue_user"),
                          self.media.media_id, self.transcript, self.screen_text, self.captions,
                          self.language, "|".join(self.people), "|".join(self.places))


@dataclass(frozen=True, slots=True)
class CatalogueOutcome:
    """What happened to one file: ``catalogued``, ``skipped`` (unchanged), ``empty`` (no text
    to read) or ``failed`` (the LLM's reply was unusable)."""

    path: str
    status: str
    record: dict[str, Any] | None = None
    reason: str = ""
    seconds: float = 0.0


def gather(store: ClipReader, media: MediaRecord) -> CatalogueInput:
    """Collect what the LLM reads about ``media`` from the index (and its graph, if any)."""
    clips = store.clips_of(media.media_id)
    spoken = sorted((c for c in clips if c.kind in (ClipKind.SPEECH, ClipKind.SUBTITLE)),
                    key=lambda c: (c.start, c.kind.value))
    transcript = _clip_text([c.text for c in spoken], _TRANSCRIPT_CHARS)
    screen = _clip_text(list(dict.fromkeys(c.text for c in clips if c.kind is ClipKind.OCR)),
                        _SCREEN_CHARS)
    captions = _clip_text(list(dict.fromkeys(c.text for c in clips
                                             if c.kind is ClipKind.CAPTION)), _CAPTION_CHARS)
    language = media.language or next((c.language for c in spoken if c.language), "") or ""
    people, places = graph_names(store, media.media_id)
    return CatalogueInput(media, transcript, screen, captions, language, people, places)


def graph_names(store: ClipReader, media_id: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The people and places the knowledge graph found in a file (most mentioned first); none
    when the graph is off or cannot be read."""
    from indexing.graph.settings import GraphSettings
    from indexing.graph.store import GraphError
    from indexing.graph.sync import open_graph_store

    settings = GraphSettings.from_env()
    if not settings.enabled:
        return (), ()
    try:
        graph = open_graph_store(store.db_dir, settings)
        try:
            mentions = [m for m in graph.mentions() if m.media_id == media_id]
        finally:
            graph.close()
    except GraphError:
        return (), ()
    counts: dict[tuple[str, str], int] = {}
    names: dict[tuple[str, str], str] = {}
    for m in mentions:
        key = (m.label, m.key)
        counts[key] = counts.get(key, 0) + 1
        names.setdefault(key, m.surface)

    def top(labels: frozenset[str]) -> tuple[str, ...]:
        keys = sorted((k for k in counts if k[0] in labels), key=lambda k: -counts[k])
        return tuple(dict.fromkeys(names[k] for k in keys))[:10]

    return top(_PERSON_LABELS), top(_PLACE_LABELS)


def messages_for(item: CatalogueInput) -> list[dict[str, str]]:
    """The chat messages asking for one file's record."""
    entities = [*item.people, *item.places]
    user = render(
        "catalogue_user", file_name=item.media.name, duration=fmt_time(item.media.duration),
        kind=item.media.kind, entities=", ".join(entities) or "(none)",
        transcript=item.transcript or "(none)", screen_text=item.screen_text or "(none)",
        captions=item.captions or "(none)")
    return [{"role": "system", "content": load_prompt("catalogue_system")},
            {"role": "user", "content": user}]


def parse_record(reply: str) -> dict[str, Any]:
    """The record in an LLM reply: the first JSON object, with the expected keys and types.

    Lists given as a string are split at commas; a missing list is empty. Raises
    :class:`CatalogueError` when there is no object or no title.
    """
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end <= start:
        raise CatalogueError("the reply holds no JSON object")
    try:
        data = json.loads(reply[start:end + 1])
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"the reply is not valid JSON: {exc.msg} at character "
                             f"{exc.pos}") from exc
    if not isinstance(data, dict):
        raise CatalogueError("the reply's JSON is not an object")
    record: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        value = data.get(key)
        record[key] = " ".join(str(value).split()) if isinstance(value, str | int | float) else ""
    if not record["title"]:
        raise CatalogueError("the reply's record has no title")
    for key in LIST_FIELDS:
        value = data.get(key) or []
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list):
            value = [value]
        items = [" ".join(str(v).split()) for v in value if isinstance(v, str | int | float)]
        record[key] = list(dict.fromkeys(v for v in items if v))
    return record


def keep_grounded(record: dict[str, Any], item: CatalogueInput) -> dict[str, Any]:
    """Drop people, places and dates the material does not contain; add the graph's."""
    material = " ".join([item.media.name, item.transcript, item.screen_text, item.captions,
                         *item.people, *item.places]).casefold()
    material = re.sub(r"[_\-.]+", " ", material)
    out = dict(record)
    for key in ("people", "places", "dates"):
        out[key] = [v for v in record[key] if re.sub(r"[_\-.]+", " ", v.casefold()) in material]
    out["people"] = list(dict.fromkeys([*out["people"], *item.people]))
    out["places"] = list(dict.fromkeys([*out["places"], *item.places]))
    out["language"] = item.language
    return out


def write_record(llm: LLM, item: CatalogueInput, *,
                 max_tokens: int = _MAX_TOKENS) -> dict[str, Any]:
    """Ask ``llm`` for one file's record; one retry when the reply does not parse.

    Raises :class:`CatalogueError` when neither reply is a usable record (``max_tokens`` caps
    each reply; a record cut short does not parse)."""
    messages = messages_for(item)
    reply = complete(llm, messages, max_tokens=max_tokens, temperature=0.0)
    try:
        return keep_grounded(parse_record(reply), item)
    except CatalogueError as first:
        retry = [*messages, {"role": "assistant", "content": reply},
                 {"role": "user", "content": f"That was not a usable record ({first}). Reply "
                                             "with the JSON object only."}]
        reply = complete(llm, retry, max_tokens=max_tokens, temperature=0.0)
        try:
            return keep_grounded(parse_record(reply), item)
        except CatalogueError as second:
            raise CatalogueError(f"{second} (after one retry); reply began "
                                 f"{reply.strip()[:80]!r}") from second


def catalogue(store: ClipStore, llm: Callable[[], LLM], model: str, *,
              files: Sequence[MediaRecord] | None = None, force: bool = False,
              progress: Callable[[int, int, str], None] | None = None) -> list[CatalogueOutcome]:
    """Write (or bring up to date) the LLM catalogue record of each file.

    ``model`` names the LLM for the resumption hash (the spec, so no model is loaded to decide
    that nothing needs doing); ``llm`` builds it on first need. A file whose stored record was
    made from the same inputs is skipped unless ``force``. Records are stored as the ``llm``
    source of the file-metadata store, and each file's ``meta`` clip is refreshed.
    """
    from indexing.file_meta_index import refresh_meta_clips
    from indexing.stores.file_meta import FileMeta, FileMetaStore

    metas = FileMetaStore(store.db_dir)
    todo = list(files if files is not None else store.media())
    outcomes: list[CatalogueOutcome] = []
    model_obj: LLM | None = None
    done: list[str] = []
    for i, media in enumerate(todo, 1):
        if progress:
            progress(i, len(todo), media.name)
        t0 = time.monotonic()
        item = gather(store, media)
        digest = item.digest(model)
        known = metas.of(media.media_id).get("llm")
        if known is not None and known.inputs == digest and not force:
            outcomes.append(CatalogueOutcome(media.path, "skipped", known.fields))
            continue
        if not (item.transcript or item.screen_text or item.captions):
            outcomes.append(CatalogueOutcome(media.path, "empty", None,
                                             "nothing to catalogue: no speech, subtitles, "
                                             "on-screen text or captions"))
            continue
        if model_obj is None:
            model_obj = llm()
        try:
            record = write_record(model_obj, item)
        except CatalogueError as exc:
            outcomes.append(CatalogueOutcome(media.path, "failed", None, str(exc),
                                             time.monotonic() - t0))
            continue
        metas.put(FileMeta(media.media_id, media.path, "llm", record, inputs=digest))
        done.append(media.media_id)
        outcomes.append(CatalogueOutcome(media.path, "catalogued", record, "",
                                         time.monotonic() - t0))
    if done:
        refresh_meta_clips(store, done, lambda: _embedder(store))
    return outcomes


def _embedder(store: ClipReader) -> Any:
    from indexing.settings import Settings
    from indexing.stages.embed import embedder_from_settings

    built = store.embedder()
    return embedder_from_settings(Settings.from_env(db_dir=store.db_dir),
                                  built[0] if built else None)


def _clip_text(texts: list[str], limit: int) -> str:
    """Texts joined, cut at a word boundary near ``limit`` characters."""
    text = " ".join(" ".join(t.split()) for t in texts if t.strip())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " …"
    return text
