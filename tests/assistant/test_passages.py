"""Passages: the sentences of retrieved clips the answering model reads, with the real shipped
embedder (all-MiniLM-L6-v2). The texts are written for these tests or are lines of the
Columbia address transcript; none is a dev-set question."""

from __future__ import annotations

import re

import pytest

from assistant.passages import Passage, nearest_passages, quote, units
from indexing.backends.sentence_transformers import SentenceEmbedder
from indexing.types import Clip, ClipKind, Hit, TextTime

ADDRESS = ("At nine o'clock this morning, mission control in Houston lost contact with our Space "
           "Shuttle Columbia. A short time later, debris was seen falling from the skies above "
           "Texas. The Columbia's lost. There are no survivors.")
LOG = ("The lighthouse on the northern cape was finished in 1892. Its keeper climbed a hundred "
       "and twelve steps each evening. During the great storm the lamp never went out.")


def timed_clip(text: str, start: float, path: str = "/x/a.wav") -> Clip:
    """A speech clip whose every word takes one second from ``start``."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    times = tuple(TextTime(a, b, start + i, start + i + 1) for i, (a, b) in enumerate(words))
    return Clip("m", path, ClipKind.SPEECH, start, start + len(words), text, times=times)


@pytest.fixture(scope="module")
def embed() -> SentenceEmbedder:
    e = SentenceEmbedder()
    e.load()
    return e


def test_units_are_sentences_with_long_ones_cut_and_fragments_joined() -> None:
    run_on = ", ".join(f"then the crew checked valve number {i} on the left side" for i in
                       range(12)) + "."
    text = f"Yes. {run_on} The end of the inspection came at dawn, in the rain."
    spans = units(Clip("m", "/x/a.wav", ClipKind.SPEECH, 0, 60, text))
    pieces = [text[a:b] for a, b in spans]
    assert pieces[0].startswith("Yes. then the crew")  # the fragment goes with what follows
    assert pieces[-1] == "The end of the inspection came at dawn, in the rain."
    assert len(pieces) > 3 and all(len(p) <= 240 + 60 for p in pieces)
    assert "".join(p.replace(" ", "") for p in pieces) == text.replace(" ", "")  # nothing lost


def test_nearest_passage_is_the_answering_sentence_of_any_clip(embed: SentenceEmbedder) -> None:
    hits = [Hit(timed_clip(LOG, 300.0, "/x/log.wav"), 0.6), Hit(timed_clip(ADDRESS, 10.0), 0.5)]
    [best, second] = nearest_passages("Over which state did wreckage come down?", hits,
                                      embed, 2)
    assert best.rank == 1 and best.text.startswith("A short time later, debris")
    assert best.similarity >= second.similarity
    # The citation plays the sentence's words, not the whole clip.
    start, end = best.seconds()
    words_before = len(ADDRESS[:best.start].split())
    assert (start, end) == (10.0 + words_before, 10.0 + words_before + 13)
    assert quote(best) == best.text


def test_a_clip_without_word_times_cites_itself(embed: SentenceEmbedder) -> None:
    clip = Clip("m", "/x/sub.srt", ClipKind.SUBTITLE, 5.0, 9.0, LOG)
    [p] = nearest_passages("How many steps did the keeper climb?", [Hit(clip, 0.5)],
                           embed, 1)
    assert isinstance(p, Passage) and "twelve steps" in p.text
    assert p.seconds() == (5.0, 9.0)
    assert nearest_passages("anything", [], embed, 3) == []


def test_passages_are_trimmed_spans_of_their_clip() -> None:
    run_on = ", ".join(f"then the crew checked valve number {i} on the left side" for i in
                       range(12)) + "."
    clip = Clip("m", "/x/a.wav", ClipKind.SPEECH, 0, 60, f"  Yes. {run_on}  ")
    for a, b in units(clip):
        assert clip.text[a:b] == clip.text[a:b].strip() != ""
