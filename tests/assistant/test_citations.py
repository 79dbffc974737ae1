"""Citation checks against adversarial sentences: flipped negation, invented or respelled
numbers, German, and paraphrases that must still pass.

The sources are written for these tests (a lighthouse log, a German version of it) or are lines
of the Columbia address transcript; no sentence is a phrasing of the dev set's questions.
"""

from __future__ import annotations

import pytest

from assistant.citations import CheckedSentence, Support, check_answer, focus
from indexing.backends.sentence_transformers import SentenceEmbedder
from indexing.types import Clip, ClipKind, TextTime

LOG = ("The lighthouse on the northern cape was finished in 1892. Its keeper climbed a hundred "
       "and twelve steps each evening. During the great storm the lamp never went out. Nobody "
       "was hurt when the tower was struck by lightning.")
ADDRESS = "The Columbia's lost. There are no survivors. On board was a crew of seven."
LOG_DE = ("Der Leuchtturm am Nordkap wurde 1892 fertiggestellt. Sein Wärter stieg jeden Abend "
          "neunzig Stufen hinauf. Während des großen Sturms ging die Lampe nicht aus.")


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    e = SentenceEmbedder()
    e.load()
    return e


def kept(answer: str, *sources: str, lang: str | None = None) -> list[str]:
    return [c.text for c in check_answer(answer, list(sources), lang=lang)]


@pytest.mark.parametrize("sentence", [
    "There were survivors on board [1].",
    "The lamp went out during the great storm [1].",
    "The Columbia was not lost [1].",
    "The keeper didn't climb the steps each evening [1].",
])
def test_a_flipped_negation_fails(sentence: str) -> None:
    assert kept(sentence, ADDRESS, LOG) == []


def test_a_flipped_tail_is_cut_and_the_true_part_kept() -> None:
    # The negation covers what it stands next to ("nobody was hurt"), not the whole sentence.
    assert kept("When lightning struck the tower, somebody was hurt [1].", LOG) == [
        "When lightning struck the tower"]
    # Snowball stems "survived" and "survivors" differently; the backing sentence is found all
    # the same, so the flipped clause cannot ride along with the true one.
    assert kept("The Columbia was lost, and the crew survived [1].", ADDRESS) == [
        "The Columbia was lost"]


@pytest.mark.parametrize("sentence", [
    "On board, there were no survivors [1].",
    "The lamp never went out during the great storm [1].",
    "Nobody was hurt when lightning struck the tower [1].",
])
def test_the_same_negation_passes(sentence: str) -> None:
    assert len(kept(sentence, ADDRESS, LOG)) == 1, sentence


def test_an_unrelated_negator_elsewhere_in_the_clip_does_not_excuse_a_flip() -> None:
    # The clip has a negated sentence ("never went out"), but not the one backing this claim.
    assert kept("The lighthouse was not finished in 1892 [1].", LOG) == []
    assert kept("The lighthouse was finished in 1892 [1].", LOG) == [
        "The lighthouse was finished in 1892."]


@pytest.mark.parametrize(("sentence", "passes"), [
    ("On board was a crew of nine [1].", False),  # invented, spelled out
    ("On board was a crew of 9 [1].", False),  # invented, in digits
    ("On board was a crew of 7 [1].", True),  # digits against the spoken "seven"
    ("Its keeper climbed ninety steps each evening [1].", False),
    ("Its keeper climbed 112 steps each evening [1].", True),
    ("Every evening the keeper climbed one hundred twelve steps [1].", True),
    ("The lighthouse on the northern cape was finished in 1893 [1].", False),
])
def test_numbers_are_compared_after_normalisation(sentence: str, passes: bool) -> None:
    assert bool(kept(sentence, ADDRESS, LOG)) is passes


@pytest.mark.parametrize(("sentence", "passes"), [
    ("Während des großen Sturms ging die Lampe nicht aus [1].", True),
    ("Während des großen Sturms ging die Lampe aus [1].", False),  # negation dropped
    ("Sein Wärter stieg jeden Abend 90 Stufen hinauf [1].", True),
    ("Sein Wärter stieg jeden Abend achtzig Stufen hinauf [1].", False),  # invented number
    ("Der Leuchtturm wurde 1892 fertiggestellt [1].", True),
])
def test_german_sentences(sentence: str, passes: bool) -> None:
    assert bool(kept(sentence, LOG_DE, lang="de")) is passes


