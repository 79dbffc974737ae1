"""Grounded answers: retrieve clips, let the LLM answer from them, keep only supported claims.

The flow of :meth:`Assistant.stream`:

1. check the question (empty, too long);
2. rewrite a follow-up into a standalone question using the chat history;
3. retrieve and rerank clips; refuse at once when even the best one is weak evidence
   (threshold calibrated on the dev set, see MIN_EVIDENCE), or when the question asks for a
   kind of answer (a year, a place, who directed…) that no close clip holds
   (:mod:`assistant.answerability`);
4. stream the LLM's answer over numbered sources;
5. check every sentence against the clips it cites (:mod:`assistant.citations`): unsupported
   markers and sentences are dropped. When nothing survives, a short extractive answer quoting the
   best clip is given instead — the evidence passed the threshold, so the user gets the moment,
   with its words, rather than a refusal or an invention.

LlamaIndex is not used here: its response synthesisers would add prompt layers and node
post-processing we then have to undo to check citations sentence by sentence against our clips.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import prompts
from assistant.answerability import RELIABLE_TYPES, expectation, holds_answer
from assistant.citations import check_answer, focus
from assistant.llm import LLM
from assistant.rerank import MARGIN
from assistant.retrieval import Evidence, Retriever
from indexing.fmt import fmt_time
from indexing.text import content_words
from indexing.text import sentences as split_sentences
from indexing.types import Clip, Hit

MAX_QUESTION_CHARS = 2000
SOURCE_CHARS = 420  # per source given to the LLM (~100 tokens)
CITABLE_RELATIVE_SCORE = 0.9  # a cited clip ranks first or has this share of the best score
REFUSAL_TEXT = "I can't find that in the collection."
# Refuse without asking the LLM when the best clip's rerank score is below this. Calibrated on
# eval/sets/dev.jsonl: the highest threshold keeping false refusals of answerable questions
# under 10 % (0.34 refuses 5/85 answerable, 3/12 unanswerable). Retrieval similarity alone
# separates near-miss questions poorly; the citation check does the rest.
MIN_EVIDENCE = 0.34
# How far below the best similarity a clip may be and still answer a typed question: the
# rerank's margin, as clips further down were never candidates for the first place.
TYPED_MARGIN = MARGIN


class QuestionError(ValueError):
    """A question that cannot be asked as given; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Citation:
    """A marker ``[n]`` in the answer and the clip it points at."""

    n: int
    clip: Clip
    score: float

    @property
    def label(self) -> str:
        c = self.clip
        return f"{Path(c.media_path).name} @ {fmt_time(c.start)}–{fmt_time(c.end)}"

    def to_json(self) -> dict[str, object]:
        return {"n": self.n, "media": self.clip.media_path, "start": round(self.clip.start, 2),
                "end": round(self.clip.end, 2), "text": self.clip.text,
                "kind": self.clip.kind.value, "score": round(self.score, 4)}


@dataclass(frozen=True)
class Answer:
    """The final, checked answer."""

    question: str
    query: str  # the standalone question used for retrieval
    text: str
    refused: bool
    citations: tuple[Citation, ...]
    retrieved: tuple[Hit, ...]
    timings: dict[str, float] = field(default_factory=dict)
    raw: str = ""  # what the LLM wrote before checking (for debugging and the eval report)
    extractive: bool = False

    def to_json(self) -> dict[str, object]:
        return {"answer": self.text, "refused": self.refused,
                "citations": [c.to_json() for c in self.citations],
                "query": self.query, "extractive": self.extractive,
                "timings": {k: round(v, 3) for k, v in self.timings.items()}}


@dataclass(frozen=True)
class Event:
    """One step of a streamed answer: ``retrieved``, ``token`` or ``answer``."""

    kind: str
    token: str = ""
    hits: tuple[Hit, ...] = ()
    answer: Answer | None = None


