"""Answer typing: which questions ask for a year, a name, a place…, and whether a text holds one.

The texts are lines of the shared recordings' transcripts (see ../shared/media/transcripts).
"""

from __future__ import annotations

import pytest

from assistant.answerability import AnswerType, expectation, holds_answer

COLUMBIA = ("This morning at nine o'clock, Eastern Standard Time, mission control in Houston lost "
            "contact with our space shuttle Columbia. A short time later, debris was seen falling "
            "from the skies above Texas. The Columbia's lost. There are no survivors.")
CREW = ("On board was a crew of seven: Colonel Rick Husband, Lieutenant Colonel Michael "
        "Anderson, Commander Laurel Clark, Captain David Brown, Commander William McCool, "
        "Dr. Kalpana Chawla, and Ilan Ramon, a colonel in the Israeli Air Force.")
LECTURE = ("I have here a pendulum. The bob weighs 15 kilograms and I lift it up by one meter, "
           "so I did work, m g h, that is about 150 joules.")
FRIDAY = "Hello, Hildy. Is the lord of the universe in? Yes, he's in. In a bad humour."


@pytest.mark.parametrize(("question", "kind"), [
    ("In which year was the Challenger shuttle lost?", AnswerType.YEAR),
    ("When was the film released?", AnswerType.YEAR),
    ("On what date did Columbia lift off on its final mission?", AnswerType.DATE),
    ("At what hour that morning was contact lost?", AnswerType.TIME),
    ("How many people were aboard Columbia?", AnswerType.QUANTITY),
    ("Roughly how much energy, in joules, did lifting the mass store?", AnswerType.QUANTITY),
    ("What selling price does the design team agree on?", AnswerType.MONEY),
    ("Who directed the film His Girl Friday?", AnswerType.CREDIT),
    ("Which actor provided the voice of Sinbad?", AnswerType.CREDIT),
    ("According to the president, who knows the names of the seven?", AnswerType.PERSON),
    ("What is the name of the scientist who leads the fight?", AnswerType.NAME),
    ("From which city's flight control centre was contact lost?", AnswerType.PLACE),
    ("Where was the speech delivered?", AnswerType.PLACE),
    ("What technical failure caused Columbia to break up?", AnswerType.CAUSE),
    ("What formula for the period of a pendulum does the lecture derive?", AnswerType.FORMULA),
])
def test_question_types(question: str, kind: AnswerType) -> None:
    found = expectation(question)
    assert found is not None and found.type is kind


@pytest.mark.parametrize("question", [
    "What does the second speaker compare the animal's sound to?",
    # A lead-in or a clause inside the question says nothing about the answer's type.
    "In the Austen reading, which gentleman had time to weigh how much he could do?",
    "What does the man who lifts the bob say about physics?",
    "Where does Sinbad claim to live?",  # "on an island": no place name needed
    "Why does he insist that the class keep silent?",
    "",
])
def test_untyped_questions_pass_unchecked(question: str) -> None:
    assert expectation(question) is None
    assert holds_answer(question, "anything at all")


@pytest.mark.parametrize(("question", "text", "holds"), [
    ("At what hour that morning was contact lost?", COLUMBIA, True),
    ("On what date did Columbia lift off on its final mission?", COLUMBIA, False),
    ("In which year was the Challenger shuttle lost?", COLUMBIA, False),
    ("In which year was the Challenger shuttle lost?", "It was lost in 1986.", True),
    ("From which city's flight control centre was contact lost?", COLUMBIA, True),
    ("Over which US state was debris seen?", COLUMBIA, True),
    ("In which city did Kennedy deliver the address?",
     "And so, my fellow Americans, ask not what your country can do for you.", False),
    ("How many people were aboard Columbia?", CREW, True),
    ("How heavy is the object on the pendulum?", LECTURE, True),
    ("How many people were aboard Columbia?", "There are no survivors.", False),
    ("Who on board was an officer in Israel's air force?", CREW, True),
    ("Who on board was an officer in Israel's air force?", "There are no survivors.", False),
    ("Who had vanished behind the curtain?", "The wizard would vanish behind the curtain.", True),
    ("What is the name of the wizard?", "The wizard would vanish behind the curtain.", False),
    ("Who directed the film His Girl Friday?", FRIDAY, False),  # a name, but no direction
    ("Who directed the film?", "The picture was directed by Howard Hawks.", True),
    ("What technical failure caused Columbia to break up?", COLUMBIA, False),
    ("What caused the delay?", "The delay came because the tram broke down.", True),
    ("What caused the delay?", "Because of the rain, the tram was full.", False),  # off topic
    ("What formula for the period of a pendulum does the lecture derive?",
     "I have here a pendulum.", False),
])
def test_holds_answer(question: str, text: str, holds: bool) -> None:
    assert holds_answer(question, text) is holds


def test_the_question_own_words_are_no_answer() -> None:
    # "1966" is in the question, so a text repeating it holds no new year.
    assert not holds_answer("In which year, after 1966, did it rain?", "In 1966 it rained.")
    assert not holds_answer("Who is Columbia's commander?", "Columbia is lost.")


def test_names_after_titles_count_and_months_are_no_places() -> None:
    assert holds_answer("Who is hailed as the preacher?",
                        "Mr. Quilter is the apostle of the middle classes.")
    assert not holds_answer("Who is hailed as the preacher?", "Yes. It is. The apostle.")
    assert not holds_answer("In which city was it delivered?", "We met in May, in the rain.")


@pytest.mark.parametrize(("question", "text", "holds"), [
    ("How much did the Columbia shuttle cost to build?", COLUMBIA, False),  # "nine" is no price
    ("How much does the permission cost?", "Permission is granted, free of charge.", True),
    ("What speed does the pendulum reach at the bottom?", LECTURE, False),
    ("How fast was the train going?", "It ran at 80 miles per hour.", True),
    ("What colour is the remote control?", "It has a little LCD display.", False),
    ("What colour is the remote control?", "We could make it yellow.", True),
    ("Which university does the professor teach at?", LECTURE, False),
    ("Which university does the professor teach at?", "Welcome to MIT, said Lewin.", True),
])
def test_attribute_questions(question: str, text: str, holds: bool) -> None:
    assert expectation(question) is not None
    assert holds_answer(question, text) is holds
