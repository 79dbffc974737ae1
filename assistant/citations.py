"""Checking that an answer's citations really support what it says.

A small local model phrases badly and cites carelessly, so nothing it writes is trusted as is:
every sentence must be backed by a retrieved clip. The checks, cheapest first:

1. lexical and embedding support: content words of the sentence found in the clip, or a strong
   paraphrase (embedding similarity) with a fair share of them;
2. no invented number: every number the sentence states, spoken or written ("nine", "9"), is in
   the clip;
3. the same polarity: the clip sentences that back the sentence are negated ("there are no
   survivors") exactly when the sentence is ("there were survivors" fails);
4. optionally, entailment: a caller-given judge (an LLM or a model) must find that the clip
   entails the sentence. It runs only on sentences that passed 1-3, as it is the costly one.

A marker whose clip does not support its sentence is dropped; a sentence left without any
supporting clip is dropped; an answer left with nothing becomes a refusal (decided by the
caller). Each kept sentence says which sentences of its clip support it (character offsets in
the clip's text), so the caller can cite the seconds of those words
(:meth:`indexing.types.Clip.span_of`). All word rules come from :mod:`indexing.text`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.calibration import (
    MIN_ANSWER_RELEVANCE,
    MIN_COVERAGE,
    MIN_COVERAGE_WITH_SIMILARITY,
    MIN_SHARE_OF_PAIR,
    MIN_SIMILARITY,
    OFF_TOPIC_GAP,
)
from indexing.text import (
    content_words,
    is_negator,
    negated,
    negated_words,
    numbers,
    overlap,
    sentence_spans,
    sentences,
)

__all__ = ["CheckedSentence", "Entails", "Support", "answer_sentences", "check_answer",
           "content_words", "coverage", "focus", "is_refusal", "strip_markers"]

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
# Sentences about the sources rather than the footage ("The sentence is from source 2").
_META = re.compile(r"\b(?:the (?:sentence|source|question) (?:is|was|number)|"
                   r"source (?:number|called))\b", re.IGNORECASE)
# Lead-ins a model puts before the answer; taken off, the answer after them is checked.
_META_LEAD = re.compile(r"^(?:the answer (?:to (?:the|this|your) question )?is:?|"
                        r"according to (?:the )?(?:source|passage)s?(?: \d+)?,?|"
                        r"(?:the )?(?:source|passage) (?:\d+ )?(?:says|states) (?:that)?)\s+",
                        re.IGNORECASE)
# The yes or no that opens the answer to a yes/no question, in the languages checked here. It
# is the answer's own word, not a claim about the footage: the rest of the sentence is checked
# (a leading "No" would otherwise read as a negation of everything after it).
_POLAR = re.compile(r"^(?:yes|no|ja|nein)\b[,.!:;]?\s*", re.IGNORECASE)

# The entailment judge's score (0..1) a sentence needs, when a judge is given.
MIN_ENTAILMENT = 0.5
# Where a sentence may be cut when its tail is not supported ("built in 1892 | by the Navy").
_CLAUSE_BREAK = re.compile(r",\s+|;\s+|\s+(?=(?:by|and|but|because|which|who|while|with|after|"
                           r"before|when|where|although|as)\b)")

Entails = Callable[[str, str], float]
"""``entails(sentence, evidence)``: how sure a judge is (0..1) that ``evidence`` states
``sentence``."""
Embed = Callable[[Sequence[str]], np.ndarray]


def coverage(sentence: str, evidence: str, lang: str | None = None) -> float:
    """Share of the sentence's content words that occur in ``evidence`` (1.0 for none)."""
    return overlap(content_words(sentence, lang), content_words(evidence, lang))


def answer_sentences(answer: str, lang: str | None = None) -> list[str]:
    """Split an answer into sentences, keeping each one's citation markers with it."""
    # A marker after the full stop ("... shuttle. [1]") belongs to the sentence before it.
    text = re.sub(r"([.!?])\s+((?:\[\d+(?:\s*,\s*\d+)*\]\s*)+)", r" \2\1 ", answer.strip())
    return sentences(text, lang)


