"""Grounded answers: retrieve clips, let the LLM answer from them, keep only supported claims.

The flow of :meth:`Assistant.stream`:

1. check the question (empty, too long);
2. rewrite a follow-up into a standalone question using the chat history;
3. retrieve and rerank clips; refuse at once when even the best one is weak evidence
   (:data:`~assistant.calibration.MIN_EVIDENCE`);
4. pick the passages the LLM reads: the sentences of those clips nearest the question
   (:mod:`assistant.passages`), a short prompt with the answer in it as often as whole clips;
5. stream the LLM's answer over the numbered passages (a one-shot prompt: the fact first, then
   its source number);
6. check every sentence against the passage it cites (:mod:`assistant.citations`): what it adds
   to the question must be in the passage, no invented number, the same polarity, then the
   LLM's own reading (:class:`~assistant.judge.Judge`: "does the passage state this?").
   Unsupported markers and sentences are dropped; each citation plays the seconds of the
   words that back it.
7. When nothing survives, the LLM reads the nearest passages once more ("is the answer stated
   here?"): if one does, it is quoted; if none does, the answer is an honest refusal. Without
   a judge (a backend that cannot score choices) the nearest passage is quoted, as the
   evidence passed the similarity threshold.

Refusal is thus decided from evidence a model read, never from lists of question words, so it
works the same for any question form and language the models handle. Thresholds live in
:mod:`assistant.calibration`.

LlamaIndex is not used here: its response synthesisers would add prompt layers and node
post-processing we then have to undo to check citations sentence by sentence against our clips.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import prompts
from assistant.calibration import JUDGED_PASSAGES, MIN_EVIDENCE, PASSAGES
from assistant.citations import CheckedSentence, check_answer, focus
from assistant.judge import Judge, judge_for
from assistant.llm import LLM
from assistant.passages import Passage, nearest_passages, quote
from assistant.prompting import build_messages, lead_marker_last
from assistant.retrieval import Retriever
from indexing.fmt import fmt_time
from indexing.protocols import Embedder
from indexing.stages.embed import reads_language
from indexing.text import content_words, detect_language
from indexing.types import Clip, Hit

MAX_QUESTION_CHARS = 2000
REFUSAL_TEXT = "I can't find that in the collection."


class QuestionError(ValueError):
    """A question that cannot be asked as given; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Citation:
    """A marker ``[n]`` in the answer, the clip it points at, and the seconds it cites.

    ``start``/``end`` are the span of the clip's words that support the answer (the whole clip
    when the clip has no word times), so a player opens on them.
    """

    n: int
    clip: Clip
    score: float
    start: float = -1.0  # -1: the clip's own start
    end: float = -1.0  # -1: the clip's own end

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < 0:
            object.__setattr__(self, "start", self.clip.start)
            object.__setattr__(self, "end", self.clip.end)

    @property
    def label(self) -> str:
        return f"{Path(self.clip.media_path).name} @ {fmt_time(self.start)}–{fmt_time(self.end)}"

    def to_json(self) -> dict[str, object]:
        c = self.clip
        return {"n": self.n, "media": c.media_path, "start": round(self.start, 2),
                "end": round(self.end, 2), "clip_start": round(c.start, 2),
                "clip_end": round(c.end, 2), "text": c.text, "kind": c.kind.value,
                "language": c.language, "score": round(self.score, 4)}


