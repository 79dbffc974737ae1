"""Does a question ask for a *set* of places (aggregation) or for one answer?

Read from the question's grammar with spaCy's parser (the model the graph is built with), not
from a list of example phrasings: a question aggregates when

* a wh-determiner asks about a plural noun ("which recordings …", "in which films …", "which
  two failings …": the first noun after *which*/*what*, past adjectives and numbers, is plural);
* a universal determiner quantifies a noun ("every clip", "all the moments", "each speech").

Anything else ("from which city's control centre …", "what does Lewin announce …") asks for one
answer, which ordinary retrieval already finds best. The parse costs ~5 ms per question once the
model is loaded (on first use, lazily: retrieval in naive mode never loads it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indexing.graph.extract import load_nlp

_WH = frozenset({"WDT", "WP"})
_PLURAL = frozenset({"NNS", "NNPS"})
_NOUN = frozenset({"NOUN", "PROPN"})
_NAMING = frozenset({"NOUN", "PROPN", "ADJ", "NUM"})  # what can name a thing; verbs do not
# Roles only a noun fills: a word in one that is tagged as an -s verb ("which speeches
# mention …": the small model's VBZ) is a plural noun.
_NOMINAL = frozenset({"nsubj", "nsubjpass", "dobj", "pobj", "attr"})
# Universal quantifiers: a closed grammatical class, not a vocabulary of questions.
_UNIVERSAL = frozenset({"all", "every", "each"})
# What may stand between a wh-determiner and its noun ("which two old films").
_MODIFIERS = frozenset({"ADJ", "NUM", "ADV", "PUNCT", "CCONJ", "DET"})


@dataclass(frozen=True, slots=True)
class Intent:
    """What the parser read: ``aggregate`` and the words that made it so (``why``), the lemma
    of the noun the set is of (``noun``: "which recordings" -> ``recording``), the lemmas
    of the question's content words ("dying" -> ``die``), which entity linking matches against
    the graph's action and concept keys, and its words that can name a thing (``nominal``:
    nouns, proper nouns, adjectives, numbers; lower case), which an evidence list reads."""

    aggregate: bool
    why: str = ""
    lemmas: tuple[str, ...] = ()
    noun: str = ""
    nominal: tuple[str, ...] = ()


class IntentParser:
    """Parses questions for aggregation intent; the spaCy model loads on first use."""

    def __init__(self, nlp: Any = None) -> None:
        self._nlp = nlp
        self._cache: dict[str, Intent] = {}

    def parse(self, question: str) -> Intent:
        """The :class:`Intent` of ``question`` (cached per text)."""
        if question not in self._cache:
            if self._nlp is None:
                self._nlp = load_nlp()
            self._cache[question] = read_intent(self._nlp(question))
        return self._cache[question]


def read_intent(doc: Any) -> Intent:
    """The :class:`Intent` of a parsed question (a spaCy ``Doc``)."""
    lemmas = tuple(dict.fromkeys(t.lemma_.lower() for t in doc if t.is_alpha and not t.is_stop
                                 and t.lemma_.lower() != t.lower_))
    why, noun = _aggregation(doc)
    # The words above the set's noun ask for it ("List every clip …", which the small model
    # may tag as a noun): they name no content.
    asking = {t.i for t in noun.ancestors} if noun is not None else set()
    nominal = tuple(dict.fromkeys(t.lower_ for t in doc
                                  if t.pos_ in _NAMING and t.i not in asking))
    if noun is None:
        return Intent(False, "", lemmas, "", nominal)
    return Intent(True, why, lemmas, _lemma(noun), nominal)


def _aggregation(doc: Any) -> tuple[str, Any]:
    """The words that make ``doc`` ask for a set, and the noun the set is of (None: it asks
    for one answer)."""
    for tok in doc:
        if tok.tag_ in _WH and tok.lower_ in ("which", "what"):
            noun = tok.head if tok.dep_ == "det" and tok.head.i > tok.i else _noun_after(
                doc, tok.i + 1)
            if noun is not None and _plural_noun(noun):
                return f"{tok.text} {noun.text}", noun
        if (tok.lower_ in _UNIVERSAL and tok.dep_ in ("det", "predet")
                and tok.head.pos_ in _NOUN):
            return f"{tok.text} … {tok.head.text}", tok.head
    return "", None


def _lemma(tok: Any) -> str:
    """A noun's lemma. The small model's lemmatizer leaves "speeches" as ``speeche`` and an -s
    word it tagged as a verb ("which speeches mention …") as it is: those plurals are undone
    by their ending."""
    word, lemma = tok.lower_, str(tok.lemma_).lower()
    if tok.tag_ in ("NNS", "NNPS", "VBZ"):
        if word.endswith(("ches", "shes", "sses", "xes", "zes")):
            return word[:-2]
        if lemma == word and word.endswith("s") and not word.endswith("ss"):
            return word[:-1]
    return lemma


def _plural_noun(tok: Any) -> bool:
    return bool(tok.tag_ in _PLURAL or (tok.tag_ == "VBZ" and tok.dep_ in _NOMINAL))


def _noun_after(doc: Any, i: int) -> Any:
    """The first noun from token ``i`` on, if only modifiers stand before it."""
    for tok in doc[i:]:
        if tok.pos_ in _NOUN:
            return tok
        if tok.pos_ not in _MODIFIERS:
            return None
    return None