def _markers(sentence: str) -> tuple[int, ...]:
    """The source numbers the ``[n]`` markers of ``sentence`` name, in order."""
    return tuple(int(n) for m in _MARKER.finditer(sentence) for n in m.group(1).split(","))


def strip_markers(sentence: str) -> str:
    """``sentence`` without its ``[n]`` citation markers."""
    return re.sub(r"\s+([.!?,;:])", r"\1", _MARKER.sub("", sentence)).strip()


@dataclass(frozen=True, slots=True)
class Support:
    """Where a sentence is backed: ``sources[source - 1][char_start:char_end]``, one sentence
    of the cited clip's text."""

    source: int
    char_start: int
    char_end: int


@dataclass(frozen=True, slots=True)
class CheckedSentence:
    """A sentence of the final answer, the source numbers that support it, and the sentences
    of those sources that do (in source order, then text order)."""

    text: str
    sources: tuple[int, ...]
    support: tuple[Support, ...] = ()


@dataclass(frozen=True, slots=True)
class _Sentence:
    start: int
    end: int
    words: frozenset[str]
    negated: frozenset[str]  # the words a negator stands next to (see text.negated_words)


@dataclass(frozen=True, slots=True)
class _Source:
    """A source analysed once: its words, numbers and sentences."""

    text: str
    words: frozenset[str]
    numbers: frozenset[str]
    sentences: tuple[_Sentence, ...]


def _analyse(text: str, lang: str | None) -> _Source:
    parts = tuple(_Sentence(a, b, frozenset(content_words(text[a:b], lang)),
                            negated_words(text[a:b], lang))
                  for a, b in sentence_spans(text, lang))
    # The source's words are its sentences' words: stemming is the costly step, done once.
    return _Source(text, frozenset().union(*(p.words for p in parts)),
                   frozenset(numbers(text, lang)), parts)


@dataclass(frozen=True, slots=True)
class _Claim:
    """A sentence of the answer, analysed once."""

    text: str
    words: tuple[str, ...]  # what must be supported: the words not already in the question
    numbers: frozenset[str]
    negated: bool
    topic: frozenset[str]  # those words minus negators: what finds the backing sentences
    about: frozenset[str]  # all its content words minus negators


def _claim(text: str, lang: str | None, given: frozenset[str] = frozenset(),
           given_numbers: frozenset[str] = frozenset()) -> _Claim:
    words = tuple(content_words(text, lang))
    # Words the question already holds are not the answer's claim: "Lewin expects the ball to
    # reach his chin" restates "How high does Lewin expect the ball to come?" and claims only
    # "chin". The new words must be in the source; a sentence that adds none (a yes/no reply)
    # is checked on all its words. A number the question states is the question's too.
    about = frozenset(w for w in words if not is_negator(w, lang))
    new = tuple(w for w in words if w not in given)
    words = new or words
    return _Claim(text, words, frozenset(numbers(text, lang)) - given_numbers,
                  negated(text, lang), frozenset(w for w in words if not is_negator(w, lang)),
                  about)


