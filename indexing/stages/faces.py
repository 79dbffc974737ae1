"""Faces on screen: how many faces each shot keyframe shows, by any
:class:`~indexing.protocols.FaceCounter` (the shipped one is :mod:`indexing.backends.mtcnn`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from indexing.types import Shot

if TYPE_CHECKING:
    from indexing.protocols import FaceCounter


def count_faces(shots: Sequence[Shot], counter: FaceCounter) -> list[Shot]:
    """``shots`` with :attr:`~indexing.types.Shot.faces` set from their keyframes (left None
    where a shot has no readable keyframe)."""
    import cv2

    out = []
    for shot in shots:
        image = cv2.imread(str(shot.keyframe)) if shot.keyframe and Path(shot.keyframe).exists() \
            else None
        if image is None:
            out.append(shot)
            continue
        out.append(replace(shot, faces=counter.count([image])[0]))
    return out