def test_each_source_is_read_in_its_own_language() -> None:
    # A German answer over a German clip among English ones: German negators and numbers.
    answer = "Während des großen Sturms ging die Lampe aus [2]."
    assert check_answer(answer, [ADDRESS, LOG_DE], lang="de") == []
    kept_de = check_answer("Sein Wärter stieg jeden Abend 90 Stufen hinauf [2].",
                           [ADDRESS, LOG_DE], lang="de", source_languages=["en", "de"])
    assert [c.sources for c in kept_de] == [(2,)]
    # Read with English rules, "nicht" would be no negator and the flip would pass unseen.
    assert check_answer(answer, [ADDRESS, LOG_DE], lang="en") != []


def test_a_paraphrase_with_strong_similarity_passes(embedder: SentenceEmbedder) -> None:
    source = "Its keeper climbed a hundred and twelve steps each evening."
    sentence = "Each evening the keeper went up 112 stairs [1]."
    # Too few of its words are in the source for the lexical rule alone ...
    assert check_answer(sentence, [source]) == []
    # ... but it is a close paraphrase, and its number is the source's.
    assert [c.sources for c in check_answer(sentence, [source], embed=embedder.embed_texts)] == [
        (1,)]
    assert check_answer("Each evening the keeper went up 120 stairs [1].", [source],
                        embed=embedder.embed_texts) == []


def test_support_names_the_backing_sentences_of_the_clip() -> None:
    [checked] = check_answer("The keeper climbed 112 steps each evening [2].", [ADDRESS, LOG])
    assert checked.sources == (2,)
    [support] = checked.support
    assert support.source == 2
    assert LOG[support.char_start:support.char_end] == (
        "Its keeper climbed a hundred and twelve steps each evening.")
    # A sentence joining two statements is backed by both.
    [joined] = check_answer("The lighthouse was finished in 1892, and its keeper climbed 112 "
                            "steps each evening [1].", [LOG])
    assert [LOG[s.char_start:s.char_end][:20] for s in joined.support] == [
        "The lighthouse on th", "Its keeper climbed a"]


def test_support_gives_the_seconds_of_the_words() -> None:
    # A clip with word times: every word takes one second from t=100.
    words = [(m.start(), m.end()) for m in __import__("re").finditer(r"\S+", LOG)]
    times = tuple(TextTime(a, b, 100.0 + i, 101.0 + i) for i, (a, b) in enumerate(words))
    clip = Clip("m", "/x/log.wav", ClipKind.SPEECH, 100.0, 100.0 + len(words), LOG, times=times)
    [checked] = check_answer("During the great storm the lamp never went out [1].", [clip.text])
    [support] = checked.support
    start, end = clip.span_of(support.char_start, support.char_end)
    first = LOG.split().index("During")
    assert (start, end) == (100.0 + first, 100.0 + first + 9)  # the nine words of that sentence


def test_the_entailment_judge_sees_only_prefiltered_sentences_and_decides() -> None:
    # The judge stands in for the LLM (a model server is a system edge); it records its calls.
    calls: list[tuple[str, str]] = []

    def judge(sentence: str, evidence: str) -> float:
        calls.append((sentence, evidence))
        return 0.9 if "finished" in sentence else 0.1

    answer = ("The lighthouse was finished in 1892 [1]. Its keeper climbed 112 steps each "
              "evening [1]. The keeper owned three cats [1].")
    out = check_answer(answer, [LOG], entails=judge)
    assert [c.text for c in out] == ["The lighthouse was finished in 1892."]
    # The invented sentence failed the cheap checks and never reached the judge.
    assert [s for s, _ in calls] == ["The lighthouse was finished in 1892.",
                                     "Its keeper climbed 112 steps each evening."]
    assert all(e == LOG for _, e in calls)
    # A lower bar keeps the second sentence too.
    assert len(check_answer(answer, [LOG], entails=judge, min_entailment=0.05)) == 2


