"""Evidence lists in the chat: a question asking for every moment or recording that names
something ("every moment where Cuba is named", "which recordings mention Nicaragua?") is
answered with the knowledge graph's whole list (:mod:`assistant.graph.evidence`), a page at a
time, each moment a link that plays it.

Chainlit-free, like :mod:`assistant.web.graph_view` (which finds the list and builds the pages
with :func:`evidence_page`); :mod:`assistant.web.graph_chat` sends them. File names and the
names said are data: everything from them is escaped before it reaches Markdown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.graph.evidence import PAGE, EvidenceList, Moment
from assistant.web.render import _cell, _escape, titled
from indexing.fmt import fmt_time

if TYPE_CHECKING:
    from indexing.types import Clip

PLAYERS = 5  # inline players under a page (the first moments of it); every line is a link


@dataclass(frozen=True, slots=True)
class ShownMoment:
    """A moment of a page: its number in the whole list (from 1), its clip (``None`` when the
    clip left the index after the graph was built) and the URL that plays its seconds."""

    n: int
    moment: Moment
    clip: Clip | None
    url: str | None

    @property
    def start(self) -> float:
        return self.moment.play[0]

    @property
    def end(self) -> float:
        return self.moment.play[1]


@dataclass(frozen=True, slots=True)
class ShownFile:
    """A recording of the list, its number of moments, and where its first moment plays."""

    media_path: str
    count: int
    media_id: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class EvidencePage:
    """Page ``number`` of the list ``found`` answers ``question`` with (``size`` a page)."""

    question: str
    found: EvidenceList
    number: int
    size: int
    moments: tuple[ShownMoment, ...]
    files: tuple[ShownFile, ...] = ()  # the recordings, on a first page asking for them

    @property
    def pages(self) -> int:
        return self.found.pages(self.size)

    @property
    def next(self) -> int | None:
        """The page after this one, while there is one."""
        return self.number + 1 if self.number < self.pages else None


def evidence_page(question: str, found: EvidenceList, number: int,
                  clip_of: Callable[[str], Clip | None],
                  url_of: Callable[[Clip, float, float], str],
                  size: int = PAGE) -> EvidencePage:
    """Page ``number`` (from 1) of ``found``: its moments with their clips (``clip_of`` a clip
    id) and player URLs (``url_of`` a clip and the seconds to play: the media route, never a
    path); on the first page of a list of recordings, the recordings too."""
    first = (number - 1) * size + 1
    moments = []
    for n, m in enumerate(found.page(number, size), first):
        clip = clip_of(m.clip_id)
        moments.append(ShownMoment(n, m, clip, url_of(clip, *m.play) if clip else None))
    files: list[ShownFile] = []
    if number == 1 and found.unit == "recording":
        opening: dict[str, Moment] = {}
        for m in found.moments:
            opening.setdefault(m.media_path, m)
        for path, count in found.files:
            m = opening[path]
            clip = clip_of(m.clip_id)
            files.append(ShownFile(path, count, clip.media_id if clip else None,
                                   url_of(clip, *m.play) if clip else None))
    return EvidencePage(question, found, number, size, tuple(moments), tuple(files))


def evidence_markdown(page: EvidencePage, titles: Mapping[str, str] | None = None) -> str:
    """The page as Markdown: on the first, the summary sentence and (when the question asked
    for recordings) each recording with its count, under its catalogue title when ``titles``
    (by media id) has one; then the page's moments, numbered, each ``file @ start–end`` a link
    that plays the words, with the names as said."""
    found = page.found
    lines: list[str] = []
    if page.number == 1:
        lines.append(_escape(found.summary()))
        if page.files:
            lines += ["", "**Recordings**", ""]
            for f in page.files:
                name = titled(Path(f.media_path).name, f.media_id or "", titles)
                lines.append(f"- {_link(name, f.url)} — {_count(f.count)}")
    if not found.count:
        return "\n".join(lines)
    if not page.moments:
        lines.append(f"No more moments: the list has {_count(found.count)} on "
                     f"{page.pages} page{'s' * (page.pages != 1)}.")
        return "\n".join(lines)
    first, last = page.moments[0].n, page.moments[-1].n
    head = f"**Moments {first}–{last} of {found.count}**"
    if page.number > 1:
        head = f"**{_cell(' or '.join(found.names))}: moments {first}–{last} of {found.count}**"
    if page.pages > 1:
        head += f" (page {page.number} of {page.pages})"
    lines += ["", head, ""] if lines else [head, ""]
    for s in page.moments:
        said = ", ".join(f"“{_cell(w)}”" for w in s.moment.surfaces)
        # The whole file name: the parts of one recording differ only at its end.
        label = f"{Path(s.moment.media_path).name} @ {fmt_time(s.start)}–{fmt_time(s.end)}"
        lines.append(f"- **[{s.n}]** {_link(label, s.url)}" + (f" — {said}" if said else ""))
    return "\n".join(lines)


def more_label(page: EvidencePage) -> str:
    """The label of the button that shows the next page."""
    after = page.moments[-1].n if page.moments else 0
    shown = min(page.found.count, after + page.size)
    return f"More ({after + 1}–{shown} of {page.found.count})"


def _link(text: str, url: str | None) -> str:
    # Media URLs percent-encode the file name: no bracket or parenthesis can end the link.
    return f"[{_cell(text)}]({url})" if url else _cell(text)


def _count(n: int) -> str:
    return f"{n} moment{'s' * (n != 1)}"
