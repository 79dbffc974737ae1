"""What a map shows: points (clips, shots or files) with their text, span and vector."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from indexing.stores.base import ClipReader
from indexing.types import Clip, ClipKind

LEVELS = ("clips", "shots", "files")


@dataclass(frozen=True, slots=True)
class Point:
    """One thing on the map: a span of one file, its words and (for video) its keyframe."""

    media_id: str
    media_path: str
    start: float
    end: float
    text: str
    has_video: bool
    keyframe: str | None = None


def points(store: ClipReader, by: str = "clips") -> tuple[list[Point], np.ndarray]:
    """The points of ``store`` at level ``by`` and their unit vectors (rows aligned).

    ``clips``: every clip with words (speech, subtitles). ``shots``: every shot of a video that
    has words in it, as the mean vector of the clips it overlaps (the index holds no picture
    vectors yet, so a shot without words is not on the map). ``files``: every file with words,
    as the mean vector of its clips.
    """
    if by not in LEVELS:
        raise ValueError(f"--by must be one of {', '.join(LEVELS)}, not {by!r}")
    clips, vectors = store.clip_vectors()
    video = {m.media_id: m.has_video for m in store.media()}
    keep = [i for i, c in enumerate(clips) if c.kind is not ClipKind.SHOT and c.text.strip()
            and c.media_id in video]
    clips = [clips[i] for i in keep]
    vectors = vectors[keep] if len(keep) else np.zeros((0, vectors.shape[1] if vectors.ndim
                                                          == 2 else 0), np.float32)
    if by == "clips":
        return [Point(c.media_id, c.media_path, c.start, c.end, c.text, video[c.media_id],
                      c.keyframe) for c in clips], vectors
    by_file: dict[str, list[int]] = {}
    for i, c in enumerate(clips):
        by_file.setdefault(c.media_id, []).append(i)
    out: list[Point] = []
    rows: list[np.ndarray] = []
    for media_id, idx in sorted(by_file.items(), key=lambda kv: clips[kv[1][0]].media_path):
        group = sorted(idx, key=lambda i: clips[i].start)
        if by == "files":
            first = clips[group[0]]
            out.append(Point(media_id, first.media_path, 0.0, max(clips[i].end for i in group),
                             _joined(clips[i] for i in group), video[media_id],
                             next((clips[i].keyframe for i in group if clips[i].keyframe),
                                  None)))
            rows.append(_mean(vectors[group]))
            continue
        for shot in store.shots_of(media_id):
            inside = [i for i in group if clips[i].start < shot.end and shot.start < clips[i].end]
            if not inside:
                continue
            out.append(Point(media_id, clips[inside[0]].media_path, shot.start, shot.end,
                             _joined(clips[i] for i in inside), True,
                             str(shot.keyframe) if shot.keyframe else None))
            rows.append(_mean(vectors[inside]))
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    return out, np.vstack(rows) if rows else np.zeros((0, dim), np.float32)


def _mean(rows: np.ndarray) -> np.ndarray:
    v = rows.mean(axis=0)
    norm = float(np.linalg.norm(v))
    return (v / norm if norm > 0 else v).astype(np.float32)


def _joined(clips: Iterable[Clip]) -> str:
    return " ".join(c.text for c in clips)
