"""The index as the chat sees it: whether one exists, and its files, at one moment.

A leaf of the web package: the chat service makes snapshots, and the text renderers and the
layers above (through :class:`~assistant.web.extensions.ChatHost`) read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from indexing.stores.base import MediaRecord


@dataclass(frozen=True)
class IndexSnapshot:
    """The collection at one moment: whether an index exists, and its files."""

    db_dir: Path
    exists: bool
    media: tuple[MediaRecord, ...] = ()
    _by_id: dict[str, MediaRecord] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Every Range request looks a file up by id: a dict keeps that O(1) for big collections.
        object.__setattr__(self, "_by_id", {m.media_id: m for m in self.media})

    @property
    def signature(self) -> tuple[tuple[str, str, float], ...]:
        """Changes whenever a file is indexed, re-indexed or removed."""
        return tuple((m.media_id, m.path, m.indexed_at) for m in self.media)

    @property
    def clips(self) -> int:
        """How many clips the indexed files hold."""
        return sum(m.clips for m in self.media)

    def by_id(self, media_id: str) -> MediaRecord | None:
        """The record of an indexed file, by content id."""
        return self._by_id.get(media_id)