def cite(n: int, passage: Passage, spans: Sequence[tuple[int, int]] = ()) -> Citation:
    """A citation of ``passage``'s clip narrowed to the seconds of the character ``spans``
    (relative to the passage's text), or to the whole passage without spans."""
    clip = passage.hit.clip
    at = passage.start  # passages are trimmed spans: their text starts at ``start``
    times = [clip.span_of(at + a, at + b) for a, b in spans] or [passage.seconds()]
    return Citation(n, clip, passage.hit.score, min(t[0] for t in times),
                    max(t[1] for t in times))


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
    # The (media path, start, end) of each passage the answering model read, in prompt order.
    read: tuple[tuple[str, float, float], ...] = ()
    # What refused the question: "evidence" (no clip close enough to read), "judge" (the
    # model's sentences failed the checks and no passage was judged to answer); "" = answered.
    gate: str = ""

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
                 min_evidence: float | None = None, max_tokens: int = 160,
                 judge: Judge | bool | None = True) -> None:
        """``judge``: ``True`` = the answering LLM reads (when it can score choices), ``False``
        = lexical checks only, or a :class:`Judge` over another model. ``min_evidence``: the
        similarity below which a question is refused unread (default: :func:`evidence_floor`
        of the index's embedder and the question's language)."""
        self.retriever = retriever
        self.llm = llm
        self.k = k
        self.min_evidence = min_evidence
        self.max_tokens = max_tokens
        if judge is True:
            self.judge = judge_for(llm) if llm is not None else None
        else:
            self.judge = judge or None

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
        """Yield ``retrieved`` (the first-stage clips, before the rerank), then ``token``
        events as the LLM writes, then the ``answer`` (whose ``retrieved`` are the reranked
        clips it was written from)."""
        question = check_question(question)
        k = k or self.k
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        query = self.standalone(question, history)
        timings["rewrite_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        candidates = self.retriever.candidates(query)
        timings["retrieval_s"] = time.perf_counter() - t1
        # The clips found are shown at once; the rerank (about a second on two cores) only
        # reorders them for the answer, which cites the clips it used.
        yield Event("retrieved", hits=tuple(candidates[:k]))
        t1 = time.perf_counter()
        ranked = self.retriever.rerank(query, candidates)
        timings["rerank_s"] = time.perf_counter() - t1
        hits = ranked[:k]
        # Evidence strength is the best similarity; the rerank may put another clip first.
        strength = max((h.score for h in hits), default=0.0)
        floor = (self.min_evidence if self.min_evidence is not None
                 else evidence_floor(self.retriever.embedder, query))
        if not hits or strength < floor:
            timings["total_s"] = time.perf_counter() - t0
            yield Event("answer", answer=Answer(question, query, REFUSAL_TEXT, True, (),
                                                tuple(hits), timings, gate="evidence"))
            return
        if self.llm is None:  # no LLM configured: quote the best clip
            answer = self._extractive(question, query, hits, timings)
            timings["total_s"] = time.perf_counter() - t0
            yield Event("answer", answer=answer)
            return
        t1 = time.perf_counter()
        passages = nearest_passages(query, hits, self.retriever.embedder, PASSAGES)
        timings["passages_s"] = time.perf_counter() - t1
        messages = build_messages(query, [p.text for p in passages])
        t2 = time.perf_counter()
        parts: list[str] = []
        for delta in self.llm.stream(messages, max_tokens=self.max_tokens, temperature=0.0):
            if not parts:
                timings["first_token_s"] = time.perf_counter() - t0
            parts.append(delta)
            yield Event("token", token=delta)
        timings["generation_s"] = time.perf_counter() - t2
        raw = "".join(parts)
        t3 = time.perf_counter()
        answer = self._finish(question, query, raw, hits, passages, timings)
        timings["check_s"] = time.perf_counter() - t3
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
                passages: Sequence[Passage], timings: dict[str, float]) -> Answer:
        # Support is checked against the cited passage alone: its seconds are what the user
        # will play to verify the sentence.
        texts = [p.text for p in passages]
        languages = [p.hit.clip.language for p in passages]
        # The question's own language first (an English question about a German reading is
        # checked as English); each passage is analysed in its own language.
        lang = detect_language(query) or (hits[0].clip.language if hits else None)
        embed = self.retriever.embedder.embed_texts
        judge = self.judge
        entails = None
        if judge is not None:
            def entails(sentence: str, passage: str) -> float:
                margin = judge.states(sentence, passage)
                timings["states_margin"] = min(margin, timings.get("states_margin", margin))
                return _sigmoid(margin)
        checked = check_answer(lead_marker_last(raw), texts, embed=embed, lang=lang,
                               source_languages=languages, entails=entails, question=query)
        checked = focus(checked, query, embed)
        if not checked:
            return self._fallback(question, query, hits, passages, timings, raw)
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
        citations = tuple(cite(new[n], passages[n - 1], _support_spans(checked, n))
                          for n in order)
        return Answer(question, query, text, False, citations, tuple(hits), timings, raw,
                      read=_spans_of(passages))

    def _fallback(self, question: str, query: str, hits: Sequence[Hit],
                  passages: Sequence[Passage], timings: dict[str, float],
                  raw: str) -> Answer:
        """The model's answer failed the checks: quote a passage the judge finds answering,
        or refuse when none does (or quote the nearest passage when there is no judge)."""
        if self.judge is None or not passages:
            return self._extractive(question, query, hits, timings, raw, passages,
                                    read=passages)
        t = time.perf_counter()
        judged = list(passages[:JUDGED_PASSAGES])
        best, margin = self.judge.best_answering(query, [p.text for p in judged])
        timings["judge_s"] = time.perf_counter() - t
        timings["answers_margin"] = margin
        if margin >= 0.0:
            return self._extractive(question, query, hits, timings, raw, [judged[best]],
                                    read=passages)
        return Answer(question, query, REFUSAL_TEXT, True, (), tuple(hits), timings, raw,
                      read=_spans_of(passages), gate="judge")

    def _extractive(self, question: str, query: str, hits: Sequence[Hit],
                    timings: dict[str, float], raw: str = "",
                    passages: Sequence[Passage] = (), *,
                    read: Sequence[Passage] = ()) -> Answer:
        """Quote the given passage, or the best clip's passage nearest the question; ``read``
        are the passages the model read before (none without an LLM)."""
        if not passages:
            passages = nearest_passages(query, hits[:1], self.retriever.embedder, 1)
        p = passages[0]
        where = f"{Path(p.hit.clip.media_path).name} at {fmt_time(p.seconds()[0])}"
        text = f"The closest passage is in {where}: \u201c{quote(p)}\u201d [1]."
        return Answer(question, query, text, False, (cite(1, p),), tuple(hits), timings, raw,
                      extractive=True, read=_spans_of(read or passages))


def evidence_floor(embedder: Embedder, question: str) -> float:
    """The best-clip similarity below which ``question`` is refused unread: the calibrated
    floor (:data:`~assistant.calibration.MIN_EVIDENCE`) of the embedder parts that read the
    question's language, or 0 (no floor) when any of them is uncalibrated."""
    lang = detect_language(question)
    parts: Sequence[Embedder] = getattr(embedder, "parts", (embedder,))
    used = [p for p in parts if reads_language(p.model_id, lang)]
    if not used or any(p.model_id not in MIN_EVIDENCE for p in used):
        return 0.0
    floor = sum(MIN_EVIDENCE[p.model_id] for p in used) / len(used)
    # A query routed to some parts of an ensemble scores sqrt(used/all) of their mean cosine
    # (the zero blocks still count in the stored vectors' norm).
    return floor * math.sqrt(len(used) / len(parts))


def _spans_of(passages: Sequence[Passage]) -> tuple[tuple[str, float, float], ...]:
    return tuple((p.hit.clip.media_path, *p.seconds()) for p in passages)


def _support_spans(checked: Sequence[CheckedSentence], n: int) -> list[tuple[int, int]]:
    """The character spans of source ``n`` that back the kept sentences."""
    return [(s.char_start, s.char_end) for c in checked for s in c.support if s.source == n]


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


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
