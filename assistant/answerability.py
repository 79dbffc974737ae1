"""Does the evidence hold the *kind* of answer the question asks for?

Similarity cannot tell a question the collection answers from a near miss about the same
subject: "On what date did Columbia lift off?" scores as high against the Columbia address as
"How many people were aboard Columbia?" (dev set: unanswerable questions reach 0.58, answerable
ones go down to 0.26). Classic question answering types the expected answer instead: a question
asking for a year cannot be answered by a passage that holds no year, whoever wrote it. This
module types a question by its wording (year, date, time, quantity, person, place, cause, a
creator's credit such as who directed or voiced a work, a formula) and checks that the evidence
holds something of that type that the question does not already say.

Questions of no recognised type pass unchecked: the gate only refuses what it can tell is
missing, so answerable questions are not refused on a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from indexing.text import content_words, sentences, stem, tokens


class AnswerType(Enum):
    YEAR = "year"
    DATE = "date"
    TIME = "time"
    QUANTITY = "quantity"
    MONEY = "price"
    SPEED = "speed"
    COLOUR = "colour"
    NAME = "name"  # "what is the name of…", "which university…": a proper name
    PERSON = "person"
    PLACE = "place"
    CAUSE = "cause"
    CREDIT = "credit"  # who directed / wrote / voiced … a work: the role must be evidenced too
    FORMULA = "formula"


# Types whose presence is detected reliably (numbers, dates, colour words), unlike names, which
# rest on capital letters the recogniser does not always write.
RELIABLE_TYPES = frozenset({AnswerType.YEAR, AnswerType.DATE, AnswerType.TIME,
                            AnswerType.QUANTITY, AnswerType.MONEY, AnswerType.SPEED,
                            AnswerType.COLOUR})


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a question asks for: its answer type and, for credits, the role asked about."""

    type: AnswerType
    role: str = ""  # stem of the credit verb or noun ("direct", "voice"), for CREDIT

    def describe(self) -> str:
        """A few words for the user: what the evidence lacks ("year", "director credit")."""
        if self.type is AnswerType.CREDIT:
            return f"{_ROLE_NAMES.get(self.role, self.role)} credit"
        return self.type.value


_I = re.IGNORECASE
# Credits: people named for a part in making a work. Transcripts seldom state them, and the
# name of some other person in the clip is no answer.
_CREDIT_ROLES = {
    "direct": r"direct(?:ed|s|or|ing)?", "produc": r"produc(?:ed|es|er|ing)",
    "writ": r"wr(?:ote|itten|iter|ites)", "compos": r"compos(?:ed|es|er)",
    "voice": r"voic(?:ed|es|e)", "play": r"play(?:ed|s)", "star": r"starr(?:ed|ing)|stars",
    "narrat": r"narrat(?:ed|es|or)", "sing": r"s(?:ang|ung|inger)", "paint": r"paint(?:ed|er)",
    "invent": r"invent(?:ed|or)", "found": r"found(?:ed|er)", "animat": r"animat(?:ed|or)",
    "perform": r"perform(?:ed|er)", "read": r"read(?:er)?",
}
_ROLE_NAMES = {"direct": "director", "produc": "producer", "writ": "writer", "compos": "composer",
               "voice": "voice", "play": "cast", "star": "cast", "narrat": "narrator",
               "sing": "singer", "paint": "painter", "invent": "inventor", "found": "founder",
               "animat": "animator", "perform": "performer", "read": "reader"}
_CREDIT_Q = re.compile(
    r"\b(?:who|which\s+(?:actor|actress|person|man|woman|artist|studio|company)|name\s+of\s+the)"
    r"\b[^?]*?\b(" + "|".join(_CREDIT_ROLES.values()) + r")\b", _I)
_YEAR_Q = re.compile(r"\b(?:what|which)\s+year\b|\bwhen\s+was\b[^?]*\b(?:born|published|made|"
                     r"released|founded|built|written|recorded|filmed|launched|lost|died)\b", _I)
