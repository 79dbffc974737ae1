"""Core data types shared by every layer of DEERIn.

All of them are frozen dataclasses with no heavy imports, so any module (CLI, store, assistant,
eval) can use them without pulling in a model backend. Times are always seconds from the start
of the media file, as floats.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class ClipKind(StrEnum):
    """Where the text of a clip comes from."""

    SPEECH = "speech"
    SUBTITLE = "subtitle"
    CAPTION = "caption"
    OCR = "ocr"
    SHOT = "shot"
    META = "meta"  # a file's catalogue record (manifest title, description, ...), whole-file span


@dataclass(frozen=True, slots=True)
class Stream:
    """One elementary stream of a media file, as ffprobe reports it."""

    index: int
    kind: str  # "audio" | "video" | "subtitle" | "data"
    codec: str
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Media:
    """A probed media file.

    ``media_id`` is a content hash: the same bytes anywhere on disk give the same id. Files over
    12 MiB are hashed from their size and three 4 MiB samples unless the index uses full hashes
    (:func:`indexing.media.file_hash`), so a re-encode, trim or append gives a new id but an
    edit confined to unsampled bytes does not.
    """

    media_id: str
    path: Path
    duration: float
    size: int
    mtime_ns: int
    has_audio: bool
    has_video: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    streams: tuple[Stream, ...] = ()
    # The picture's exact frame rate as ffprobe states it ("30000/1001"; "" without a picture),
    # the start timecode of the source ("10:00:00;00"; "" when none is recorded) and the tape
    # or reel name the file carries: what timelines need to cite the master's own frames.
    frame_rate: str = ""
    timecode: str = ""
    reel: str = ""
    # ffprobe's container names ("mxf", "mov,mp4,m4a,3gp,3g2,mj2") and the picture's pixel
    # format ("yuv422p10le"): what decides whether a browser can play the file.
    container: str = ""
    pixel_format: str = ""

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def kind(self) -> str:
        """``video`` when the file has a picture, else ``audio``."""
        return "video" if self.has_video else "audio"


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its time span."""

    text: str
    start: float
    end: float
    probability: float = 1.0


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of speech as the recogniser returned it, with its words."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    language: str | None = None
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass(frozen=True, slots=True)
class Cue:
    """One timed subtitle cue (from an .srt/.vtt sidecar)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Shot:
    """A continuous shot: a span between two cuts, with an optional keyframe image on disk."""

    index: int
    start: float
    end: float
    keyframe: Path | None = None
    keyframe_time: float | None = None
    faces: int | None = None  # faces seen on the keyframe; None = not looked for (or old index)


@dataclass(frozen=True, slots=True)
class TextBox:
    """One line of text read from a picture: the words, the reader's confidence (0..1) and
    where it is, as (left, top, right, bottom) fractions of the image's width and height."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class TextTime:
    """Where a piece of a clip's text is heard or shown: ``text[char_start:char_end]`` at
    ``start``..``end`` seconds (one recognised word, or one subtitle cue)."""

    char_start: int
    char_end: int
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Clip:
    """The retrieval unit: a span of one media file and the text that describes it.

    Clips are what search returns, what the LLM sees as numbered sources, what answers cite and
    what the player plays. ``times`` maps pieces of ``text`` to seconds, so a citation can open
    on the words that support it rather than at the clip's start; ``language`` is the language
    the text is in (ISO 639-1, as the recogniser or the subtitle file says), when known.
    """

    media_id: str
    media_path: str
    kind: ClipKind
    start: float
    end: float
    text: str
    seq: int = 0  # position among the clips of the same media and kind, for neighbour expansion
    shot_index: int | None = None
    keyframe: str | None = None
    language: str | None = None
    times: tuple[TextTime, ...] = ()
    # Where on-screen text (kind ``ocr``) is shown: (left, top, right, bottom) as fractions of
    # the frame's width and height; None for every other kind.
    box: tuple[float, float, float, float] | None = None

    @property
    def clip_id(self) -> str:
        """A content hash: re-inserting the same clip is a no-op."""
        # The path is part of the id so that two copies of one file are two citable sources.
        return content_id(self.media_id, self.media_path, self.kind.value, f"{self.start:.3f}",
                          f"{self.end:.3f}", self.text)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def title(self) -> str:
        """The title of the clip's source, from its file name (see :func:`media_title`)."""
        return media_title(self.media_path)

    def embedding_text(self) -> str:
        """The text that stands for this clip wherever a model reads it whole: the source title,
        then the words.

        Indexing embeds it and the assistant's rerank scores it, so both must read the same
        string; archive file names usually name the work, speaker or event, and a question that
        names its source ("in the lecture…") then matches that source's clips.
        """
        return f"{self.title}: {self.text}"

    def span_of(self, char_start: int, char_end: int) -> tuple[float, float]:
        """The seconds in which ``text[char_start:char_end]`` is said or shown.

        Falls back to the whole clip when the clip has no :attr:`times` or none overlap.
        """
        inside = [t for t in self.times if t.char_end > char_start and t.char_start < char_end]
        if not inside:
            return self.start, self.end
        return min(t.start for t in inside), max(t.end for t in inside)


def media_title(media_path: str) -> str:
    """A readable title from a file name: ``lewin_physicsworks_lecture-2.webm`` -> words.

    Reel numbers, dates and takes say little about content, so free-standing numbers go.
    """
    stem = Path(media_path).stem
    words = re.sub(r"[_\-.+]+", " ", stem)
    words = re.sub(r"\b\d+\b", " ", words)
    return " ".join(words.split())


@dataclass(frozen=True, slots=True)
class Hit:
    """A clip returned by a search, with its score and (when known) stored neighbours."""

    clip: Clip
    score: float
    sources: tuple[str, ...] = ()  # which rankers found it ("fts", "vector", ...)
    clip_id: str = ""
    similarity: float | None = None  # cosine similarity to the query vector, when known
    bm25: float | None = None  # full-text score, when the clip matched the words
    likelihood: float | None = None  # the reranker's question log-probability, when scored


@dataclass(frozen=True, slots=True)
class Failure:
    """A file that could not be indexed, with a one-line reason."""

    path: Path
    reason: str
    stage: str = ""


@dataclass(frozen=True, slots=True)
class FileResult:
    """What indexing one file produced."""

    path: Path
    media_id: str
    status: str  # "indexed" | "unchanged" | "failed"
    clips: int = 0
    shots: int = 0
    duration: float = 0.0
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IndexReport:
    """The outcome of one ``deerin index`` run."""

    results: tuple[FileResult, ...] = ()
    failures: tuple[Failure, ...] = ()
    pruned: tuple[str, ...] = field(default_factory=tuple)

    @property
    def indexed(self) -> int:
        return sum(1 for r in self.results if r.status == "indexed")

    @property
    def unchanged(self) -> int:
        return sum(1 for r in self.results if r.status == "unchanged")


def content_id(*parts: str) -> str:
    """A short stable id from the given strings (sha256, 20 hex digits)."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()[:20]
