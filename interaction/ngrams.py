"""The commonest phrases of the collection: word n-grams counted over every transcript.

A file's subtitles usually say what its speech says, so each file is counted once: from its
speech when it has any, else from its subtitles. N-grams made only of function words ("of
the", "it is") say nothing about the collection and are left out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from indexing.text import is_stopword, token_spans
from indexing.types import ClipKind
from interaction.transcript import Transcript


@dataclass(frozen=True, slots=True)
class NGram:
    """A phrase of ``n`` words, how often it is said and in how many files."""

    words: tuple[str, ...]
    count: int
    files: int

    @property
    def text(self) -> str:
        return " ".join(self.words)


def parse_range(spec: str) -> tuple[int, int]:
    """``"2..4"`` -> ``(2, 4)``, ``"3"`` -> ``(3, 3)``; :class:`ValueError` otherwise."""
    low, sep, high = spec.partition("..")
    try:
        a, b = int(low), int(high) if sep else int(low)
    except ValueError:
        raise ValueError(f"--n must be a number or a range like 2..4, not {spec!r}") from None
    if not 1 <= a <= b <= 10:
        raise ValueError(f"--n must lie within 1..10 with the smaller bound first, not {spec!r}")
    return a, b


def ngrams(found_in: Sequence[Transcript], sizes: tuple[int, int] = (2, 4), *,
           top: int = 30, min_count: int = 2) -> list[NGram]:
    """The ``top`` commonest n-grams of ``sizes[0]``..``sizes[1]`` words said at least
    ``min_count`` times, commonest (then longest) first; one only ever said inside a longer
    listed one is left out."""
    counts: Counter[tuple[str, ...]] = Counter()
    files: dict[tuple[str, ...], set[str]] = {}
    for tr in counted(found_in):
        words = [w for _, _, w in token_spans(tr.text)]
        stop = [is_stopword(w, tr.language) for w in words]
        for n in range(sizes[0], sizes[1] + 1):
            for i in range(len(words) - n + 1):
                if all(stop[i:i + n]):
                    continue
                gram = tuple(words[i:i + n])
                counts[gram] += 1
                files.setdefault(gram, set()).add(tr.media_id)
    # A phrase said only as part of a longer one ("gravitational potential" only ever in
    # "gravitational potential energy") is listed as the longer one alone.
    covered = {part for g, c in counts.items() if len(g) > sizes[0]
               for part in (g[:-1], g[1:]) if counts.get(part) == c}
    ranked = sorted((g for g, c in counts.items() if c >= min_count and g not in covered),
                    key=lambda g: (-counts[g], -len(g), g))
    return [NGram(g, counts[g], len(files[g])) for g in ranked[:top]]


def counted(found_in: Sequence[Transcript]) -> list[Transcript]:
    """One transcript per file: its speech if it has any, else its subtitles."""
    with_speech = {t.media_id for t in found_in if t.kind is ClipKind.SPEECH and t.text.strip()}
    return [t for t in found_in
            if t.kind is ClipKind.SPEECH or t.media_id not in with_speech]