def check_answer(
    answer: str,
    sources: Sequence[str],
    embed: Embed | None = None,
    *,
    lang: str | None = None,
    source_languages: Sequence[str | None] | None = None,
    entails: Entails | None = None,
    min_entailment: float = MIN_ENTAILMENT,
    question: str = "",
) -> list[CheckedSentence]:
    """Keep the sentences of ``answer`` that the sources support, each cited to its support.

    ``sources[i]`` is the text of source ``i + 1``, best-ranked first (an empty text can back
    nothing). A sentence is kept when one source (or two together) supports it, possibly after
    cutting an unsupported tail; its citation is the best-ranked supporting source, whatever
    marker the model wrote. ``lang`` (ISO 639-1) is the language of the answer, and of each
    source unless ``source_languages`` (one per source, e.g. ``Clip.language``) says otherwise;
    ``None`` means English rules (stop words, stems, negators, number words).
    ``entails``, when given, is asked about each sentence that passed the cheap checks, with
    the text of the source(s) it would be cited to; below ``min_entailment`` the next
    supporting source is tried, and with none left the sentence is dropped. Words of
    ``question`` are not claims: only what a sentence adds to the question must be supported
    (numbers and polarity are checked in full whatever the question says).
    """
    said = [(strip_markers(s), _markers(s)) for s in answer_sentences(answer, lang)]
    said = [(p, m) for p, m in said if p]
    plain = [p for p, _ in said]
    if not plain or not sources:
        return []
    langs = list(source_languages or [])
    analysed = [_analyse(s, langs[i] if i < len(langs) and langs[i] else lang)
                for i, s in enumerate(sources)]
    sims: np.ndarray | None = None
    if embed is not None:
        vecs = embed([*plain, *sources])
        sims = vecs[: len(plain)] @ vecs[len(plain):].T
    checker = _Checker(analysed, embed, lang, entails, min_entailment,
                       frozenset(content_words(question, lang)),
                       frozenset(numbers(question, lang)))
    kept: list[CheckedSentence] = []
    for i, text in enumerate(plain):
        if is_refusal(text) or _META.search(text):
            continue
        lead, body = _opening(text)
        if not body:  # a bare yes or no states nothing a passage could back
            continue
        # The model's own marker picks the source only among those that support the sentence
        # (the 0.5B model's cited clip was the right moment 32 % of the time on the dev set);
        # a sentence whose marked source does not support it is cited to the best-ranked one
        # that does.
        row = sims[i] if sims is not None and body == text else None
        found = checker.supported_prefix(body, row, said[i][1])
        if found is not None:
            if lead:
                body_text = found.text[:1].lower() + found.text[1:] \
                    if _POLAR.match(lead) else found.text
                found = CheckedSentence(f"{lead} {body_text}".strip(), found.sources,
                                        found.support)
            kept.append(found)
    return kept


def _opening(text: str) -> tuple[str, str]:
    """``text`` split into its opening yes/no (kept as the answer's first word, ``"Yes,"``)
    and the rest to check; meta lead-ins ("The answer is") are dropped from the rest."""
    body = _META_LEAD.sub("", text).strip()
    polar = _POLAR.match(body)
    if polar is None:
        return "", body[:1].upper() + body[1:] if body != text else body
    word = polar.group(0).strip().rstrip(",.!:;")
    rest = body[polar.end():].strip()
    return f"{word[:1].upper()}{word[1:].lower()},", rest[:1].upper() + rest[1:]


