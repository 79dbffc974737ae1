"""The quote fallback: the sentence of a clip nearest the question, and where it is."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence

import numpy as np

from indexing.text import sentence_spans
from indexing.types import Clip

Embed = Callable[[Sequence[str]], np.ndarray]

# Sentences longer than this are quoted by clause: recognisers run sentences together.
_LONG_SENTENCE = 80
# A unit shorter than this is a fragment and is quoted with the one after it.
_FRAGMENT = 60


def nearest_passage(query: str, clip: Clip, embed: Embed,
                    max_chars: int = 300) -> tuple[str, tuple[int, int]]:
    """The clip's sentence (or clause of a long one) nearest ``query``, and its character span
    in the clip's text (for :meth:`~indexing.types.Clip.span_of`).

    Quoting the whole clip would also quote whatever else it says (including text that looks
    like instructions); the sentence nearest the question is the answer's evidence.
    """
    text = clip.text
    units: list[tuple[int, int]] = []
    for a, b in sentence_spans(text, clip.language):
        if b - a > _LONG_SENTENCE:
            cuts = [a] + [a + m.end() for m in re.finditer(r"[,;]\s+", text[a:b])] + [b]
            units += [(x, y) for x, y in itertools.pairwise(cuts) if y > x]
        else:
            units.append((a, b))
    units = [(a, b) for a, b in units if text[a:b].strip()]
    if len(units) <= 1:
        a, b = (0, len(text))
    else:
        vecs = embed([query, *(text[a:b] for a, b in units)])
        i = int(np.argmax(vecs[1:] @ vecs[0]))
        a, b = units[i]
        if b - a < _FRAGMENT and i + 1 < len(units):
            b = units[i + 1][1]
    quote = text[a:b].strip().rstrip(",;")
    if len(quote) > max_chars:
        quote = quote[:max_chars].rsplit(" ", 1)[0] + "…"
    return quote, (a, b)
