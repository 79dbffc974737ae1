"""All storage contracts in one place.

A store keeps three things: one record per indexed media file, the clips (text + vector, with
the times of their words and their language) that search returns, and the shots (keyframes).
Media ids are content hashes of the file (sampled for files over 12 MiB unless the store was
built with full hashes, see :func:`indexing.media.file_hash`) and clip ids hash their content,
so writing the same clip twice is a no-op. A media record is written *last*: a file whose
record is missing was not finished and is redone from scratch on the next run.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from indexing.stores.errors import StoreError as StoreError  # part of the contracts
from indexing.stores.location import IndexLocation
from indexing.types import Clip, ClipKind, Hit, Shot


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


class ClipReader(Protocol):
    """What an index offers those who read it: its files, their clips and shots, search.

    The assistant, the graph, the chat, the map and the interaction layer need only this; a
    reader never takes the writer lock and sees the index as the last writer published it.
    """

    db_dir: Path  # this machine's folder of the index (its keyframe images, its graph)
    location: IndexLocation  # where the index lives: that folder, or an object store

    def embedder(self) -> tuple[str, int] | None:
        """The (model_id, dim) that built this store, or None for an empty store."""
        ...

    def id_scheme(self) -> str | None:
        """How this store's media ids were hashed (``sampled`` or ``full``), None if not yet."""
        ...

    # -- media -------------------------------------------------------------------------------
    def media(self) -> list[MediaRecord]: ...

    def media_by_path(self, path: str) -> MediaRecord | None: ...

    # -- clips and shots ---------------------------------------------------------------------
    def clips_of(self, media_id: str) -> list[Clip]: ...

    def clip(self, clip_id: str) -> Clip | None:
        """The clip with this content id (:attr:`Clip.clip_id`), or ``None``."""
        ...

    def all_clips(self) -> list[Clip]: ...

    def clip_vectors(self) -> tuple[list[Clip], np.ndarray]:
        """Every clip with its stored vector, row for row (for maps of the collection)."""
        ...

    def shots_of(self, media_id: str) -> list[Shot]: ...

    def count_clips(self, media_id: str | None = None) -> int: ...

    # -- search ------------------------------------------------------------------------------
    def search(self, text: str, vector: np.ndarray | None, k: int = 10,
               kinds: Sequence[ClipKind] | None = None, depth: int = 50) -> list[Hit]:
        """Hybrid search: full-text and vector rankings fused (reciprocal rank fusion)."""
        ...

    def neighbours(self, clip: Clip, radius: int = 1) -> list[Clip]:
        """The clips just before and after ``clip`` in the same file and kind."""
        ...

    # -- failures ----------------------------------------------------------------------------
    def failures(self) -> list[FailureRecord]: ...


class ClipWriter(Protocol):
    """What the indexing pipeline and index-time enrichment do to an index.

    Writers hold :meth:`writing` for their whole run; readers never take it.
    """

    db_dir: Path  # where the writer puts the index's keyframe images

    def writing(self, wait: float = 0.0) -> AbstractContextManager[object]:
        """The exclusive writer lock: waits up to ``wait`` s for another writer, else raises
        :class:`StoreError`. Re-entrant for one store object."""
        ...

    def ensure_embedder(self, model_id: str, dim: int) -> None:
        """Record the embedder on first use; raise :class:`StoreError` if another built it."""
        ...

    def ensure_id_scheme(self, scheme: str) -> None:
        """Record how media ids are hashed on first use; raise :class:`StoreError` if the store
        was built with another scheme (ids of the same file would differ)."""
        ...

    # -- media -------------------------------------------------------------------------------
    def put_media(self, record: MediaRecord) -> None:
        """Mark a file as completely indexed (call after its clips and shots are written)."""
        ...

    def remove_media(self, path: str) -> None:
        """Drop everything stored for the file at ``path`` (also half-written clips)."""
        ...

    def prune_orphans(self) -> int:
        """Drop rows no media record vouches for (left by a killed run); return how many files
        had any."""
        ...

    # -- clips and shots ---------------------------------------------------------------------
    def add_clips(self, clips: Sequence[Clip], vectors: np.ndarray,
                  windows: Sequence[tuple[int, np.ndarray]] = ()) -> int:
        """Upsert clips by content id, with optional sentence-window vectors (index into
        ``clips``, vector); return how many clips were new."""
        ...

    def remove_clips(self, media_path: str, kind: ClipKind) -> None:
        """Drop the clips (and their windows) of one kind of one file, to replace them."""
        ...

    def add_shots(self, media_id: str, media_path: str, shots: Sequence[Shot]) -> None: ...

    def finalize(self) -> bool:
        """Bring search indices up to date after writes; return whether anything was done."""
        ...

    # -- failures ----------------------------------------------------------------------------
    def record_failure(self, path: str, reason: str, stage: str) -> None: ...

    def clear_failure(self, path: str) -> None: ...


class ClipStore(ClipReader, ClipWriter, Protocol):
    """The index the pipeline writes and reads back (which files are done, which embedder):
    both halves, for those that do both."""