@dataclass(frozen=True)
class _Checker:
    """The support checks of one answer against its analysed sources."""

    sources: Sequence[_Source]
    embed: Embed | None
    lang: str | None
    entails: Entails | None
    min_entailment: float
    given: frozenset[str] = frozenset()  # the question's words
    given_numbers: frozenset[str] = frozenset()  # and its numbers

    def supported_prefix(self, text: str, sims: np.ndarray | None,
                         marked: tuple[int, ...] = ()) -> CheckedSentence | None:
        """The sentence, or its longest clause-boundary prefix, that the sources support.

        Small models often append an invented tail to a true statement; cutting the tail keeps
        the true part instead of losing the whole sentence.
        """
        claim = _claim(text, self.lang, self.given, self.given_numbers)
        found = self._accept(claim, self._single(claim, sims) or self._pair(claim), marked)
        if found is not None:
            return found
        cuts = [m.start() for m in _CLAUSE_BREAK.finditer(text)]
        for cut in reversed(cuts):
            prefix = text[:cut].rstrip(" ,;")
            part = _claim(prefix, self.lang, self.given, self.given_numbers)
            if len(part.words) < 2:
                break
            prefix_sims = None
            if self.embed is not None:
                vecs = self.embed([prefix, *(s.text for s in self.sources)])
                prefix_sims = vecs[1:] @ vecs[0]
            found = self._accept(part, self._single(part, prefix_sims), marked)
            if found is not None:
                return found
        return None

    def _single(self, claim: _Claim, sims: np.ndarray | None) -> list[tuple[int, ...]]:
        """Sources that support ``claim`` alone, best-ranked first."""
        ok: list[tuple[int, ...]] = []
        for n, source in enumerate(self.sources, start=1):
            if not source.text.strip():
                continue
            if not claim.numbers <= source.numbers:
                continue  # an invented number is the most harmful error: never let one through
            cov = overlap(claim.words, source.words)
            sim = float(sims[n - 1]) if sims is not None else 0.0
            if cov >= MIN_COVERAGE or (sim >= MIN_SIMILARITY
                                       and cov >= MIN_COVERAGE_WITH_SIMILARITY):
                ok.append((n,))
        return ok

    def _pair(self, claim: _Claim) -> list[tuple[int, ...]]:
        """Two sources that together support ``claim`` (each a fair share of it)."""
        usable = [n for n, s in enumerate(self.sources, start=1) if s.text.strip()]
        share = {n: overlap(claim.words, self.sources[n - 1].words) for n in usable}
        ranked = sorted(usable, key=lambda n: -share[n])[:3]
        for i, a in enumerate(ranked):
            for b in ranked[i + 1:]:
                both = self.sources[a - 1].words | self.sources[b - 1].words
                if (share[a] >= MIN_SHARE_OF_PAIR and share[b] >= MIN_SHARE_OF_PAIR
                        and overlap(claim.words, both) >= MIN_COVERAGE
                        and claim.numbers <= (self.sources[a - 1].numbers
                                              | self.sources[b - 1].numbers)):
                    return [tuple(sorted((a, b)))]
        return []

    def _accept(self, claim: _Claim, candidates: list[tuple[int, ...]],
                marked: tuple[int, ...] = ()) -> CheckedSentence | None:
        """The first candidate whose backing sentences agree in polarity with ``claim`` and,
        with a judge, entail it. Candidates are tried by how much of the whole sentence they
        hold (the question's words too: "Kennedy asked his fellow Americans what they could do
        for their country" is Kennedy's passage, not another speech's "my fellow Americans
        ... our country"), then the one the answer marked, then rank."""

        def order(group: tuple[int, ...]) -> tuple[float, bool, tuple[int, ...]]:
            words = frozenset().union(*(self.sources[n - 1].words for n in group))
            return (-overlap(claim.about, words), not set(group) & set(marked), group)

        for group in sorted(candidates, key=order):
            support = self._backing(claim, group)
            # A negation in the source counts when it stands next to what the sentence adds
            # to the question (or, adding nothing, to what it restates): "ask not what your
            # country can do" does not deny that Kennedy asked about the country.
            scope = set(claim.topic or claim.about)
            denied = any(_held(scope, s.negated) for _, s in support)
            if support and claim.negated != denied:
                continue  # "there were survivors" against "there are no survivors"
            if self.entails is not None:
                evidence = "\n".join(self.sources[n - 1].text for n in group)
                if self.entails(claim.text, evidence) < self.min_entailment:
                    continue
            spans = tuple(Support(n, s.start, s.end) for n, s in support) or tuple(
                Support(n, 0, len(self.sources[n - 1].text)) for n in group)
            return CheckedSentence(claim.text, group, spans)
        return None

    def _backing(self, claim: _Claim, group: tuple[int, ...]) -> list[tuple[int, _Sentence]]:
        """The sentences of the sources in ``group`` that hold the claim's words.

        Greedy set cover over the claim's topic words (negators left out, so a stray "not"
        elsewhere in the clip cannot pass for the claim's own); in source, then text order.
        """
        pool = [(n, s) for n in group for s in self.sources[n - 1].sentences]
        need = set(claim.topic)
        chosen: list[tuple[int, _Sentence]] = []
        while need and pool:
            held = [_held(need, s.words) for _, s in pool]
            i = max(range(len(pool)), key=lambda k: len(held[k]))
            if not held[i]:
                break
            chosen.append(pool.pop(i))
            need -= held[i]
        return sorted(chosen, key=lambda p: (p[0], p[1].start))


