"""The indexed collection as interaction sees it: its files, their transcripts, and moments.

Files can go missing after indexing (moved, unmounted); everything here reports them by name
and carries on with the others, rather than failing a whole montage or export.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from indexing.types import Clip, Hit
from interaction.cuts import Cut, MediaInfo, Occurrence
from interaction.phrases import find_phrase, find_similar
from interaction.transcript import Transcript, transcripts

if TYPE_CHECKING:
    from assistant.retrieval import Retriever
    from indexing.stores.base import ClipReader
    from indexing.timecode import Timing

# The store a collection was opened on: read here only through ClipReader, while whoever opened
# it keeps the store's own type (a command may also write the graph with it).
Store = TypeVar("Store", bound="ClipReader")


@dataclass
class Collection(Generic[Store]):
    """One opened index: its files by id, and (read on first use) its transcripts."""

    store: Store
    media: dict[str, MediaInfo]
    _transcripts: list[Transcript] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, store: Store) -> Collection[Store]:
        """The collection of ``store``'s indexed files."""
        media = {m.media_id: MediaInfo(m.media_id, m.path, m.duration, m.has_video)
                 for m in store.media()}
        return cls(store, media)

    def transcripts(self) -> list[Transcript]:
        """Every file's transcripts (speech and subtitles), read once."""
        if self._transcripts is None:
            self._transcripts = transcripts(self.store.all_clips())
        return self._transcripts

    def missing(self, media_ids: Iterable[str] | None = None) -> list[str]:
        """Paths of indexed files (of ``media_ids``, default all) no longer on disk."""
        ids = self.media if media_ids is None else dict.fromkeys(media_ids)
        return sorted({self.media[i].path for i in ids
                       if i in self.media and not Path(self.media[i].path).is_file()})

    def present(self, media_ids: Iterable[str] | None = None) -> dict[str, MediaInfo]:
        """The files (of ``media_ids``) still on disk, by id."""
        gone = set(self.missing(media_ids))
        ids = self.media if media_ids is None else dict.fromkeys(media_ids)
        return {i: self.media[i] for i in ids if i in self.media and self.media[i].path
                not in gone}


def find_moments(collection: Collection, phrase: str, mode: str = "exact", *,
                 retriever: Retriever | None = None, limit: int = 50) -> list[Occurrence]:
    """Where ``phrase`` is said: ``exact``/``fuzzy`` on word times, or ``semantic`` (which
    needs ``retriever``)."""
    if mode == "semantic":
        if retriever is None:
            raise ValueError("semantic search needs a retriever")
        return find_similar(retriever, phrase, limit=limit)
    if mode not in ("exact", "fuzzy"):
        raise ValueError(f"unknown search mode {mode!r}: exact, fuzzy or semantic")
    return find_phrase(collection.transcripts(), phrase, fuzzy=mode == "fuzzy")


def cut_of(clip: Clip, media: Mapping[str, MediaInfo], start: float | None = None,
           end: float | None = None, occurrences: Sequence[Occurrence] = ()) -> Cut | None:
    """A cut playing ``clip`` (or its ``start``..``end``), ``None`` when its file is unknown."""
    info = media.get(clip.media_id)
    if info is None:
        return None
    a = clip.start if start is None else start
    b = clip.end if end is None else end
    return Cut(clip.media_id, info.path, round(a, 3), round(b, 3), clip.text, info.has_video,
               info.duration, tuple(occurrences))


def cuts_of_hits(hits: Sequence[Hit], media: Mapping[str, MediaInfo]) -> list[Cut]:
    """One cut per search hit (its whole clip), in rank order; hits of unknown files skipped."""
    from interaction.cuts import Occurrence

    out = []
    for h in hits:
        c = h.clip
        moment = Occurrence(c.media_id, c.media_path, c.kind, c.start, c.end, c.text, c.text,
                            round(h.score, 4))
        cut = cut_of(c, media, occurrences=(moment,))
        if cut is not None:
            out.append(cut)
    return out


def cut_timing(cuts: Sequence[Cut]) -> tuple[Timing, list[str]]:
    """The timing of a timeline of ``cuts``: each source's exact frame rate and start
    timecode (ffprobe), the timeline at the first picture source's rate. Files that cannot
    be probed or timed are one-line problems naming them."""
    from indexing.media import MediaError, probe
    from indexing.timecode import timeline_timing

    probed = []
    problems: list[str] = []
    for path in dict.fromkeys(c.media_path for c in cuts):
        try:
            probed.append(probe(Path(path), media_id="-"))
        except (MediaError, OSError) as exc:
            problems.append(f"{Path(path).name}: {exc}")
    timing, more = timeline_timing(probed)
    return timing, problems + more
