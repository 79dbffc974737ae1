"""On-screen text: a text reader (:mod:`indexing.backends.rapidocr`) on shot keyframes and on
frames sampled inside long shots.

Each caption becomes one clip of kind ``ocr`` that spans the time it stays on screen: readings
of consecutive sampled frames that say the same (after normalising, see
:func:`~indexing.stages.ocr_text.same_text`) are one caption. As frames are only sampled, a
caption's edges are placed at the shot cut or the neighbouring sample, whichever is nearer.

Cost is kept bounded: the keyframes the shot stage wrote are reused, extra frames are decoded
by ffmpeg at a few timestamps only (at most ``max_per_minute`` frames a minute in all), the
detector reads frames at most ``side`` pixels on their long side, and a frame that looks like
the previous one reuses its reading.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexing.fmt import one_line
from indexing.media import MediaError
from indexing.stages.ocr_text import (
    WordSplitter,
    is_junk,
    reading_order,
    same_text,
    union_box,
)
from indexing.types import Clip, ClipKind, Media, Shot, TextBox, TextTime

if TYPE_CHECKING:
    from indexing.protocols import TextReader

# Mean absolute difference (0-255) of two 32x32 grey thumbnails below which a frame is taken
# to show the same picture as the previous one, and its reading is reused.
_SAME_PICTURE = 3.0


@dataclass(frozen=True, slots=True)
class Sample:
    """One frame to read: its time, the shot it lies in, and its keyframe file if it is one."""

    time: float
    shot: Shot
    keyframe: Path | None = None


def sample_times(shots: Sequence[Shot], every: float = 4.0,
                 max_per_minute: float = 20.0) -> list[Sample]:
    """The frames to read: each shot's keyframe, plus one every ``every`` seconds inside shots
    longer than that, thinned to at most ``max_per_minute`` frames a minute.

    Keyframes of slivers (flashes, a cut just after another) within ``every / 4`` s of an
    earlier keyframe are skipped: a caption on screen for less than that is rarely readable.
    Past the budget, extra frames go first, evenly; then keyframes, evenly.
    """
    keys: list[Sample] = []
    extra: list[Sample] = []
    for shot in shots:
        key_t = shot.keyframe_time
        if key_t is None:
            key_t = (shot.start + shot.end) / 2
        if not keys or key_t - keys[-1].time >= every / 4:
            keys.append(Sample(key_t, shot, shot.keyframe))
        t = shot.start + every / 2
        while t < shot.end - every / 4:
            if abs(t - key_t) >= every / 2:
                extra.append(Sample(t, shot))
            t += every
    duration = max((s.end for s in shots), default=0.0)
    budget = max(1, int(max_per_minute * duration / 60.0 + 0.5))
    if len(keys) >= budget:
        keys = list(dict.fromkeys(_even(keys, budget)))
        extra = []
    elif len(keys) + len(extra) > budget:
        extra = _even(extra, budget - len(keys))
    return sorted(keys + extra, key=lambda s: s.time)


def _even(items: list[Sample], n: int) -> list[Sample]:
    """``n`` of ``items``, evenly spread (first and last kept)."""
    if n >= len(items):
        return items
    if n == 1:
        return [items[len(items) // 2]]
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def load_frame(media: Media, sample: Sample, width: int = 640) -> np.ndarray:
    """The BGR frame of ``sample``: its keyframe file, else one frame decoded by ffmpeg."""
    import cv2

    if sample.keyframe is not None and sample.keyframe.exists():
        image = cv2.imread(str(sample.keyframe))
        if image is not None:
            return image
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{max(sample.time, 0):.3f}",
         "-i", str(media.path), "-frames:v", "1", "-vf", f"scale='min({width},iw)':-2",
         "-f", "image2pipe", "-vcodec", "bmp", "-"],
        capture_output=True, timeout=120, check=False,
    )
    image = None
    if proc.returncode == 0 and proc.stdout:
        image = cv2.imdecode(np.frombuffer(proc.stdout, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"frame at {sample.time:.2f}s could not be read: "
                         f"{one_line(proc.stderr.decode(errors='replace'))}")
    return image


def read_samples(media: Media, samples: Sequence[Sample],
                 reader: TextReader) -> list[list[TextBox]]:
    """Read every sample's frame; a frame that looks like the previous one reuses its reading.

    A frame that cannot be decoded reads as no text (the others still count).
    """
    import cv2

    readings: list[list[TextBox]] = []
    previous: np.ndarray | None = None
    for sample in samples:
        try:
            frame = load_frame(media, sample)
        except MediaError:
            readings.append([])
            previous = None
            continue
        thumb = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (32, 32),
                           interpolation=cv2.INTER_AREA).astype(np.float32)
        if previous is not None and float(np.abs(thumb - previous).mean()) < _SAME_PICTURE:
            readings.append(readings[-1])
        else:
            readings.append(reader.read([frame])[0])
        previous = thumb
    return readings


@dataclass
class _Caption:
    readings: list[tuple[float, str]]  # (mean confidence, text) per frame it was read in
    lines: list[TextBox]
    first: int  # index of the first and last sample it was read in
    last: int


def caption_clips(media: Media, samples: Sequence[Sample], readings: Sequence[list[TextBox]],
                  splitter: WordSplitter | None = None, *,
                  min_confidence: float = 0.8) -> list[Clip]:
    """One ``ocr`` clip per caption: consecutive samples reading the same text are merged."""
    captions: list[_Caption] = []
    open_: _Caption | None = None
    for i, lines in enumerate(readings):
        kept = reading_order([b for b in lines if not is_junk(b, min_confidence)])
        if splitter is not None:
            kept = [TextBox(splitter.split(b.text), b.confidence, b.box) for b in kept]
        text = " ".join(b.text for b in kept)
        if open_ is not None and text and same_text(open_.readings[-1][1], text):
            open_.readings.append((sum(b.confidence for b in kept) / len(kept), text))
            open_.last = i
            continue
        open_ = None
        if text:
            open_ = _Caption([(sum(b.confidence for b in kept) / len(kept), text)], kept, i, i)
            captions.append(open_)
    clips = []
    for seq, cap in enumerate(captions):
        first, last = samples[cap.first], samples[cap.last]
        # The caption was not on screen at the neighbouring samples: its edges lie between,
        # at the cut if one is there.
        start = first.shot.start
        if cap.first > 0:
            start = max(start, samples[cap.first - 1].time)
        end = last.shot.end
        if cap.last + 1 < len(samples):
            end = min(end, samples[cap.last + 1].time)
        end = min(max(end, last.time), media.duration) if media.duration else max(end, last.time)
        text = max(cap.readings)[1]  # the surest reading
        box = tuple(round(v, 4) for v in union_box(cap.lines))
        clips.append(Clip(
            media_id=media.media_id, media_path=str(media.path), kind=ClipKind.OCR,
            start=round(start, 3), end=round(end, 3), text=text, seq=seq,
            shot_index=first.shot.index,
            keyframe=str(first.shot.keyframe) if first.shot.keyframe else None,
            times=(TextTime(0, len(text), round(start, 3), round(end, 3)),),
            box=(box[0], box[1], box[2], box[3]),
        ))
    return clips


def ocr_clips(media: Media, shots: Sequence[Shot], reader: TextReader,
              splitter: WordSplitter | None = None, *, every: float = 4.0,
              max_per_minute: float = 20.0) -> list[Clip]:
    """The on-screen text of ``media`` as ``ocr`` clips (see the module docstring).

    Without shots (shot detection off) the whole file counts as one shot.
    """
    if not media.has_video:
        return []
    whole = not shots
    if whole:
        shots = [Shot(index=0, start=0.0, end=media.duration)]
    samples = sample_times(shots, every, max_per_minute)
    readings = read_samples(media, samples, reader)
    clips = caption_clips(media, samples, readings, splitter)
    return [replace(c, shot_index=None) for c in clips] if whole else clips