def test_the_judge_may_move_a_citation_to_a_source_it_accepts() -> None:
    both = [LOG, "Its keeper climbed a hundred and twelve steps each evening, even in snow."]

    def judge(sentence: str, evidence: str) -> float:
        return 1.0 if "snow" in evidence else 0.0

    [c] = check_answer("Its keeper climbed 112 steps each evening [1].", both, entails=judge)
    assert c.sources == (2,)


def test_two_sources_together_can_back_a_sentence() -> None:
    sources = ["The lighthouse on the northern cape was finished in 1892.",
               "Its keeper climbed a hundred and twelve steps each evening."]
    [c] = check_answer("The northern cape lighthouse was finished in 1892 and its keeper "
                       "climbed 112 steps each evening [1].", sources)
    assert c.sources == (1, 2) and {s.source for s in c.support} == {1, 2}


def test_focus_keeps_the_support(embedder: SentenceEmbedder) -> None:
    checked = [CheckedSentence("The lamp never went out during the storm.", (1,),
                               (Support(1, 0, 10),))]
    out = focus(checked, "Did the lamp go out in the storm?", embedder.embed_texts)
    assert out and out[0].support == (Support(1, 0, 10),)


def test_focus_never_cuts_the_clause_that_answers(embedder: SentenceEmbedder) -> None:
    """A restatement of the question is the clause nearest it; the clause with the answer's new
    words stays however far below that it scores."""
    question = "From which city's flight control centre was contact with the orbiter lost?"
    text = ("Contact with the orbiter was lost by the flight control centre, "
            "in Houston, Texas")
    checked = [CheckedSentence(text, (1,), (Support(1, 0, 10),))]
    [out] = focus(checked, question, embedder.embed_texts)
    assert "Houston" in out.text


def test_words_of_the_question_are_not_claims() -> None:
    """An answer restating the question claims only what it adds; what it adds must still be
    in the source, and numbers are always checked in full."""
    question = "What did the lonely, underpaid keeper of the remote old lighthouse climb?"
    answer = "The lonely, underpaid keeper of the remote old lighthouse climbed steps [1]."
    assert kept(answer, LOG) == []  # most of its words are the question's, not the log's
    [c] = check_answer(answer, [LOG], question=question)
    assert c.text == "The lonely, underpaid keeper of the remote old lighthouse climbed steps."
    assert LOG[c.support[0].char_start:c.support[0].char_end].startswith("Its keeper climbed")
    # New words absent from the source still fail, however much of the question is restated.
    for wrong in ("a rope ladder", "120 steps"):
        assert check_answer(f"The lonely, underpaid keeper of the remote old lighthouse "
                            f"climbed {wrong} [1].", [LOG], question=question) == [], wrong


def test_a_negator_denies_only_the_words_next_to_it() -> None:
    # Recognisers run sentences together; the joke's "not" does not deny the island.
    song = "I'm the sailor so hearty and hale I live on an island that's not a bad joke"
    assert kept("The sailor lives on an island [1].", song) == ["The sailor lives on an island."]
    assert kept("The sailor does not live on an island [1].", song) == []


def test_a_number_the_question_states_is_not_invented() -> None:
    source = "And so it begins. This is what a crocodile sounds like."
    answer = "The three speakers describe a crocodile [1]."
    assert kept(answer, source) == []  # "three" is in no source
    assert [c.text for c in check_answer(
        answer, [source], question="Which animal do the three speakers describe?")] == [
        "The three speakers describe a crocodile."]
    assert check_answer("Yes, it is a crocodile [1].", [source],
                        question="Is the animal a crocodile?") != []


def test_the_source_holding_more_of_the_sentence_is_cited() -> None:
    """Two passages hold the answer's new word ("country"); the one that also holds what it
    restates is cited, and a rhetorical "ask not what ..." does not deny "asked"."""
    bush = ("My fellow Americans, this day has brought terrible news and great sadness to our "
            "country.")
    kennedy = ("And so my fellow Americans ask not what your country can do for you, ask what you "
               "can do for your country.")
    [c] = check_answer("Kennedy asked his fellow Americans what they could do for their "
                       "country [1].", [bush, kennedy],
                       question="What did Kennedy ask his fellow Americans?")
    assert c.sources == (2,)
