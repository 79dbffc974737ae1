"""Cleaning what the OCR reads: junk lines out, glued English words split, readings compared.

The recogniser (PP-OCR, trained mostly on Chinese and on dense English print) reads textures as
stray glyphs and, on wide title lettering, runs English words together ("THEPEACH"). Junk is
dropped by confidence, length and the share of letters; a long letter run that is no English
word is split with ``wordsegment``, which scores splits with unigram and bigram counts of the
Google Web Trillion Word Corpus that ship inside the package (Apache-2.0).
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from typing import Any

from indexing.types import TextBox

# Letter runs this long or longer are checked against the dictionary; shorter ones are too
# often real abbreviations or names for a split to be safe.
_MIN_RUN = 7
_RUN = re.compile(rf"[A-Za-z]{{{_MIN_RUN},}}")
# One-letter English words; any other one-letter piece means the split is a guess.
_ONE_LETTER_WORDS = {"a", "i"}


class WordSplitter:
    """Splits glued English words (``THEPEACH`` -> ``THE PEACH``), keeping the letters' case.

    The word counts (about 30 MB of text) load on the first run that needs a look, so pictures
    without long letter runs never pay for them.
    """

    def __init__(self) -> None:
        self._segmenter: Any = None

    def _load(self) -> Any:
        if self._segmenter is None:
            import wordsegment

            segmenter = wordsegment.Segmenter()
            segmenter.load()
            self._segmenter = segmenter
        return self._segmenter

    def split(self, text: str) -> str:
        """``text`` with each long letter run that is not an English word split into words.

        A run is split only when every piece is a known word (one-letter pieces only "a"/"I"),
        so names and words the counts do not know stay as they were read.
        """
        if not _RUN.search(text):
            return text
        return _RUN.sub(lambda m: self._split_run(m.group(0)), text)

    def _split_run(self, run: str) -> str:
        seg = self._load()
        lower = run.lower()
        if lower in seg.unigrams:
            return run
        pieces = seg.segment(lower)
        if len(pieces) < 2 or "".join(pieces) != lower:
            return run
        if any(p not in seg.unigrams or (len(p) == 1 and p not in _ONE_LETTER_WORDS)
               for p in pieces):
            return run
        out, i = [], 0
        for p in pieces:  # slice the original, so "ThePeach" stays "The Peach"
            out.append(run[i:i + len(p)])
            i += len(p)
        return " ".join(out)


def is_junk(line: TextBox, min_confidence: float = 0.8, min_chars: int = 3) -> bool:
    """Whether a read line is noise: unsure, too short, or mostly not letters."""
    if line.confidence < min_confidence:
        return True
    chars = [c for c in line.text if not c.isspace()]
    if len(chars) < min_chars:
        return True
    letters = sum(1 for c in chars if c.isalpha())
    return letters / len(chars) < 0.5


def normalise(text: str) -> str:
    """Text reduced for comparing readings: case, accents, punctuation and spacing dropped
    (the recogniser varies exactly in those between frames of one caption)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum())


def same_text(a: str, b: str, threshold: float = 0.8) -> bool:
    """Whether two readings are the same caption, read a little differently."""
    na, nb = normalise(a), normalise(b)
    if not na or not nb:
        return False
    if na == nb:
        return True
    return SequenceMatcher(None, na, nb, autojunk=False).ratio() >= threshold


def reading_order(lines: list[TextBox]) -> list[TextBox]:
    """Lines top to bottom, and left to right within a row (rows are lines whose vertical
    centres are closer than half a line's height)."""
    rows: list[list[TextBox]] = []
    for line in sorted(lines, key=lambda b: (b.box[1] + b.box[3]) / 2):
        centre = (line.box[1] + line.box[3]) / 2
        height = line.box[3] - line.box[1]
        if rows:
            last = rows[-1][-1]
            if abs(centre - (last.box[1] + last.box[3]) / 2) < height / 2:
                rows[-1].append(line)
                continue
        rows.append([line])
    return [b for row in rows for b in sorted(row, key=lambda b: b.box[0])]


def union_box(lines: list[TextBox]) -> tuple[float, float, float, float]:
    """The smallest box around all ``lines``."""
    return (min(b.box[0] for b in lines), min(b.box[1] for b in lines),
            max(b.box[2] for b in lines), max(b.box[3] for b in lines))
