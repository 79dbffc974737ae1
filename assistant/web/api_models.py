"""What the HTTP API reads and answers, as pydantic models (they make its OpenAPI document), and
how clips, hits and answers become them.

Every link is absolute: under the setting ``chat.public_url`` when set, else under the
address the request came to (:meth:`~assistant.web.settings.WebSettings.base_for`), so a MAM
or a notebook can open it as given. A clip's ``url`` plays it (the media route, with
``#t=start,end``); a citation's plays the words that support it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ConfigDict, Field

from assistant.answer import MAX_QUESTION_CHARS
from assistant.web.chat_service import MAX_K

if TYPE_CHECKING:
    from assistant.answer import Answer, Citation
    from assistant.graph.evidence import EvidenceList
    from assistant.web.extensions import ChatHost
    from indexing.stores.base import MediaRecord
    from indexing.types import Clip, Hit

MAX_HISTORY = 20
TOKEN_DAYS_DEFAULT = 30
TOKEN_DAYS_MAX = 365


# -- answers ---------------------------------------------------------------------------------


class ClipOut(BaseModel):
    """A clip: a span of one indexed file and the words said or shown in it."""

    id: str = Field(description="The clip's content id (`/api/clips/{id}`).")
    media_id: str = Field(description="The file's content id (`/api/files/{media_id}`).")
    file: str = Field(description="The file's name.")
    kind: str = Field(description="speech, subtitle, ocr, caption, shot or meta.")
    start: float = Field(description="Seconds from the start of the file.")
    end: float
    text: str
    language: str | None = None
    url: str = Field(description="Plays the clip: the media route with `#t=start,end`.")
    keyframe_url: str | None = Field(None, description="The clip's shot keyframe, if any.")
    box: tuple[float, float, float, float] | None = Field(
        None, description="On-screen text: where it is shown, as (left, top, right, bottom) "
                          "fractions of the picture.")


class HitOut(ClipOut):
    """A clip a search found, best first."""

    score: float
    found_by: list[str] = Field(description="The rankings that found it (fts, vector, ...).")


class WordOut(BaseModel):
    """A piece of a clip's text (a word, or a subtitle cue) with its seconds."""

    start: float
    end: float
    text: str


class ClipDetail(ClipOut):
    """A clip with the seconds of each of its words."""

    words: list[WordOut]


class SearchOut(BaseModel):
    """What ``/api/search`` answers."""

    collection: str
    query: str
    hits: list[HitOut]


class FileOut(BaseModel):
    """An indexed file."""

    media_id: str
    name: str
    path: str = Field(description="Where the server reads the file.")
    kind: str = Field(description="video or audio.")
    duration: float
    clips: int
    shots: int
    language: str | None = None
    indexed_at: float = Field(description="When it was indexed (Unix time).")
    url: str = Field(description="Streams the whole file (HTTP Range).")


class FilesOut(BaseModel):
    """A page of the indexed files, by path."""

    collection: str
    total: int
    offset: int
    limit: int
    files: list[FileOut]


class Turn(BaseModel):
    """An earlier question and its answer, for a follow-up."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(max_length=MAX_QUESTION_CHARS * 2)
    answer: str = Field(max_length=20_000)


class AskIn(BaseModel):
    """A question, with the conversation so far."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(max_length=MAX_QUESTION_CHARS * 2,
                          description="In plain words; at most 2,000 characters.")
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY,
                                description="Earlier turns, oldest first.")
    k: int | None = Field(None, ge=1, le=MAX_K, description="Clips the answer is drawn from.")


class CitationOut(BaseModel):
    """A marker ``[n]`` of the answer: the seconds it cites and the clip they are in."""

    n: int
    label: str = Field(description="`file @ mm:ss–mm:ss`.")
    start: float = Field(description="The cited seconds: the words that support the claim.")
    end: float
    url: str = Field(description="Plays the cited seconds.")
    score: float
    clip: ClipOut


class EvidenceFileOut(BaseModel):
    """A recording of an evidence list and how many of its moments it holds."""

    media: str = Field(description="Where the server reads the file.")
    moments: int


class EvidenceMomentOut(BaseModel):
    """A moment of an evidence list: a clip where a listed name is said."""

    media: str = Field(description="Where the server reads the file.")
    start: float = Field(description="The seconds of the words (the clip's when untimed).")
    end: float
    clip_start: float
    clip_end: float
    clip: str = Field(description="The clip's content id (`/api/clips/{id}`).")
    names: list[str] = Field(description="The names as said there.")
    url: str | None = Field(None, description="Plays the words (the media route with "
                            "`#t=start,end`); null when the clip left the index since the "
                            "graph was built.")


class EvidenceOut(BaseModel):
    """The knowledge graph's whole list of the moments something is named: what a question
    asking for every moment or recording that names it is answered with."""

    names: list[str] = Field(description="The entities listed, as the graph names them.")
    count: int = Field(description="How many moments (clips) name them.")
    unit: str = Field(description="What the question asked for: `moment` or `recording`.")
    files: list[EvidenceFileOut] = Field(description="Each recording with its count, in "
                                         "file order.")
    moments: list[EvidenceMomentOut] = Field(description="Every moment, in file and time "
                                             "order.")


