"""The text toolkit: sentences with offsets, words, stems, negation and numbers, in several
languages. Texts are written for these tests (not lines of the dev set's questions)."""

from __future__ import annotations

import time

import pytest

from indexing.text import (
    content_words,
    is_negator,
    is_stopword,
    language,
    negated,
    numbers,
    sentence_spans,
    sentences,
    stem,
    tokens,
)


def test_sentences_keep_abbreviations_and_map_back_to_the_text() -> None:
    text = ("Dr. Ada Byron met Mr. Babbage at 3.30 in the afternoon.  The engine was idle! "
            "Was it broken?\nNo stop at the end of this line\nLast one.")
    spans = sentence_spans(text)
    got = [text[a:b] for a, b in spans]
    assert got == ["Dr. Ada Byron met Mr. Babbage at 3.30 in the afternoon.",
                   "The engine was idle!", "Was it broken?", "No stop at the end of this line",
                   "Last one."]
    assert sentences(text) == got
    assert all(a < b for a, b in spans) and spans == sorted(spans)


def test_repeated_sentences_get_their_own_offsets() -> None:
    text = "No. No. She said no."
    assert sentence_spans(text) == [(0, 3), (4, 7), (8, 20)]


def test_sentences_of_other_languages_and_unknown_codes() -> None:
    german = "Der Zug kam um 8 Uhr an. Es gab z. B. keine Verspätung. Alle stiegen aus."
    assert sentences(german, "de") == ["Der Zug kam um 8 Uhr an.",
                                       "Es gab z. B. keine Verspätung.", "Alle stiegen aus."]
    # A language pysbd has no rules for falls back to the English rules, never fails.
    assert sentences("Olá. Tudo bem?", "pt") == ["Olá.", "Tudo bem?"]
    assert sentences("One. Two.", "xx-YY") == ["One.", "Two."]
    assert sentences("", "en") == [] and sentence_spans("   \n ") == []


def test_language_codes_are_normalised() -> None:
    assert language("DE-at") == "de" and language("pt_BR") == "pt"
    assert language(None) == "en" and language("") == "en"


def test_tokens_are_unicode_words_with_numbers_whole() -> None:
    assert tokens("Über 1,000 Menschen — it’s 3.5 km!") == ["über", "1,000", "menschen", "it's",
                                                          "3.5", "km"]
    # French elisions are split so the article and the negator are words of their own.
    assert tokens("L'équipe n'était pas là", "fr") == ["l", "équipe", "n", "était", "pas", "là"]


def test_stems_per_language_and_none_for_unknown() -> None:
    assert stem("lanterns") == stem("lantern") == "lantern"
    assert stem("häuser", "de") == stem("haus", "de")
    assert stem("rapidement", "fr") != "rapidement"
    assert stem("walking", "xx") == "walking"  # no Snowball stemmer: no stemming


def test_negators_and_numbers_are_content_not_stop_words() -> None:
    for word in ("no", "not", "never", "nobody", "none", "nothing", "without"):
        assert is_negator(word) and not is_stopword(word)
    assert is_negator("wasn't") and is_negator("kein", "de") and is_negator("nunca", "es")
    assert is_stopword("the") and is_stopword("der", "de") and not is_stopword("zug", "de")
    assert "not" in content_words("The keeper wasn't home")  # the contraction is the negator
    assert content_words("nine lanterns") == ["9", "lantern"]
    assert "7" in content_words("a 7 on the dice")  # single digits are content too


@pytest.mark.parametrize(("text", "lang", "expected"), [
    ("There was no lamp in the tower.", "en", True),
    ("Nobody climbed the stairs.", "en", True),
    ("The keeper didn't light it.", "en", True),
    ("She left without a word.", "en", True),
    ("The keeper lit the lamp.", "en", False),
    ("Notably, the lamp was bright.", "en", False),  # a word starting with "no" is no negator
    ("Der Wärter war nicht da.", "de", True),
    ("Es gab keinen Strom.", "de", True),
    ("Der Wärter war da.", "de", False),
    ("Le gardien n'est pas venu.", "fr", True),
    ("Le gardien est venu.", "fr", False),
    ("El faro nunca se apagó.", "es", True),
])
def test_negation(text: str, lang: str, expected: bool) -> None:
    assert negated(text, lang) is expected


@pytest.mark.parametrize(("text", "lang", "expected"), [
    ("a choir of twelve singers", "en", {"12"}),
    ("12 singers", "en", {"12"}),
    ("two hundred and forty-five steps", "en", {"245"}),
    ("1,500 visitors and 2.5 tonnes", "en", {"1500", "2.5"}),
    ("the second verse", "en", {"2nd"}),
    ("no one came, one by one", "en", set()),  # "one" is a pronoun more often than a count
    ("ein Chor aus zwölf Sängern", "de", {"12"}),
    ("un chœur de douze chanteurs", "fr", {"12"}),
    ("un coro de doce cantantes", "es", {"12"}),
    ("een koor van twaalf zangers", "nl", {"12"}),
    ("twelve in a language without number words", "xx", set()),
])
def test_numbers_are_normalised_to_digits(text: str, lang: str, expected: set[str]) -> None:
    assert numbers(text, lang) == expected


def test_sentence_splitting_is_fast_enough_per_query() -> None:
    # About 30 s of speech (80 words); an answer check splits ~10 clips per question.
    clip = ("The lighthouse was built on the northern cape in the last century. Its keeper "
            "climbed two hundred steps every evening to light the lamp. Ships passing the cape "
            "at night relied on it. When the storm came, the lamp went dark for the first time. "
            "Dr. Hale, the harbour master, sent a boat. Nobody knew where the keeper had gone. ")
    sentences(clip)  # first call loads pysbd's rules
    start = time.perf_counter()
    for _ in range(20):
        assert len(sentences(clip)) == 6
    per_clip = (time.perf_counter() - start) / 20
    assert per_clip < 0.02, f"{per_clip * 1000:.1f} ms per 30 s clip"
