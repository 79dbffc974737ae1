"""A file's transcript as one text with timed pieces, rebuilt from its stored clips.

Clips are cut between words, so a phrase can straddle two of them; searching and exporting work
on the whole text of a file (one per kind: speech, subtitles) with every piece's seconds, built
by joining the clips in order and shifting their :class:`~indexing.types.TextTime` offsets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from indexing.types import Clip, ClipKind, TextTime

# Kinds whose text is what is said or shown, in time order (shot clips would only repeat them).
TIMED_KINDS = (ClipKind.SPEECH, ClipKind.SUBTITLE)


@dataclass(frozen=True, slots=True)
class Transcript:
    """All the text of one file and kind, with the seconds of each word (or cue)."""

    media_id: str
    media_path: str
    kind: ClipKind
    text: str
    times: tuple[TextTime, ...]
    language: str | None = None

    def span_of(self, char_start: int, char_end: int) -> tuple[float, float] | None:
        """The seconds in which ``text[char_start:char_end]`` is said or shown, if timed."""
        inside = [t for t in self.times if t.char_end > char_start and t.char_start < char_end]
        if not inside:
            return None
        return min(t.start for t in inside), max(t.end for t in inside)

    def pieces(self) -> list[tuple[float, float, str]]:
        """Each timed piece (a word, or a cue) as ``(start, end, text)``, in time order."""
        return [(t.start, t.end, self.text[t.char_start:t.char_end]) for t in self.times]


def transcripts(clips: Iterable[Clip], kinds: Sequence[ClipKind] = TIMED_KINDS
                ) -> list[Transcript]:
    """One :class:`Transcript` per (file, kind) among ``clips``, ordered by path then kind.

    Clips without word or cue times still count: their whole span times their whole text.
    """
    groups: dict[tuple[str, str, ClipKind], list[Clip]] = {}
    for c in clips:
        if c.kind in kinds:
            groups.setdefault((c.media_path, c.media_id, c.kind), []).append(c)
    out = []
    for (path, media_id, kind), group in sorted(groups.items(),
                                                key=lambda kv: (kv[0][0], kv[0][2].value)):
        group.sort(key=lambda c: (c.start, c.seq))
        parts: list[str] = []
        times: list[TextTime] = []
        offset = 0
        languages: dict[str, int] = {}
        for c in group:
            if parts:
                parts.append(" ")
                offset += 1
            parts.append(c.text)
            clip_times = c.times or (TextTime(0, len(c.text), c.start, c.end),)
            times += [TextTime(t.char_start + offset, t.char_end + offset, t.start, t.end)
                      for t in clip_times]
            offset += len(c.text)
            if c.language:
                languages[c.language] = languages.get(c.language, 0) + len(c.text)
        language = max(languages, key=lambda k: languages[k]) if languages else None
        out.append(Transcript(media_id, path, kind, "".join(parts), tuple(times), language))
    return out