class Assistant:
    """Answers questions over one index with one LLM. Safe to share across chat sessions."""

    def __init__(self, retriever: Retriever, llm: LLM | None, *, k: int = 3,
                 min_evidence: float = MIN_EVIDENCE, max_tokens: int = 160) -> None:
        self.retriever = retriever
        self.llm = llm
        self.k = k
        self.min_evidence = min_evidence
        self.max_tokens = max_tokens

    # -- public --------------------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[tuple[str, str]] = (),
            k: int | None = None) -> Answer:
        """Answer ``question`` (blocking); see :meth:`stream`."""
        answer = None
        for ev in self.stream(question, history, k=k):
            if ev.kind == "answer":
                answer = ev.answer
        assert answer is not None
        return answer

    def stream(self, question: str, history: Sequence[tuple[str, str]] = (),
               k: int | None = None) -> Iterator[Event]:
        """Yield ``retrieved``, then ``token`` events as the LLM writes, then the ``answer``."""
        question = check_question(question)
        k = k or self.k
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        query = self.standalone(question, history)
        timings["rewrite_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        candidates = self.retriever.candidates(query)
        timings["retrieval_s"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        ranked = self.retriever.rerank(query, candidates)
        timings["rerank_s"] = time.perf_counter() - t1
        hits = ranked[:k]
        # Evidence strength is the best similarity; the rerank may put another clip first.
        strength = max((h.score for h in hits), default=0.0)
        expected = expectation(query)
        if expected is not None and hits and strength >= self.min_evidence:
            # The question can be answered only if a close clip holds the kind of answer asked
            # for (a year, a name…); a number from another recording answers nothing.
            close = [h for h in ranked[:2 * k] if h.score >= strength - TYPED_MARGIN]
            typed = [h for h in close if holds_answer(query, h.clip.text, expected)]
            if typed and expected.type in RELIABLE_TYPES:
                # Numbers and dates are found reliably, so clips holding one go first ("how
                # many crew…": the clip with "seven", not the one about the crew's fate).
                # Names are not (a name in lower case is missed), so those keep their order.
                hits = (typed + [h for h in hits if h not in typed])[:k]
            if not typed:
                yield Event("retrieved", hits=tuple(hits))
                timings["total_s"] = time.perf_counter() - t0
                text = f"{REFUSAL_TEXT} The closest clips hold no {expected.describe()}."
                yield Event("answer", answer=Answer(question, query, text, True, (),
                                                    tuple(hits), timings))
                return
        yield Event("retrieved", hits=tuple(hits))
        if not hits or strength < self.min_evidence or self.llm is None:
            if hits and strength >= self.min_evidence:  # no LLM configured: extractive
                answer = self._extractive(question, query, hits, timings)
                timings["total_s"] = time.perf_counter() - t0
                yield Event("answer", answer=answer)
                return
            timings["total_s"] = time.perf_counter() - t0
            yield Event("answer", answer=Answer(question, query, REFUSAL_TEXT, True, (),
                                                tuple(hits), timings))
            return
        evidence = self.retriever.evidence(hits)
        messages = build_messages(query, evidence)
        t2 = time.perf_counter()
        parts: list[str] = []
        for delta in self.llm.stream(messages, max_tokens=self.max_tokens, temperature=0.1):
            if not parts:
                timings["first_token_s"] = time.perf_counter() - t0
            parts.append(delta)
            yield Event("token", token=delta)
        timings["generation_s"] = time.perf_counter() - t2
        raw = "".join(parts)
        answer = self._finish(question, query, raw, hits, evidence, timings)
        timings["total_s"] = time.perf_counter() - t0
        yield Event("answer", answer=answer)

    def standalone(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """Rewrite a follow-up into a question that stands on its own.

        The LLM rewrites it; the rewrite is kept only if it still carries the follow-up's own
        content words (small models sometimes answer instead of rewriting). Otherwise the last
        question is prepended, which keeps its topic words in the retrieval query.
        """
        if not history:
            return question
        last_q = history[-1][0]
        if self.llm is not None:
            hist = "\n".join(f"User: {q}\nAssistant: {a[:300]}" for q, a in history[-3:])
            messages = [{"role": "user",
                         "content": prompts.render("rewrite", history=hist, question=question)}]
            try:
                out = "".join(self.llm.stream(messages, max_tokens=60, temperature=0.0,
                                              stop=("\n",))).strip()
                # small models echo the prompt's label before the question
                out = re.sub(r"^(?:rewritten|standalone)?\s*question\s*:\s*", "", out,
                             flags=re.IGNORECASE).strip().strip('"')
            except Exception:  # a failed rewrite must not lose the question
                out = ""
            own = set(content_words(question))
            if out and len(out) < 300 and own <= set(content_words(out)) and out != question:
                return out
        return f"{last_q} {question}"

    # -- internals -----------------------------------------------------------------------------
    def _finish(self, question: str, query: str, raw: str, hits: Sequence[Hit],
                evidence: Sequence[Evidence], timings: dict[str, float]) -> Answer:
        # Support is checked against the cited clip alone, not its neighbours: the clip is what
        # the user will play to verify the sentence.
        # Only clips about as strong as the best one may back a sentence: the small model mixes
        # in sentences from weaker sources, and on the dev set those were the asked-about moment
        # far less often (32 %) than the best-ranked clip (70 %).
        # A question asks about one moment: the small model also mixes in lines from other
        # recordings ("He seems extremely distant" from another file, next to the right
        # "crown jewels"), so other clips may back a sentence only from the first one's file.
        floor = max((e.hit.score for e in evidence), default=0.0) * CITABLE_RELATIVE_SCORE
        first = evidence[0].hit.clip.media_path if evidence else ""
        texts = [e.hit.clip.text if i == 0 or (e.hit.score >= floor
                                               and e.hit.clip.media_path == first) else ""
                 for i, e in enumerate(evidence)]
        embed = self.retriever.embedder.embed_texts
        checked = focus(check_answer(raw, texts, embed=embed), query, embed)
        if not checked:
            return self._extractive(question, query, hits, timings, raw)
        # Renumber: markers in the final text are 1..n in order of first use.
        order: list[int] = []
        for s in checked:
            for n in s.sources:
                if n not in order:
                    order.append(n)
        new = {old: i + 1 for i, old in enumerate(order)}
        text = " ".join(
            f"{_end_sentence(s.text)[:-1]} {''.join(f'[{new[n]}]' for n in s.sources)}"
            f"{_end_sentence(s.text)[-1]}"
            for s in checked
        )
        citations = tuple(Citation(new[n], hits[n - 1].clip, hits[n - 1].score) for n in order)
        return Answer(question, query, text, False, citations, tuple(hits), timings, raw)

    def _extractive(self, question: str, query: str, hits: Sequence[Hit],
                    timings: dict[str, float], raw: str = "") -> Answer:
        """Quote the sentences of the best clip that are closest to the question."""
        best = hits[0]
        quote = self._best_sentences(query, best.clip.text)
        where = f"{Path(best.clip.media_path).name} at {fmt_time(best.clip.start)}"
        text = f"The closest passage is in {where}: \u201c{quote}\u201d [1]."
        return Answer(question, query, text, False, (Citation(1, best.clip, best.score),),
                      tuple(hits), timings, raw, extractive=True)

    def _best_sentences(self, query: str, text: str, max_chars: int = 300) -> str:
        # Quoting the whole clip would also quote whatever else it says (including text that
        # looks like instructions); the sentence nearest the question is the answer's evidence.
        # Units are sentences, and clauses of long ones: ASR often runs sentences together.
        sentences = [u.strip() for s in split_sentences(text)
                     for u in (re.split(r"[,;]\s+", s) if len(s) > 80 else [s]) if u.strip()]
        if len(sentences) <= 1:
            quote = text.strip()
        else:
            vecs = self.retriever.embedder.embed_texts([query, *sentences])
            i = int(np.argmax(vecs[1:] @ vecs[0]))
            quote = sentences[i]
            if len(quote) < 60 and i + 1 < len(sentences):  # a fragment needs its follow-on
                quote += " " + sentences[i + 1]
        if len(quote) > max_chars:
            quote = quote[:max_chars].rsplit(" ", 1)[0] + "…"
        return quote


def _end_sentence(text: str) -> str:
    text = text.strip()
    return text if text[-1:] in ".!?" else text + "."


def check_question(question: str) -> str:
    """Normalise a question or raise :class:`QuestionError` with a one-line reason."""
    q = " ".join((question or "").split())
    if not q:
        raise QuestionError("the question is empty: ask something about the footage")
    if len(q) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(q):,} characters long; the limit is "
                            f"{MAX_QUESTION_CHARS:,}. Ask a shorter question")
    return q


def source_text(e: Evidence, budget: int = SOURCE_CHARS) -> str:
    """A source's text for the LLM: the clip, widened with its neighbours up to ``budget``.

    Prompt length is what the small CPU model pays for first (about 10 ms per token before
    the first word), so neighbours only fill a clip that is short.
    """
    text = e.hit.clip.text
    room = budget - len(text)
    if room > 40 and e.context_before:
        text = "…" + e.context_before[-room // 2:] + " " + text
    room = budget - len(text)
    if room > 40 and e.context_after:
        text = text + " " + e.context_after[:room] + "…"
    # Sources are data: newlines and brackets are flattened so a transcript cannot fake a
    # new source line or a citation marker.
    return " ".join(text.replace("[", "(").replace("]", ")").split())


def build_messages(question: str, evidence: Sequence[Evidence]) -> list[dict[str, str]]:
    """The chat messages for the answering LLM: numbered sources, then the question.

    Sources are plain ``[n] text`` lines: with file names and times in front, the small model
    copied them into its answers and invented timestamps.
    """
    blocks = [f"[{i}] {source_text(e)}" for i, e in enumerate(evidence, 1)]
    return [
        {"role": "system", "content": prompts.load_prompt("answer_system")},
        {"role": "user", "content": prompts.render("answer_user", sources="\n".join(blocks),
                                                   question=question)},
    ]