_DATE_Q = re.compile(r"\b(?:what|which)\s+(?:date|day|month)\b|\bon\s+what\s+day\b", _I)
_TIME_Q = re.compile(r"\b(?:what|which)\s+(?:time|hour)\b|\bat\s+what\s+hour\b", _I)
_MONEY_Q = re.compile(r"\bhow\s+much\b[^?]*\b(?:cost|costs|pay|paid|spend|spent|worth|charge|"
                      r"charged|earn|earned|sell|sold)\b|\b(?:what|which)\s+(?:\w+\s+)?(?:price|"
                      r"cost|fee|salary|budget|fare)\b", _I)
_SPEED_Q = re.compile(r"\bhow\s+fast\b|\b(?:what|which)\s+(?:\w+\s+)?speed\b", _I)
_COLOUR_Q = re.compile(r"\b(?:what|which)\s+colou?rs?\b", _I)
_NAME_Q = re.compile(r"\b(?:what|which)\s+(?:\w+\s+)?(?:university|college|school|company|"
                     r"studio|organi[sz]ation|network|station|newspaper|agency|"
                     r"institute|firm|publisher|label|channel)\b|"
                     r"\b(?:what|which)\s+(?:is|was)\s+the\s+name\s+of\b", _I)
_QUANTITY_Q = re.compile(
    r"\bhow\s+(?:many|much|heavy|far|long|old|tall)\b|"
    r"\b(?:what|which)\s+(?:\w+\s+)?(?:price|cost|number|percentage|amount|sum|figure|"
    r"weight|distance|speed|budget|salary|fee)\b", _I)
_PLACE_Q = re.compile(r"\b(?:what|which)\s+(?:\w+\s+)?(?:city|town|country|state|village|"
                      r"capital|region|continent|island|county|province)\b|"
                      r"\bwhere\s+(?:was|were|is|did)\b[^?]*\b(?:born|filmed|recorded|delivered|"
                      r"held|shot|made|given|built|located|situated)\b", _I)
_CAUSE_Q = re.compile(r"\bwhat\b[^?]*\bcaused?\b|\bwhat\s+(?:was|is)\s+the\s+(?:cause|reason)\b|"
                      r"\bwhy\s+did\b[^?]*\b(?:crash|fail|break|explode|die|collapse|sink)\b", _I)
_FORMULA_Q = re.compile(r"(?:what|which)\s+(?:\w+\s+)?(?:formula|equation)\b", _I)
_PERSON_Q = re.compile(r"(?:who|whom|whose)\b", _I)
# "Who…?" is often answered without a name ("the wizard", "the grieving families").
_PERSON_NOUNS = re.compile(
    r"\b(?:man|men|woman|women|people|person|persons|crew|astronauts?|professor|teacher|"
    r"students?|wife|husband|family|families|children|child|boy|girl|mother|father|son|"
    r"daughter|brother|sister|friends?|sailors?|captain|boss|king|queen|wizard|god|creator|"
    r"president|speaker|narrator|everyone|everybody|nobody|no\s+one|someone|somebody|"
    r"audience|class|team|soldiers?|officers?|doctor|nurse|pilot|commander|citizens?|"
    r"americans|neighbou?rs?|passengers|guests?|customers?|users?|designers?|"
    r"lord|lady|gentleman|gentlemen|stranger|enemy|hero|villain|himself|herself|myself)\b",
    _I)

_MONTHS = ("january february march april may june july august september october november "
           "december monday tuesday wednesday thursday friday saturday sunday").split()
_NUMBER_WORDS = ("one two three four five six seven eight nine ten eleven twelve thirteen "
                 "fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty "
                 "fifty sixty seventy eighty ninety hundred thousand million billion dozen "
                 "half quarter twice").split()
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b|\b(?:nineteen|eighteen|seventeen)[\s-]+"
                   r"(?:hundred|ten|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)\b|"
                   r"\btwo\s+thousand\b", _I)
