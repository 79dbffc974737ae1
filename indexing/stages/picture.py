"""Picture search at index time: the frames that stand for each shot, and their image vectors.

Each shot's keyframe, plus a few frames spread over long shots, is embedded by an
:class:`~indexing.protocols.ImageEmbedder` (the shipped code path is
:mod:`indexing.backends.open_clip`) into one joint image-text space, so a typed description finds
the shots that look like it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from indexing.media import grab_frame
from indexing.types import Shot

if TYPE_CHECKING:
    from indexing.protocols import ImageEmbedder
    from indexing.stores.shot_vectors import ShotVector

@dataclass(frozen=True, slots=True)
class ShotFrame:
    """A frame that stands for a shot in picture search."""

    shot: Shot
    time: float
    path: Path


def shot_frames(media_id: str, path: Path, shots: Sequence[Shot], keyframe_dir: Path, *,
                per_long_shot: int = 3, long_shot: float = 8.0,
                width: int = 640) -> tuple[list[ShotFrame], list[str]]:
    """The frames to embed: each shot's keyframe, and for shots longer than ``long_shot``
    seconds up to ``per_long_shot`` frames spread over the shot (the keyframe is the middle
    one), because one middle frame says little about a 40-second pan. Extra frames are written
    beside the keyframes as ``{media_id}_{index:04d}_{j}.jpg``. Returns the frames and warnings
    (a frame ffmpeg cannot read is skipped)."""
    from indexing.media import MediaError

    frames: list[ShotFrame] = []
    warnings: list[str] = []
    for shot in shots:
        if shot.keyframe is not None and Path(shot.keyframe).is_file():
            middle = shot.keyframe_time if shot.keyframe_time is not None \
                else (shot.start + shot.end) / 2
            frames.append(ShotFrame(shot, middle, Path(shot.keyframe)))
        if shot.end - shot.start <= long_shot or per_long_shot < 2:
            continue
        # Evenly spaced inside the shot, the keyframe's middle slot excluded.
        n = per_long_shot
        times = [shot.start + (shot.end - shot.start) * (j + 0.5) / n for j in range(n)]
        for j, t in enumerate(times):
            if n % 2 == 1 and j == n // 2:
                continue
            out = keyframe_dir / f"{media_id}_{shot.index:04d}_{j}.jpg"
            try:
                if not out.is_file():
                    grab_frame(path, t, out, width=width)
            except MediaError as exc:
                warnings.append(f"shot {shot.index} frame at {t:.1f}s skipped: {exc}")
                continue
            frames.append(ShotFrame(shot, t, out))
    return frames, warnings


def embed_shots(media_id: str, path: Path, shots: Sequence[Shot], embedder: ImageEmbedder,
                keyframe_dir: Path, *, per_long_shot: int = 3,
                long_shot: float = 8.0) -> tuple[list[ShotVector], list[str]]:
    """CLIP vectors of the frames that stand for ``shots`` (see :func:`shot_frames`), ready
    for :class:`~indexing.stores.shot_vectors.ShotVectors`, and warnings."""
    from indexing.stores.shot_vectors import ShotVector

    frames, warnings = shot_frames(media_id, path, shots, keyframe_dir,
                                   per_long_shot=per_long_shot, long_shot=long_shot)
    readable = []
    for f in frames:
        try:
            from PIL import Image

            with Image.open(f.path) as im:
                im.verify()
            readable.append(f)
        except OSError as exc:  # a truncated JPEG must not cost the other shots
            warnings.append(f"shot {f.shot.index} frame {f.path.name} unreadable: {exc}")
    vectors = embedder.embed_images([f.path for f in readable])
    rows = [ShotVector(media_id, str(path), f.shot.index, f.shot.start, f.shot.end, f.time,
                       str(f.path), str(f.shot.keyframe or f.path), v)
            for f, v in zip(readable, vectors, strict=True)]
    return rows, warnings
