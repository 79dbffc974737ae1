"""Finding every moment a phrase is said: on word times, on subtitle cues, or by meaning.

``exact`` matches the phrase's words in order, ignoring case and punctuation; ``fuzzy`` compares
Snowball stems instead ("astronaut" finds "astronauts", "Columbia" finds "Columbia's"). Both
search the whole transcript of each file (:mod:`interaction.transcript`), so a phrase that
straddles two clips is found, and the match is timed by its own words. Subtitles time a match by
its cue; where a file's speech recognition found the same moment, the word-timed match wins.
``semantic`` asks the index for clips near the phrase (hybrid retrieval, no rerank) and keeps
their sentences whose embedding is close to the phrase's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from indexing.text import sentence_spans, stemmer, token_spans
from indexing.types import ClipKind
from interaction.cuts import Occurrence
from interaction.transcript import Transcript

if TYPE_CHECKING:
    from assistant.retrieval import Retriever

MODES = ("exact", "fuzzy", "semantic")
# Cosine between a sentence and the phrase above which a semantic match counts. MiniLM puts
# paraphrases of a short phrase around 0.5-0.7 and unrelated sentences of the same collection
# below 0.35; 0.45 keeps loose paraphrases and drops the topic-only neighbours.
SEMANTIC_MIN = 0.45


class PhraseError(ValueError):
    """A phrase that cannot be searched (empty, or no words)."""


def phrase_words(phrase: str) -> list[str]:
    """The words of ``phrase`` in lower case; :class:`PhraseError` when it has none."""
    words = [w for _, _, w in token_spans(phrase)]
    if not words:
        raise PhraseError(f"the phrase {phrase!r} has no words to look for")
    return words


def find_phrase(found_in: Sequence[Transcript], phrase: str, *,
                fuzzy: bool = False) -> list[Occurrence]:
    """Every occurrence of ``phrase`` in ``found_in``, in file and time order."""
    wanted = phrase_words(phrase)
    out: list[Occurrence] = []
    for tr in found_in:
        form = _form(tr.language, fuzzy)
        target = [form(w) for w in wanted]
        spans = token_spans(tr.text)
        forms = [form(w) for _, _, w in spans]
        n = len(target)
        hits = [i for i in range(len(forms) - n + 1) if forms[i:i + n] == target]
        if not hits:
            continue
        sentences = sentence_spans(tr.text, tr.language)
        for i in hits:
            a, b = spans[i][0], spans[i + n - 1][1]
            when = tr.span_of(a, b)
            if when is None:
                continue
            out.append(Occurrence(tr.media_id, tr.media_path, tr.kind, when[0], when[1],
                                  tr.text[a:b], _sentence_around(tr.text, sentences, a, b)))
    return prefer_word_times(out)


def find_similar(retriever: Retriever, phrase: str, *, threshold: float = SEMANTIC_MIN,
                 limit: int = 50) -> list[Occurrence]:
    """Sentences of the collection whose meaning is close to ``phrase`` (cosine at least
    ``threshold``), best first, at most ``limit``; each timed by its own words."""
    from assistant.passages import nearest_passages

    phrase_words(phrase)
    hits = retriever.candidates(phrase)
    if not hits:
        return []
    found = nearest_passages(phrase, hits, retriever.embedder, n=max(limit * 3, 20))
    out = []
    for p in found:
        if p.similarity < threshold:
            break  # passages come most similar first
        start, end = p.seconds()
        clip = p.hit.clip
        out.append(Occurrence(clip.media_id, clip.media_path, clip.kind, start, end, p.text,
                              p.text, round(p.similarity, 4)))
    return prefer_word_times(out)[:limit]


def prefer_word_times(found: Sequence[Occurrence]) -> list[Occurrence]:
    """Drop a subtitle match that a speech match of the same file overlaps in time.

    A cue spans seconds, a recognised word a fraction of one: the montage cuts on the word.
    """
    speech = [o for o in found if o.kind is ClipKind.SPEECH]
    kept = [o for o in found if o.kind is ClipKind.SPEECH or not any(
        s.media_id == o.media_id and s.start < o.end and o.start < s.end for s in speech)]
    return sorted(kept, key=lambda o: (o.media_path, o.start, o.end))


def _form(language: str | None, fuzzy: bool) -> Callable[[str], str]:
    """How a word is compared: as written (lower case), or by its Snowball stem (which also
    drops a possessive "'s")."""
    return stemmer(language) if fuzzy else _plain


def _plain(word: str) -> str:
    return word


def _sentence_around(text: str, sentences: list[tuple[int, int]], a: int, b: int) -> str:
    inside = [(s, e) for s, e in sentences if e > a and s < b]
    if not inside:
        return text[a:b]
    return text[inside[0][0]:inside[-1][1]]