_DATE = re.compile(r"\b(?:" + "|".join(_MONTHS) + r")\b|\b\d{1,2}(?:st|nd|rd|th)\b|"
                   r"\b(?:first|second|third|fourth|fifth|tenth|twentieth|thirtieth)\s+of\b|"
                   r"\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b", _I)
_TIME = re.compile(r"\b\d{1,2}(?::\d{2})?\s*(?:a\.?m\.?|p\.?m\.?)|\bo'?clock\b|\bnoon\b|"
                   r"\bmidnight\b|\b\d{1,2}:\d{2}\b|\b(?:" + "|".join(_NUMBER_WORDS[:12]) +
                   r")\s+(?:thirty|fifteen|forty-five|o'?clock)\b", _I)
_NUMBER = re.compile(r"\d|\b(?:" + "|".join(_NUMBER_WORDS) + r")\b|\bfree\b|\bnothing\b", _I)
_MONEY = re.compile(r"[$£€¥]|\b(?:dollars?|pounds?|euros?|cents?|pence|bucks|francs?|yen|"
                    r"free|charge|costs?\s+nothing|pay\s+nothing|grand)\b", _I)
_SPEED = re.compile(r"\b(?:mph|km/h|kph|knots|(?:miles?|kilomet(?:er|re)s?|met(?:er|re)s?|feet)"
                    r"\s+(?:per|an|a)\s+(?:hour|second|minute)|per\s+(?:hour|second|minute))\b", _I)
_COLOUR = re.compile(r"\b(?:red|orange|yellow|green|blue|purple|violet|pink|brown|black|white|"
                     r"grey|gray|silver|gold|golden|beige|crimson|scarlet|navy|turquoise|"
                     r"colou?r(?:ed|ful)?)\b", _I)
_CAUSE = re.compile(r"\b(?:because|caus(?:e|ed|es|ing)|due\s+to|reason|owing\s+to|led\s+to|"
                    r"result(?:ed)?\s+(?:of|from|in)|as\s+a\s+result|since|so\s+that|thanks\s+to|"
                    r"blame[ds]?)\b", _I)
_FORMULA = re.compile(r"=|\b(?:equals?|times|squared|cubed|square\s+root|divided\s+by|"
                      r"proportional|plus|minus)\b|\b[A-Za-z](?:\s+[A-Za-z]){1,3}\b|"
                      r"\b[a-z]{1,2}\d?[a-z]{0,2}\s*=", 0)
_PREPOSITIONS = (r"(?:in|at|from|to|near|of|above|over|across|into|outside|inside|around|"
                 r"toward|towards)")
_PLACE = re.compile(_PREPOSITIONS + r"\s+(?:the\s+)?([A-Z][\w'-]+)")
_CAPITALISED = re.compile(r"\b([A-Z][a-z][\w'-]*)")
_TITLE_END = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Prof|Sr|Jr|Capt|Col|Lt|Gen|Rev)\.$")
_NOT_NAMES = frozenset("I I'm I've I'll I'd Oh Ah Mr Mrs Ms Dr Sir Yes No Well Okay OK Hey So And "
                       "But Now Then The A An This That These Those It He She We They You".split())


_WH = re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b", _I)


# The remaining types are found by pattern among the text's new words; any one pattern will do.
_ANY_OF: dict[AnswerType, tuple[re.Pattern[str], ...]] = {
    AnswerType.YEAR: (_YEAR,), AnswerType.DATE: (_DATE, _YEAR), AnswerType.TIME: (_TIME, _NUMBER),
    AnswerType.QUANTITY: (_NUMBER,), AnswerType.MONEY: (_MONEY,), AnswerType.COLOUR: (_COLOUR,),
    AnswerType.FORMULA: (_FORMULA,),
}