# Stems this long that start alike are one word for finding a claim's backing sentence:
# Snowball leaves "survived" -> "surviv" and "survivors" -> "survivor", and a flipped claim
# ("the crew survived") must still be matched to "there are no survivors".
_RELATED_STEM = 5


def _held(need: set[str], words: frozenset[str]) -> set[str]:
    """The words of ``need`` that ``words`` holds, the same or sharing a long stem."""
    return {w for w in need if w in words or (len(w) >= _RELATED_STEM and any(
        len(x) >= _RELATED_STEM and (x.startswith(w) or w.startswith(x)) for x in words))}


_REFUSAL = re.compile(
    r"\b(?:(?:cannot|can't|could not|couldn't|unable to|not able to) (?:find|answer|say|tell)|"
    r"no information|(?:don't|do not) know|not (?:mentioned|found|stated)|"
    r"not in the (?:collection|sources?))",
    re.IGNORECASE,
)


def is_refusal(text: str) -> bool:
    """Whether ``text`` says it cannot answer ("cannot find", "not mentioned", ...)."""
    return bool(_REFUSAL.search(text))


def focus(checked: Sequence[CheckedSentence], question: str,
          embed: Embed) -> list[CheckedSentence]:
    """Drop repeated sentences and clauses that have nothing to do with the question.

    A supported sentence can still carry text that answers nothing that was asked (a small
    model copies whole source sentences, including any instructions a transcript contains).
    Clauses are compared with the question; those far below the best clause are cut, and so
    are those unrelated to it whatever the best clause scores: an answer that is nothing but
    a copied instruction ("access granted") has no better clause to be measured against. The
    clause that adds the most words the question lacks is the answer itself: it is measured
    against that absolute floor only, never against a restatement of the question, which is
    always the clause nearest the question.
    """
    asked = set(content_words(question))
    out: list[CheckedSentence] = []
    seen: set[str] = set()
    # The opening yes or no is the answer itself, never a clause to weigh.
    leads = [m.group(0).strip() if (m := _POLAR.match(s.text)) else "" for s in checked]
    pieces = [[c for c in re.split(r",\s+|;\s+|\s+(?=and\b|but\b)", s.text[len(lead):].strip())
               if c.strip()] for s, lead in zip(checked, leads, strict=True)]
    flat = [c for p in pieces for c in p]
    if not flat:
        return []
    vecs = embed([question, *flat])
    sims = iter(vecs[1:] @ vecs[0])
    scored = [[(c, float(next(sims))) for c in p] for p in pieces]
    best = max(s for p in scored for _, s in p)
    for s, clauses, lead in zip(checked, scored, leads, strict=True):
        floor = max(best - OFF_TOPIC_GAP, MIN_ANSWER_RELEVANCE)
        new = [len(set(content_words(c)) - asked) for c, _ in clauses]
        answer = new.index(max(new)) if max(new, default=0) > 0 else -1
        kept = [c for i, (c, sim) in enumerate(clauses)
                if sim >= floor or (i == answer and sim >= MIN_ANSWER_RELEVANCE)]
        text = ", ".join(kept).strip(" ,;")
        key = " ".join(content_words(text))
        if not kept or not key or key in seen:
            continue
        seen.add(key)
        out.append(CheckedSentence(f"{lead} {text}".strip() if lead else text, s.sources,
                                   s.support))
    return out
