"""Answer typing: which questions ask for a year, a name, a place…, and whether a text holds one.

The questions and texts are written for these tests, about made-up harbour-town material; none
is a phrasing of the dev set (eval/sets/dev.jsonl), so passing here says the rules generalise
beyond the questions they were tuned on, not that they remember them.
"""

from __future__ import annotations

import pytest

from assistant.answerability import AnswerType, expectation, holds_answer


@pytest.mark.parametrize(("question", "kind"), [
    ("What year did the lighthouse first shine?", AnswerType.YEAR),
    ("When was the harbour wall built?", AnswerType.YEAR),
    ("On what day did the ferry go down?", AnswerType.DATE),
    ("Which month hosts the herring festival?", AnswerType.DATE),
    ("What time does the last tram leave the quay?", AnswerType.TIME),
    ("How many lanterns hang in the chapel?", AnswerType.QUANTITY),
    ("How tall is the signal mast?", AnswerType.QUANTITY),
    ("How much did a ticket for the crossing cost?", AnswerType.MONEY),
    ("What fee do visitors pay at the gate?", AnswerType.MONEY),
    ("How fast can the pilot boat go?", AnswerType.SPEED),
    ("What colour is the harbour master's door?", AnswerType.COLOUR),
    ("Which newspaper printed the story of the wreck?", AnswerType.NAME),
    ("What was the name of the schooner?", AnswerType.NAME),
    ("Who rang the bell at midnight?", AnswerType.PERSON),
    ("In which town was the painter of the harbour born?", AnswerType.PLACE),
    ("Where was the documentary about the fishermen filmed?", AnswerType.PLACE),
    ("What caused the blackout on the pier?", AnswerType.CAUSE),
    ("Why did the old footbridge collapse?", AnswerType.CAUSE),
    ("Who composed the music for the documentary?", AnswerType.CREDIT),
    ("Which studio animated the short about the gulls?", AnswerType.CREDIT),
    ("Which equation gives the water pressure at depth?", AnswerType.FORMULA),
])
def test_question_types(question: str, kind: AnswerType) -> None:
    found = expectation(question)
    assert found is not None and found.type is kind, found


@pytest.mark.parametrize("question", [
    "What does the keeper store in the cellar?",
    # A lead-in or a clause inside the question says nothing about the answer's type.
    "In the harbour film, which sailor wonders how much rope is left?",
    "What does the woman who sells bread say about the tide?",
    "Why does the keeper keep a diary?",  # a reason without a failure verb stays untyped
    "Describe the storm.",
    "",
])
def test_untyped_questions_pass_unchecked(question: str) -> None:
    assert expectation(question) is None
    assert holds_answer(question, "anything at all")


@pytest.mark.parametrize(("question", "text", "holds"), [
    ("What year did the lighthouse first shine?", "Its lamp was lit in 1892.", True),
    ("What year did the lighthouse first shine?", "Its lamp was lit after a long delay.", False),
    ("On what day did the ferry go down?", "The ferry sank on a Tuesday, in thick fog.", True),
    ("On what day did the ferry go down?", "The ferry sank in thick fog.", False),
    ("What time does the last tram leave the quay?", "The last tram goes at 11:40 p.m.", True),
    ("What time does the last tram leave the quay?", "The tram leaves from the quay.", False),
    ("How many lanterns hang in the chapel?", "Twelve lanterns hang from the beams.", True),
    ("How many lanterns hang in the chapel?", "The lanterns are made of brass.", False),
    ("In which town was the painter of the harbour born?",
     "She grew up in Bergen, close to the water.", True),
    ("In which town was the painter of the harbour born?", "She was born in March.", False),
    ("Where was the documentary about the fishermen filmed?",
     "The crew shot every scene in Lisbon.", True),
    ("Who rang the bell at midnight?", "That night the bell was rung by Martha Quayle.", True),
    ("Who rang the bell at midnight?", "An old sailor rang it twice.", True),  # a person noun
    ("Who rang the bell at midnight?", "It rang twice and then stopped.", False),
    ("What was the name of the schooner?", "The schooner was called the Marianne.", True),
    ("What was the name of the schooner?", "The schooner was very fast.", False),
    ("Who composed the music for the documentary?",
     "The score was composed by Ingrid Falk.", True),
    ("Who composed the music for the documentary?", "Ingrid Falk liked the music.", False),
    ("Who composed the music for the documentary?", "The music was composed for strings.",
     False),  # the role, but nobody named
    ("What caused the blackout on the pier?",
     "The blackout happened because a storm cut the cable.", True),
    ("What caused the blackout on the pier?", "Because it was late, the café shut.", False),
    ("Which equation gives the water pressure at depth?", "The pressure is p = rho g h.", True),
    ("Which equation gives the water pressure at depth?", "Pressure grows as you dive.", False),
])
def test_holds_answer(question: str, text: str, holds: bool) -> None:
    assert holds_answer(question, text) is holds


def test_the_question_own_words_are_no_answer() -> None:
    # "1900" is in the question, so a text repeating it holds no new year.
    assert not holds_answer("What year after 1900 did the river flood?", "In 1900 it flooded.")
    assert not holds_answer("Who is the Marianne's captain?", "The Marianne is lost.")


def test_names_after_titles_count_and_months_are_no_places() -> None:
    assert holds_answer("Who is called the saviour of the harbour?",
                        "Mrs. Quayle is the saviour of the harbour.")
    assert not holds_answer("Who is called the saviour of the harbour?",
                            "Yes. It is. The saviour.")
    assert not holds_answer("In which city did they marry?", "They married in June, in the rain.")


@pytest.mark.parametrize(("question", "text", "holds"), [
    ("How much did a ticket for the crossing cost?", "Tickets were five euros each.", True),
    ("How much did a ticket for the crossing cost?", "Tickets sold out in an hour.", False),
    ("What fee do visitors pay at the gate?", "Entry is free of charge.", True),
    ("How fast can the pilot boat go?", "It cruises at 20 knots.", True),
    ("How fast can the pilot boat go?", "It cruises slowly past 20 islands.", False),
    ("What colour is the harbour master's door?", "His door is painted green.", True),
    ("What colour is the harbour master's door?", "His door is made of oak.", False),
    ("Which newspaper printed the story of the wreck?",
     "It was on the front page of the Coastal Herald.", True),
    ("Which newspaper printed the story of the wreck?", "It was on the front page.", False),
])
def test_attribute_questions(question: str, text: str, holds: bool) -> None:
    assert expectation(question) is not None
    assert holds_answer(question, text) is holds