def expectation(question: str) -> Expectation | None:
    """The answer type ``question`` asks for, or ``None`` when its wording does not say.

    Only the question proper is read, from its first question word on: a lead-in ("In the
    Austen reading, which gentleman…") or a clause inside ("…weigh how much he could do") says
    nothing about the answer's type.
    """
    first = _WH.search(question)
    if first is None:
        return None
    question = question[first.start():]
    if m := _CREDIT_Q.search(question):
        word = m.group(1).lower()
        role = next(stem for stem, pat in _CREDIT_ROLES.items()
                    if re.fullmatch(pat, word, _I))
        return Expectation(AnswerType.CREDIT, role)
    for pattern, kind in ((_YEAR_Q, AnswerType.YEAR), (_DATE_Q, AnswerType.DATE),
                          (_TIME_Q, AnswerType.TIME), (_MONEY_Q, AnswerType.MONEY),
                          (_SPEED_Q, AnswerType.SPEED), (_COLOUR_Q, AnswerType.COLOUR),
                          (_NAME_Q, AnswerType.NAME),
                          (_QUANTITY_Q, AnswerType.QUANTITY),
                          (_PLACE_Q, AnswerType.PLACE), (_CAUSE_Q, AnswerType.CAUSE),
                          (_FORMULA_Q, AnswerType.FORMULA), (_PERSON_Q, AnswerType.PERSON)):
        if pattern.match(question):  # the type is in the question phrase itself
            return Expectation(kind)
    return None


def _asked(question: str) -> set[str]:
    """The question's own words, lower case: they cannot be its answer ("Marianne's" asks
    about "Marianne" too)."""
    words = set(tokens(question))
    return words | {w.removesuffix("'s") for w in words}


def _new_words(text: str, question: str) -> str:
    """``text`` without the words the question already uses."""
    asked = _asked(question)
    return " ".join(w for w in re.findall(r"\S+", text)
                    if re.sub(r"^\W+|\W+$", "", w).lower() not in asked)


# The cause word itself is no topic: "what caused the delay" and "because of the rain" share it.
_CAUSE_WORDS = ("cause", "caused", "causes", "causing")


def _topic(text: str) -> set[str]:
    """Stems of the content words of ``text``, cause words left out."""
    return set(content_words(text)) - {stem(w) for w in _CAUSE_WORDS}


def _has_name(text: str, question: str) -> bool:
    asked = _asked(question)
    for m in _CAPITALISED.finditer(text):
        word = m.group(1)
        if word in _NOT_NAMES or word.lower() in asked or word.lower() in _MONTHS:
            continue
        # The first word of a sentence is capitalised anyway; only later ones suggest a name
        # (a title's full stop, as in "Mr. Quilter", does not end a sentence).
        before = text[:m.start()].rstrip()
        if not before or (before[-1] in ".!?" and not _TITLE_END.search(before)):
            continue
        return True
    return False


def holds_answer(question: str, text: str, expected: Expectation | None = None) -> bool:
    """Whether ``text`` contains something of the type ``question`` asks for.

    ``True`` when the question has no recognised type (nothing to check).
    """
    expected = expected if expected is not None else expectation(question)
    if expected is None:
        return True
    kind = expected.type
    if kind is AnswerType.CREDIT:
        pattern = _CREDIT_ROLES[expected.role]
        return bool(re.search(rf"\b(?:{pattern})\b", text, _I)) and _has_name(text, question)
    if kind is AnswerType.NAME:
        return _has_name(text, question)
    if kind is AnswerType.PERSON:
        return _has_name(text, question) or bool(_PERSON_NOUNS.search(_new_words(text, question)))
    if kind is AnswerType.PLACE:
        asked = _asked(question)
        return any(m.group(1).lower() not in asked and m.group(1) not in _NOT_NAMES
                   and m.group(1).lower() not in _MONTHS for m in _PLACE.finditer(text))
    if kind is AnswerType.CAUSE:
        # "because" is common; it must explain something the question is about.
        topic = _topic(question)
        return any(_CAUSE.search(s) and _topic(s) & topic for s in sentences(text))
    new = _new_words(text, question)
    if kind is AnswerType.SPEED:  # a number and a unit
        return bool(_NUMBER.search(new) and _SPEED.search(new))
    return any(p.search(new) for p in _ANY_OF[kind])
