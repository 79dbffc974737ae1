"""All storage contracts in one place.

A store keeps three things: one record per indexed media file, the clips (text + vector) that
search returns, and the shots (keyframes, optional image vectors). Clip ids are content hashes,
so writing the same clip twice is a no-op, and a media record is written *last*: a file whose
record is missing was not finished and is redone from scratch on the next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from indexing.types import Clip, ClipKind, Hit, Shot


class StoreError(Exception):
    """A store that cannot be used as asked (wrong embedder, unreadable, ...)."""


@dataclass(frozen=True, slots=True)
class MediaRecord:
    """What the store remembers about one indexed file."""

    media_id: str
    path: str
    duration: float
    size: int
    mtime_ns: int
    has_audio: bool
    has_video: bool
    clips: int
    shots: int
    indexed_at: float
    language: str = ""
    asr_model: str = ""
    warnings: str = ""  # newline-separated

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def kind(self) -> str:
        return "video" if self.has_video else "audio"


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """A file that failed in an earlier run, kept so ``deerin status`` can show it."""

    path: str
    reason: str
    stage: str
    at: float


class ClipStore(Protocol):
    """The index the pipeline writes and the assistant reads."""

    def ensure_embedder(self, model_id: str, dim: int) -> None:
        """Record the embedder on first use; raise :class:`StoreError` if another built it."""
        ...

    def embedder(self) -> tuple[str, int] | None:
        """The (model_id, dim) that built this store, or None for an empty store."""
        ...

    # -- media -------------------------------------------------------------------------------
    def media(self) -> list[MediaRecord]: ...

    def media_by_path(self, path: str) -> MediaRecord | None: ...

    def put_media(self, record: MediaRecord) -> None:
        """Mark a file as completely indexed (call after its clips and shots are written)."""
        ...

    def remove_media(self, path: str) -> None:
        """Drop everything stored for the file at ``path`` (also half-written clips)."""
        ...

    # -- clips and shots ---------------------------------------------------------------------
    def add_clips(self, clips: Sequence[Clip], vectors: np.ndarray) -> int:
        """Upsert clips by content id; return how many were new."""
        ...

    def add_shots(self, media_id: str, media_path: str, shots: Sequence[Shot],
                  vectors: np.ndarray | None = None) -> None: ...

    def clips_of(self, media_id: str) -> list[Clip]: ...

    def shots_of(self, media_id: str) -> list[Shot]: ...

    def count_clips(self) -> int: ...

    # -- search ------------------------------------------------------------------------------
    def search(self, text: str, vector: np.ndarray | None, k: int = 10,
               kinds: Sequence[ClipKind] | None = None) -> list[Hit]:
        """Hybrid search: full-text and vector rankings fused (reciprocal rank fusion)."""
        ...

    def neighbours(self, clip: Clip, radius: int = 1) -> list[Clip]:
        """The clips just before and after ``clip`` in the same file and kind."""
        ...

    # -- failures ----------------------------------------------------------------------------
    def record_failure(self, path: str, reason: str, stage: str) -> None: ...

    def clear_failure(self, path: str) -> None: ...

    def failures(self) -> list[FailureRecord]: ...
