"""AI-assisted rough cuts: retrieval finds the moments, the LLM picks and orders them.

``deerin cut "a 60-second piece about the Columbia crew"``: the brief's length (``60-second``,
``2 minutes``) bounds the cut; the hybrid retriever finds the clips nearest the brief, and
within them the sentences nearest it (the assistant's passages), each a candidate timed by its
own words. The LLM reads the numbered candidates (short: on two cores every prompt token costs)
and answers with numbers in playing order. Its answer is checked, not trusted: only numbers of
listed candidates count, each once, and the cut stops before the length is exceeded; a cut the
LLM left short is filled to the length with the next best candidates after its choice, and the
note says so. When nothing usable is left, the cut falls back to retrieval order, and says so.
Every cut cites the file, seconds and words it came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from indexing.fmt import shorten
from interaction.cuts import Cut, MediaInfo, Occurrence

if TYPE_CHECKING:
    from assistant.llm import LLM
    from assistant.retrieval import Retriever

DEFAULT_SECONDS = 60.0
CANDIDATES = 12  # sentences offered to the LLM: enough to choose from, a short prompt
PAD = 0.25  # seconds kept around each sentence's words
MAX_TOKENS = 40
_LENGTH = re.compile(
    r"(?P<n>\d+(?:\.\d+)?)\s*[- ]?\s*(?P<unit>seconds?|secs?|s|minutes?|mins?|m)\b", re.I)
_FRAMING = re.compile(r"^\s*(?:an?\s+)?(?:[\w-]+\s+){0,2}?"
                      r"(?:piece|cut|film|video|edit|montage|clip|reel|story|package)\s+"
                      r"(?:about|on|of)\s+", re.I)
_LEADING = re.compile(r"^\s*(?:an?\s+)?(?:about|on|of)\s+", re.I)


@dataclass(frozen=True)
class RoughCut:
    """The cut, what it was asked and how it was chosen."""

    brief: str
    seconds: float  # the length asked for
    cuts: tuple[Cut, ...]
    chosen_by: str  # "llm" or "retrieval"
    note: str = ""  # why the LLM's choice was not (fully) used, when it was not
    candidates: tuple[Cut, ...] = ()
    llm_reply: str = ""

    @property
    def duration(self) -> float:
        return sum(c.duration for c in self.cuts)


def parse_brief(brief: str, default: float = DEFAULT_SECONDS) -> tuple[str, float]:
    """The topic to search for and the length asked: ``"a 60-second piece about the Columbia
    crew"`` -> ``("the Columbia crew", 60.0)``; no length given -> ``default``."""
    seconds = default
    found = _LENGTH.search(brief)
    if found:
        value = float(found["n"])
        seconds = value * 60 if found["unit"].lower().startswith("m") else value
    rest = _LENGTH.sub(" ", brief, count=1) if found else brief
    topic = _LEADING.sub("", _FRAMING.sub("", rest)).strip() or brief.strip()
    return topic, seconds


def candidates(retriever: Retriever, topic: str, media: dict[str, MediaInfo],
               n: int = CANDIDATES) -> list[Cut]:
    """The ``n`` sentences of the best clips nearest ``topic``, as padded cuts, best first."""
    from assistant.passages import nearest_passages

    hits = retriever.search(topic, k=6)
    out: list[Cut] = []
    for p in nearest_passages(topic, hits, retriever.embedder, n * 2):
        clip = p.hit.clip
        info = media.get(clip.media_id)
        if info is None:
            continue
        start, end = p.seconds()
        start, end = max(0.0, start - PAD), min(info.duration, end + PAD)
        if any(c.media_id == clip.media_id and c.start < end and start < c.end for c in out):
            continue  # overlapping sentences of one clip: the closer one is already in
        moment = Occurrence(clip.media_id, clip.media_path, clip.kind, start, end, p.text,
                            clip.text, round(p.similarity, 4))
        out.append(Cut(clip.media_id, info.path, round(start, 3), round(end, 3), p.text,
                       info.has_video, info.duration, (moment,)))
        if len(out) == n:
            break
    return out