class AnswerOut(BaseModel):
    """A checked answer: every sentence kept is supported by the clip it cites. A question
    asking for every moment or recording that names something is answered with the knowledge
    graph's whole list instead (``evidence``; ``text`` then states the count, without
    citations)."""

    question: str
    query: str = Field(description="The question as searched for (follow-ups stand alone).")
    text: str = Field(description="The answer, with markers [n].")
    refused: bool = Field(description="Whether the collection does not say.")
    extractive: bool = Field(description="Whether the answer quotes a passage.")
    citations: list[CitationOut]
    timings: dict[str, float]
    notes: list[str] = Field(default_factory=list, description="Why the answer is degraded "
                             "(e.g. the language model is unavailable).")
    evidence: EvidenceOut | None = Field(
        default=None, description="The list of every moment the question asks for, when it "
                                  "asks for one.")


class TokenIn(BaseModel):
    """How long an API token should last."""

    model_config = ConfigDict(extra="forbid")
    days: int = Field(TOKEN_DAYS_DEFAULT, ge=1, le=TOKEN_DAYS_MAX)


class TokenOut(BaseModel):
    """A bearer token for the API, IIIF and media routes."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds.")
    user: str
    note: str | None = None


# -- conversions -----------------------------------------------------------------------------


def clip_out(clip: Clip, service: ChatHost, base: str) -> ClipOut:
    """``clip`` with absolute links."""
    return ClipOut(**_clip_fields(clip, service, base))


def hit_out(hit: Hit, service: ChatHost, base: str) -> HitOut:
    """A search hit with absolute links."""
    return HitOut(**_clip_fields(hit.clip, service, base), score=round(hit.score, 4),
                  found_by=list(hit.sources))


def clip_detail(clip: Clip, service: ChatHost, base: str) -> ClipDetail:
    """``clip`` with its words' seconds."""
    words = [WordOut(start=t.start, end=t.end, text=clip.text[t.char_start:t.char_end])
             for t in clip.times]
    return ClipDetail(**_clip_fields(clip, service, base), words=words)


def citation_out(c: Citation, service: ChatHost, base: str) -> CitationOut:
    """A citation with absolute links."""
    return CitationOut(n=c.n, label=c.label, start=round(c.start, 3), end=round(c.end, 3),
                       url=base + service.media_url(c.clip, start=c.start, end=c.end),
                       score=round(c.score, 4), clip=clip_out(c.clip, service, base))


def answer_out(answer: Answer, service: ChatHost, base: str,
               notes: list[str] | None = None) -> AnswerOut:
    """A checked answer with absolute links."""
    return AnswerOut(question=answer.question, query=answer.query, text=answer.text,
                     refused=answer.refused, extractive=answer.extractive,
                     citations=[citation_out(c, service, base) for c in answer.citations],
                     timings={k: round(v, 3) for k, v in answer.timings.items()},
                     notes=notes or [])


def evidence_answer_out(question: str, found: EvidenceList, seconds: float,
                        clip_of: Callable[[str], Clip | None], service: ChatHost,
                        base: str) -> AnswerOut:
    """The answer to a question asking for a list of occurrences: the list's summary and the
    whole list (``found.to_json()``), each moment with the absolute URL that plays it."""
    listed = found.to_json()
    moments = cast("list[dict[str, Any]]", listed["moments"])
    for m, moment in zip(moments, found.moments, strict=True):
        clip = clip_of(moment.clip_id)
        start, end = moment.play
        m["url"] = (base + service.media_url(clip, start=start, end=end)
                    if clip is not None else None)
    return AnswerOut(question=question, query=question, text=found.summary(), refused=False,
                     extractive=False, citations=[], timings={"evidence": round(seconds, 3)},
                     evidence=EvidenceOut.model_validate(listed))


def file_out(record: MediaRecord, service: ChatHost, base: str) -> FileOut:
    """An indexed file with the link that streams it."""
    from assistant.web.media import media_url

    return FileOut(media_id=record.media_id, name=record.name, path=record.path,
                   kind=record.kind, duration=round(record.duration, 3), clips=record.clips,
                   shots=record.shots, language=record.language or None,
                   indexed_at=record.indexed_at,
                   url=base + media_url(record.media_id, record.name))


def _clip_fields(clip: Clip, service: ChatHost, base: str) -> dict[str, Any]:
    keyframe = service.keyframe_url_of(clip.keyframe)
    return {"id": clip.clip_id, "media_id": clip.media_id, "file": Path(clip.media_path).name,
            "kind": clip.kind.value, "start": round(clip.start, 3), "end": round(clip.end, 3),
            "text": clip.text, "language": clip.language,
            "url": base + service.media_url(clip), "box": clip.box,
            "keyframe_url": base + keyframe if keyframe else None}
