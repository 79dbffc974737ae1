"""Moments and cuts: what a phrase search finds, and the spans a montage or an export plays.

An :class:`Occurrence` is where something is said (the seconds of its words); a :class:`Cut` is
a span of one file that will be played, padded around one or more occurrences. Both are frozen
and carry where they came from, so every second of a montage or a rough cut can be cited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexing.fmt import fmt_time
from indexing.types import ClipKind


@dataclass(frozen=True, slots=True)
class Occurrence:
    """``text`` is said (or shown, for subtitles) in ``media_path`` from ``start`` to ``end``.

    ``context`` is the sentence around it; ``score`` is 1.0 for a word match and the cosine
    similarity for a semantic one.
    """

    media_id: str
    media_path: str
    kind: ClipKind
    start: float
    end: float
    text: str
    context: str = ""
    score: float = 1.0

    @property
    def name(self) -> str:
        return Path(self.media_path).name


@dataclass(frozen=True, slots=True)
class Cut:
    """A span of one file to play: ``start``..``end`` seconds, with what is said in it.

    ``has_video`` says whether the file has a picture (an audio file in a video montage is
    shown over black); ``media_duration`` bounds the span; ``occurrences`` are the moments the
    cut was made for (empty for a cut made from a whole clip).
    """

    media_id: str
    media_path: str
    start: float
    end: float
    text: str
    has_video: bool
    media_duration: float
    occurrences: tuple[Occurrence, ...] = ()

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def name(self) -> str:
        return Path(self.media_path).name

    @property
    def label(self) -> str:
        """``file @ m:ss–m:ss``, the way answers cite clips."""
        return f"{self.name} @ {fmt_time(self.start)}–{fmt_time(self.end)}"


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What planning a cut needs to know about its file."""

    media_id: str
    path: str
    duration: float
    has_video: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """The cuts to render, and how many were left out by ``max_cuts``."""

    cuts: tuple[Cut, ...]
    found: int  # cuts before the limit
    dropped: int  # cuts beyond the limit, left out


def plan_cuts(occurrences: Iterable[Occurrence], media: Mapping[str, MediaInfo], *,
              pad: float = 0.3, max_cuts: int | None = None) -> Plan:
    """Pad every occurrence by ``pad`` seconds on each side, merge those of one file that then
    overlap or touch, and keep the first ``max_cuts`` in collection order (file path, time).

    Padding never reaches outside the file. Occurrences of files missing from ``media`` are
    ignored (the caller reports them).
    """
    if pad < 0:
        raise ValueError("pad must be >= 0")
    by_file: dict[str, list[Occurrence]] = {}
    for occ in occurrences:
        if occ.media_id in media:
            by_file.setdefault(occ.media_id, []).append(occ)
    cuts: list[Cut] = []
    for media_id in sorted(by_file, key=lambda m: media[m].path):
        info = media[media_id]
        spans: list[tuple[float, float, list[Occurrence]]] = []
        for occ in sorted(by_file[media_id], key=lambda o: (o.start, o.end)):
            a = max(0.0, occ.start - pad)
            b = min(info.duration, occ.end + pad) if info.duration > 0 else occ.end + pad
            if spans and a <= spans[-1][1]:
                s, e, group = spans[-1]
                spans[-1] = (s, max(e, b), [*group, occ])
            else:
                spans.append((a, b, [occ]))
        for a, b, group in spans:
            if b - a <= 0:
                continue
            cuts.append(Cut(media_id, info.path, round(a, 3), round(b, 3),
                            " … ".join(_unique(o.text for o in group)), info.has_video,
                            info.duration, tuple(group)))
    limit = len(cuts) if max_cuts is None else max(0, max_cuts)
    return Plan(tuple(cuts[:limit]), len(cuts), max(0, len(cuts) - limit))


def sequence_offsets(cuts: Sequence[Cut]) -> list[float]:
    """Where each cut starts in the sequence that plays them one after another."""
    out, at = [], 0.0
    for c in cuts:
        out.append(at)
        at += c.duration
    return out


def _unique(texts: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for t in texts:
        if t not in seen:
            seen.append(t)
    return seen