def choose(reply: str, offered: Sequence[Cut], seconds: float) -> tuple[list[Cut], str]:
    """The cuts an LLM reply names, checked: listed numbers only, each once, in its order,
    stopping before ``seconds`` would be exceeded; and a note on what was dropped."""
    numbers = [int(x) for x in re.findall(r"\d+", reply)]
    picked: list[Cut] = []
    total = 0.0
    problems: list[str] = []
    seen: set[int] = set()
    for k in numbers:
        if not 1 <= k <= len(offered):
            problems.append(f"{k} is not a listed clip")
            continue
        if k in seen:
            continue
        seen.add(k)
        cut = offered[k - 1]
        if total + cut.duration > seconds + 0.5:
            problems.append(f"clip {k} would make the cut longer than {seconds:g} s")
            continue
        picked.append(cut)
        total += cut.duration
    return picked, "; ".join(problems)


def by_retrieval(offered: Sequence[Cut], seconds: float) -> list[Cut]:
    """The best candidates, in rank order, that fit in ``seconds``."""
    picked, total = [], 0.0
    for cut in offered:
        if total + cut.duration <= seconds + 0.5:
            picked.append(cut)
            total += cut.duration
    return picked


def fill(picked: Sequence[Cut], offered: Sequence[Cut], seconds: float) -> list[Cut]:
    """``picked`` in its order, then the best remaining candidates (rank order) that still fit:
    a small model tends to name two or three sentences for a minute-long brief."""
    out, total = list(picked), sum(c.duration for c in picked)
    for cut in offered:
        if cut not in out and total + cut.duration <= seconds + 0.5:
            out.append(cut)
            total += cut.duration
    return out


def rough_cut(brief: str, retriever: Retriever, llm: LLM | None, media: dict[str, MediaInfo],
              *, seconds: float | None = None) -> RoughCut:
    """A cut of at most the brief's length (or ``seconds``) on its topic; see the module."""
    from assistant.llm import LLMError, complete
    from prompts import render

    topic, asked = parse_brief(brief)
    length = seconds if seconds is not None else asked
    offered = candidates(retriever, topic, media)
    if not offered:
        return RoughCut(brief, length, (), "retrieval", "nothing in the collection matches")
    if llm is None:
        return RoughCut(brief, length, tuple(by_retrieval(offered, length)), "retrieval",
                        "no LLM: kept the best-matching sentences in rank order", tuple(offered))
    listing = "\n".join(f"[{i}] ({c.duration:.1f} s, {c.name}) {shorten(c.text, 140)}"
                        for i, c in enumerate(offered, 1))
    messages = [{"role": "system", "content": render("roughcut_system", seconds=f"{length:g}")},
                {"role": "user", "content": render("roughcut_user", brief=brief, clips=listing,
                                                   seconds=f"{length:g}")}]
    try:
        reply = complete(llm, messages, max_tokens=MAX_TOKENS, temperature=0.0)
    except LLMError as exc:
        return RoughCut(brief, length, tuple(by_retrieval(offered, length)), "retrieval",
                        f"the LLM failed ({exc}): kept retrieval order", tuple(offered))
    picked, problems = choose(reply, offered, length)
    if not picked:
        why = problems or "it named no clip"
        return RoughCut(brief, length, tuple(by_retrieval(offered, length)), "retrieval",
                        f"the LLM's answer was unusable ({why}): kept retrieval order",
                        tuple(offered), reply)
    cuts = fill(picked, offered, length)
    if len(cuts) > len(picked):
        filled = (f"the LLM chose {len(picked)} sentences ({sum(c.duration for c in picked):.0f}"
                  f" s); the next best by retrieval fill the cut to {length:g} s")
        problems = "; ".join(x for x in (problems, filled) if x)
    return RoughCut(brief, length, tuple(cuts), "llm", problems, tuple(offered), reply)
