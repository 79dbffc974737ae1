"""Passages: the sentences of the retrieved clips nearest the question, and where they are.

The answering model reads these instead of whole clips. A clip is 10-30 s of speech, several
sentences of which only one holds the answer; given the few sentences nearest the question
(from the best clips, by embedding similarity) a small model answers more often, reads a
shorter prompt (prompt evaluation is most of the time to the first token on a CPU), and a
citation points at the seconds of one sentence rather than the whole clip. The same passages
are what the judge reads and what the quote fallback quotes.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from indexing.text import sentence_spans
from indexing.types import Clip, Hit

if TYPE_CHECKING:
    from indexing.protocols import Embedder


# A sentence longer than this is split at clause boundaries: recognisers run sentences
# together, and one 400-character "sentence" would fill the prompt.
LONG_SENTENCE = 240
# A unit shorter than this is a fragment ("Yes.", "Well,") and goes with the one after it.
FRAGMENT = 40


@dataclass(frozen=True, slots=True)
class Passage:
    """``hit.clip.text[start:end]``: a sentence (or clause group) of a retrieved clip, with no
    whitespace at either end (:func:`units` gives trimmed spans)."""

    hit: Hit
    rank: int  # the hit's rank among the retrieved clips, 0 = best
    start: int
    end: int
    similarity: float  # cosine with the question

    @property
    def text(self) -> str:
        return self.hit.clip.text[self.start:self.end]

    def seconds(self) -> tuple[float, float]:
        """When the passage is said or shown (the clip's span when it has no word times)."""
        return self.hit.clip.span_of(self.start, self.end)


def units(clip: Clip, long_sentence: int = LONG_SENTENCE,
          fragment: int = FRAGMENT) -> list[tuple[int, int]]:
    """Character spans of the clip's sentences; long ones cut at clause boundaries into pieces
    of at most about ``long_sentence`` characters, fragments joined to what follows."""
    text = clip.text
    out: list[tuple[int, int]] = []
    for a, b in sentence_spans(text, clip.language):
        if b - a <= long_sentence:
            out.append((a, b))
            continue
        cuts = [a] + [a + m.end() for m in re.finditer(r"[,;:]\s+", text[a:b])] + [b]
        start = a
        for x, y in itertools.pairwise(cuts):
            if y - start > long_sentence and x > start:
                out.append((start, start + len(text[start:x].rstrip())))
                start = x
        out.append((start, b))
    joined: list[tuple[int, int]] = []
    pending: tuple[int, int] | None = None  # a fragment waiting for what follows it
    for a, b in out:
        if not text[a:b].strip():
            continue
        if pending is not None:
            a, pending = pending[0], None
        if b - a < fragment:
            pending = (a, b)
        else:
            joined.append((a, b))
    if pending is not None:  # a fragment at the end goes with what precedes it
        if joined:
            joined[-1] = (joined[-1][0], pending[1])
        else:
            joined.append(pending)
    return joined


def nearest_passages(query: str, hits: Sequence[Hit], embedder: Embedder,
                     n: int) -> list[Passage]:
    """The ``n`` passages of ``hits`` most similar to ``query``, most similar first.

    Every clip's text is cut into :func:`units`; all are embedded in one batch.
    """
    pool = [(rank, a, b) for rank, h in enumerate(hits) for a, b in units(h.clip)]
    if not pool:
        return []
    texts = [hits[r].clip.text[a:b] for r, a, b in pool]
    sims = embedder.embed_texts(texts) @ embedder.embed_query(query)
    order = sorted(range(len(pool)), key=lambda i: (-float(sims[i]), pool[i][0], pool[i][1]))
    return [Passage(hits[pool[i][0]], pool[i][0], pool[i][1], pool[i][2], float(sims[i]))
            for i in order[:n]]


def quote(passage: Passage, max_chars: int = 300) -> str:
    """The passage's text as a quotation, cut at a word boundary to ``max_chars``."""
    text = passage.text.rstrip(",;:")
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] + "…"
    return text
