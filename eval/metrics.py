"""Eval metrics: pure functions over spans, ranks and per-question results.

Nothing here imports a model or a store, so the metrics can be unit-tested by hand and reused by
the runner, the report and the baseline alike.

Conventions used throughout:

* A *span* is ``(media, start, end)``: ``media`` is the indexed path or file name of a clip,
  ``start``/``end`` seconds from the start of that file. Retrieved clips may carry more fields
  (score, kind); only the first three are read.
* Files are compared by **file name**: the basename of the indexed path must equal ``gold.media``.
  Two files with the same name in different folders are therefore indistinguishable to the eval.
* A retrieved or cited span *hits* a gold span when it holds the core of it: an overlap of at
  least ``min(1 s, half the gold span)`` (:func:`core_overlap`), at any of the question's gold
  spans. A clip that grazes a span's edge plays none of the answer.
* An answer is judged on its own words (:func:`answer_words`): file names, clock times and
  citation markers are taken out first, so a quotation's file name never "answers" a question.
* A metric that is undefined for the input (a rate over zero questions, a precision over zero
  citations, a percentile of no timings) is ``None``, never ``NaN`` and never an exception, so it
  survives ``json.dumps`` and reads as "not measured" in a report.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eval.gold import GoldQuestion
from indexing.settings import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS

# Spans closer than this are treated as touching, not overlapping: times pass through float
# arithmetic and millisecond rounding (clip ids use 3 decimals), so 5.0 and 5.0000000001 are the
# same boundary.
MIN_OVERLAP_S = 1e-6
# How much of a gold span a clip must hold to count as finding it: a second of it, or half of a
# span shorter than two seconds (then the clip plays the core of the answer).
CORE_S = 1.0

Span = tuple[str, float, float]
RetrievedClip = tuple[str, float, float, float, str]  # media, start, end, score, kind
SpanLike = Span | RetrievedClip  # span functions read the first three fields of either


def _check_span(start: float, end: float) -> None:
    if math.isnan(start) or math.isnan(end):
        raise ValueError(f"span times must be numbers, got ({start}, {end})")
    if start > end:
        raise ValueError(f"span start {start} is after its end {end}")


def overlap(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    """Seconds shared by the closed spans ``[a_start, a_end]`` and ``[b_start, b_end]``.

    ``max(0, min(a_end, b_end) - max(a_start, b_start))``: 0.0 for disjoint spans, for spans that
    only touch at one point, and whenever either span has zero length. Raises ``ValueError`` if a
    span ends before it starts or a time is NaN.
    """
    _check_span(a_start, a_end)
    _check_span(b_start, b_end)
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def temporal_iou(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    """Temporal intersection over union of two spans, in ``[0, 1]``.

    ``overlap / (len(a) + len(b) - overlap)``. When the union has zero length (both spans are the
    same instant, or two instants) the IoU is 1.0 if they are the same instant and 0.0 otherwise.
    An instant against a span of positive length has IoU 0.0, even when it lies inside the span.
    """
    inter = overlap(a_start, a_end, b_start, b_end)
    union = (a_end - a_start) + (b_end - b_start) - inter
    if union <= 0.0:
        return 1.0 if (a_start == b_start and a_end == b_end) else 0.0
    return inter / union


def media_name(media: str) -> str:
    """The file name of an indexed path, POSIX or Windows separators: ``a/b/c.ogg`` → ``c.ogg``."""
    return re.split(r"[/\\]", str(media))[-1]


def core_overlap(g_start: float, g_end: float) -> float:
    """The seconds of the gold span ``[g_start, g_end]`` a span must hold to find it:
    ``min(1 s, half the gold span)``."""
    return min(CORE_S, (g_end - g_start) / 2.0)


def _spans_hit(start: float, end: float, g_start: float, g_end: float) -> bool:
    _check_span(start, end)
    _check_span(g_start, g_end)
    # An instant cannot overlap anything by a positive amount, so for zero-length spans "hit"
    # means the instant lies inside the other span, ends included.
    if g_end - g_start <= 0.0:
        return start <= g_start <= end
    if end - start <= 0.0:
        return g_start <= start <= g_end
    shared = overlap(start, end, g_start, g_end)
    return shared > MIN_OVERLAP_S and shared >= core_overlap(g_start, g_end) - MIN_OVERLAP_S


def is_hit(media: str, start: float, end: float, gold: GoldQuestion) -> bool:
    """Whether the span ``(media, start, end)`` points at the answer of ``gold``.

    True when the file name of ``media`` equals the file of one of ``gold``'s spans
    (:attr:`~eval.gold.GoldQuestion.gold_spans`: the main one and its alternates) and the span
    holds the core of it: at least :func:`core_overlap` seconds (a second, or half a span
    shorter than two). Spans that merely touch or graze the edge are *not* hits: such a clip
    plays none of the answer. A zero-length span (an instant) is a hit when it lies within the
    other span, ends included. Always False for an unanswerable question. Right times in the
    wrong file are not a hit.
    """
    name = media_name(media)
    return any(name == g_media and _spans_hit(start, end, g0, g1)
               for g_media, g0, g1 in gold.gold_spans)


def rank_of_first_hit(retrieved: Sequence[SpanLike], gold: GoldQuestion) -> int | None:
    """The 1-based rank of the first retrieved span that :func:`is_hit` ``gold`` (any of its
    spans), else ``None``.

    ``retrieved`` is in rank order, best first. ``None`` for an empty list, for no hit, and for an
    unanswerable question.
    """
    # Extra fields (score, kind) are tolerated so ranked RetrievedClip tuples can be passed as-is.
    for rank, (media, start, end, *_) in enumerate(retrieved, start=1):
        if is_hit(media, start, end, gold):
            return rank
    return None


def set_recall(retrieved: Sequence[SpanLike], gold: GoldQuestion, k: int) -> float | None:
    """Share of ``gold``'s spans (:attr:`GoldQuestion.gold_spans`) that one of the first ``k``
    retrieved spans hits (same file, the core of the span, as :func:`is_hit`); None when the
    question has no gold span (unanswerable)."""
    spans = gold.gold_spans
    if not spans:
        return None
    top = list(retrieved)[:k]
    found = sum(1 for media, g0, g1 in spans
                if any(media_name(m) == media and _spans_hit(s, e, g0, g1)
                       for m, s, e, *_ in top))
    return found / len(spans)


def recall_at_k(ranks: Sequence[int | None], k: int) -> float | None:
    """Share of questions whose first hit is at rank ``<= k``.

    ``ranks`` holds one entry per answerable question: the rank of the first hit, or ``None`` when
    nothing retrieved was a hit (which counts as a miss). ``None`` when ``ranks`` is empty.
    Raises ``ValueError`` for ``k < 1``.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not ranks:
        return None
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr(ranks: Sequence[int | None]) -> float | None:
    """Mean reciprocal rank: the mean of ``1 / rank`` with ``None`` (no hit) counting as 0.

    One entry per answerable question, as for :func:`recall_at_k`. ``None`` when ``ranks`` is
    empty.
    """
    if not ranks:
        return None
    return sum(1.0 / r for r in ranks if r is not None) / len(ranks)


def best_iou(retrieved: Sequence[SpanLike], gold: GoldQuestion) -> float:
    """The highest temporal IoU with the gold span among the retrieved spans that are hits.

    Only hits count (right file, positive overlap), so a long clip in the wrong file never scores.
    0.0 when nothing retrieved is a hit, and for an unanswerable question.
    """
    if gold.start is None or gold.end is None:
        return 0.0
    return max((temporal_iou(s, e, gold.start, gold.end)
                for m, s, e, *_ in retrieved if is_hit(m, s, e, gold)), default=0.0)


def mean_best_iou(retrievals: Sequence[Sequence[SpanLike]],
                  golds: Sequence[GoldQuestion]) -> float | None:
    """Mean of :func:`best_iou` over the answerable questions.

    ``retrievals[i]`` is the ranked list retrieved for ``golds[i]``. Unanswerable questions are
    skipped; an answerable question without any hit contributes 0.0, so the figure measures both
    finding the moment and cutting it tightly. ``None`` when there is no answerable question.
    Raises ``ValueError`` if the two sequences differ in length.
    """
    if len(retrievals) != len(golds):
        raise ValueError(f"{len(retrievals)} retrievals for {len(golds)} gold questions")
    ious = [best_iou(r, g) for r, g in zip(retrievals, golds, strict=True) if g.answerable]
    if not ious:
        return None
    return sum(ious) / len(ious)


def citation_iou(records: Sequence[QuestionResult]) -> float | None:
    """Mean best temporal IoU between an answer's cited spans and the gold span.

    Over answerable questions answered with at least one citation: how tightly the seconds a
    user is sent to match the answer's moment (0 when no citation hits it). ``None`` when no
    such question.
    """
    ious = [best_iou(r.citations, r.gold) for r in records
            if r.gold.answerable and not r.refused and r.citations]
    return sum(ious) / len(ious) if ious else None


def citation_precision(citations: Sequence[Sequence[SpanLike]],
                       golds: Sequence[GoldQuestion]) -> float | None:
    """Share of citations that :func:`is_hit` their question's gold span, pooled (micro-averaged).

    ``citations[i]`` are the citations of the answer to ``golds[i]``. Only answerable questions
    contribute: citations given for an unanswerable question are judged by refusal accuracy
    instead. Every citation counts once, whether or not the answer was flagged as refused, so a
    question with many citations weighs more than one with few. A question with no citations
    adds nothing to either side of the ratio (an answer with nothing cited is caught by the answer
    and refusal metrics, not here). ``None`` when there is no citation at all on answerable
    questions. Raises ``ValueError`` if the two sequences differ in length.
    """
    if len(citations) != len(golds):
        raise ValueError(f"{len(citations)} citation lists for {len(golds)} gold questions")
    total = correct = 0
    for cited, gold in zip(citations, golds, strict=True):
        if not gold.answerable:
            continue
        for media, start, end, *_ in cited:
            total += 1
            correct += is_hit(media, start, end, gold)
    if total == 0:
        return None
    return correct / total


_APOSTROPHES = re.compile(r"['’‘`´]")
_DIGIT_GROUPING = re.compile(r"(?<=\d),(?=\d{3}\b)")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def normalize_text(text: str) -> str:
    """Text reduced for matching: case-folded, accents removed, apostrophes dropped, thousands
    commas removed, any other run of non-alphanumerics turned into one space, then stripped.

    ``"Didn't  sleep!"`` → ``"didnt sleep"``, ``"Ilan Ramón"`` → ``"ilan ramon"``,
    ``"1,000 m/s"`` → ``"1000 m s"``, ``"cold-hearted"`` → ``"cold hearted"``.
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    no_accents = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    joined = _DIGIT_GROUPING.sub("", _APOSTROPHES.sub("", no_accents))
    return _NON_WORD.sub(" ", joined).strip()


_MEDIA_FILE = re.compile(
    r"[^\s\"\u201c\u201d]+\.(?:" + "|".join(
        sorted(e.lstrip(".") for e in (*VIDEO_EXTENSIONS, *AUDIO_EXTENSIONS))) + r")\b",
    re.IGNORECASE)
_CLOCK = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?\b")
# The two words of a yes/no answer, in the languages of the test media.
_POLARITY = {"yes": "yes", "ja": "yes", "no": "no", "nein": "no"}


def answer_words(answer: str) -> str:
    """``answer`` without what is not its own words: citation markers, media file names and
    clock times (a quotation names its file and second, and the file name of one of the Popeye
    films would otherwise "answer" a question whose expected word is Sinbad)."""
    return _CLOCK.sub(" ", _MEDIA_FILE.sub(" ", _CITATION_MARKER.sub(" ", answer)))


def answer_hit(answer: str, expect: Sequence[str], *, every: bool = False) -> bool:
    """Whether ``answer`` holds the expected answer, judged on :func:`answer_words`.

    Both sides go through :func:`normalize_text`; an item matches when its normalised words occur
    consecutively in the normalised answer, on word boundaries (``"ten"`` is not found in
    ``"often"``, ``"class"`` is not found in ``"classes"``). Any item is enough, or every item with
    ``every`` (a list question). When an item is a yes or a no (``yes``, ``no``, ``ja``,
    ``nein``: a yes/no question, whose other items only name the fact that settles it), the
    answer must *start* with that polarity, in either language: "No, the crew did not return"
    hits ``["no"]``, a quotation that happens to hold a "no" does not. Items that
    normalise to nothing never match. False for an empty ``expect``.
    """
    words = normalize_text(answer_words(answer))
    needles = [normalize_text(item) for item in expect]
    needles = [n for n in needles if n]
    if not needles:
        return False
    polar = {_POLARITY[n] for n in needles if n in _POLARITY}
    if polar:  # a yes/no question: answered by the first word, whatever else the answer says
        first = words.split(" ", 1)[0]
        return first in _POLARITY and _POLARITY[first] in polar
    padded = f" {words} "
    found = [f" {n} " in padded for n in needles]
    return all(found) if every else any(found)


def gold_answer_hit(answer: str, gold: GoldQuestion) -> bool:
    """:func:`answer_hit` with the gold question's own rule (every item for a list question)."""
    return answer_hit(answer, gold.expect, every=gold.expect_all)


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


# Spelled-out numbers that state a quantity. "one"/"ein"/"eine" are left out on purpose: they are
# mostly pronouns and articles ("no one", "one of them", "eine Lizenz"), and counting them would
# call most English and German sentences a number.
_NUMBER_WORDS = frozenset("""
    two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen
    seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
    thousand million billion dozen dozens hundreds thousands millions
    zwei drei vier funf fuenf sechs sieben acht neun zehn elf zwolf zwoelf zwanzig dreissig
    vierzig funfzig fuenfzig hundert tausend millionen
""".split())
_HAS_DIGIT = re.compile(r"\d")
_CITATION_MARKER = re.compile(r"\[\d+\]")


def states_number(text: str) -> bool:
    """Whether ``text`` states a number: a digit, or a spelled-out number word (English or
    German, two and up; see :data:`_NUMBER_WORDS` for why "one" does not count).

    Citation markers (``[1]``) are not numbers. ``"A crew of 7 [1]."`` and ``"about twenty
    metres"`` state numbers, ``"No one knows [2]."`` does not. Words are compared after
    :func:`normalize_text` (``"fünf"`` → ``"funf"``).
    """
    text = _CITATION_MARKER.sub(" ", text)
    if _HAS_DIGIT.search(text):
        return True
    return any(word in _NUMBER_WORDS for word in normalize_text(text).split())


def extractive_rate(records: Sequence[QuestionResult]) -> float | None:
    """Share of non-refused answers that are the quote fallback (``extractive``).

    Counted over every question that got an answer, answerable or not: it measures how often the
    LLM's own text survived the citation check. ``None`` when every question was refused.
    """
    return _share([r.extractive for r in records if not r.refused])


def raw_answer_hit_rate(records: Sequence[QuestionResult]) -> float | None:
    """Share of answerable questions whose *unchecked* LLM output holds an ``expect`` item.

    Only questions where the LLM wrote something (``raw`` not empty) count, refused or not after
    checking: set beside ``answer_hit_rate`` it shows whether the model or the checking lost a
    correct answer. ``None`` when the LLM answered no answerable question.
    """
    return _share([gold_answer_hit(r.raw, r.gold)
                   for r in records if r.gold.answerable and r.raw.strip()])


def invented_number_rate(records: Sequence[QuestionResult]) -> float | None:
    """Share of *unanswerable* questions given an answer of the LLM's own that states a number.

    A number in an answer the collection cannot support is, by construction, invented (or taken
    from an unrelated clip). A quote fallback (``extractive``) is not counted: it quotes a clip
    verbatim, and its file name and time would read as numbers; answering at all is already a
    miss of ``refusal_accuracy``. ``None`` when there is no unanswerable question.
    """
    return _share([not r.refused and not r.extractive and states_number(r.answer)
                   for r in records if not r.gold.answerable])


def refusal_accuracy(refused: Sequence[bool], golds: Sequence[GoldQuestion]) -> float | None:
    """Share of *unanswerable* questions that were refused; ``None`` if there are none.

    ``refused[i]`` is the refusal flag of the answer to ``golds[i]``.
    """
    if len(refused) != len(golds):
        raise ValueError(f"{len(refused)} refusal flags for {len(golds)} gold questions")
    return _share([r for r, g in zip(refused, golds, strict=True) if not g.answerable])


def false_refusal_rate(refused: Sequence[bool], golds: Sequence[GoldQuestion]) -> float | None:
    """Share of *answerable* questions that were refused; ``None`` if there are none."""
    if len(refused) != len(golds):
        raise ValueError(f"{len(refused)} refusal flags for {len(golds)} gold questions")
    return _share([r for r, g in zip(refused, golds, strict=True) if g.answerable])


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks.

    Same definition as ``numpy.percentile(..., method="linear")``: position ``(n - 1) * q / 100``
    in the sorted values. ``None`` for no values. Raises ``ValueError`` for ``q`` outside 0-100.
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0-100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_summary(values: Sequence[float | None]) -> dict[str, float | None]:
    """``{"p50", "p95", "mean"}`` of timings in seconds; ``None`` entries (not measured) are
    skipped, and every figure is ``None`` when nothing was measured."""
    measured = [v for v in values if v is not None]
    return {
        "p50": percentile(measured, 50),
        "p95": percentile(measured, 95),
        "mean": sum(measured) / len(measured) if measured else None,
    }


@dataclass(frozen=True, slots=True)
class QuestionResult:
    """What the system did for one gold question.

    ``retrieved`` is the ranked list of clips (best first) as ``(media, start, end, score, kind)``;
    ``citations`` are the ``(media, start, end)`` of the clips the answer cites. ``refused`` is the
    system's own refusal flag. Timings are seconds, ``None`` when the step did not run (e.g. a
    retrieval-only baseline has no generation). ``extractive`` marks an answer that is the quote
    fallback (the LLM's text failed the citation check, or no LLM ran); ``raw`` is what the LLM
    wrote before any checking, ``""`` when it wrote nothing (a refusal before generation, a
    retrieval-only run). ``read`` are the spans of the passages the answering model read (empty
    when it read none), and ``gate`` names what refused the question (``evidence``: no clip was
    close enough to read; ``judge``: the model's answer failed the checks and no passage was
    judged to answer; ``""``: not refused). Lists passed in are stored as tuples so a result
    stays immutable.
    """

    gold: GoldQuestion
    retrieved: Sequence[RetrievedClip]
    answer: str
    refused: bool
    citations: Sequence[Span]
    retrieval_s: float | None = None
    generation_s: float | None = None
    extractive: bool = False  # the answer is the quote fallback, not the LLM's checked text
    raw: str = ""  # the LLM's unchecked output; empty when no LLM wrote anything
    read: Sequence[Span] = ()  # the passages the answering model read
    gate: str = ""  # what refused the question; "" when it was answered

    def __post_init__(self) -> None:
        # Accept lists (e.g. straight from JSON) but keep the frozen result truly immutable.
        object.__setattr__(self, "retrieved", tuple(tuple(r) for r in self.retrieved))
        object.__setattr__(self, "citations", tuple(tuple(c) for c in self.citations))
        object.__setattr__(self, "read", tuple(tuple(c) for c in self.read))

    @property
    def retrieved_spans(self) -> list[Span]:
        """The retrieved clips as ``(media, start, end)``, in rank order."""
        return [(m, s, e) for m, s, e, *_ in self.retrieved]


def passage_hit(record: QuestionResult) -> bool:
    """Whether a passage the answering model read holds the core of the gold span."""
    return any(is_hit(m, s, e, record.gold) for m, s, e, *_ in record.read)


def refusals_by_gate(records: Sequence[QuestionResult]) -> dict[str, dict[str, int]]:
    """How many refusals each gate made, apart for answerable (false refusals) and unanswerable
    questions: ``{"answerable": {gate: n}, "unanswerable": {gate: n}}``."""
    out: dict[str, dict[str, int]] = {"answerable": {}, "unanswerable": {}}
    for r in records:
        if r.refused:
            side = out["answerable" if r.gold.answerable else "unanswerable"]
            gate = r.gate or "unknown"
            side[gate] = side.get(gate, 0) + 1
    return out


# Each headline rate as a sum over questions: (numerator, denominator) per question, so a
# bootstrap can resample questions and recompute the rate (a ratio of sums, as pooled).
Contribution = tuple[float, float]


def contributions(record: QuestionResult, answered: bool = True) -> dict[str, Contribution]:
    """What one question adds to each rate of :func:`summarize`: ``(numerator, denominator)``,
    ``(0, 0)`` where it does not count. Summing a key over questions and dividing gives the
    rate; resampling questions gives its bootstrap interval (:mod:`eval.stats`)."""
    g = record.gold
    rank = rank_of_first_hit(record.retrieved_spans, g) if g.answerable else None
    ans = 1.0 if g.answerable else 0.0
    out: dict[str, Contribution] = {
        "recall@1": (float(rank == 1), ans),
        "recall@3": (float(rank is not None and rank <= 3), ans),
        "recall@5": (float(rank is not None and rank <= 5), ans),
        "mrr": (1.0 / rank if rank else 0.0, ans),
    }
    if not answered:
        return out
    cited = [is_hit(m, s, e, g) for m, s, e, *_ in record.citations] if g.answerable else []
    hit = g.answerable and not record.refused and gold_answer_hit(record.answer, g)
    read = g.answerable and passage_hit(record)
    out |= {k: (n if d else 0.0, d) for k, (n, d) in {
        "passage_recall": (float(read), ans),
        "answer_hit_rate": (float(hit), ans),
        "answer_hit_when_read": (float(hit), float(read)),
        "refusal_accuracy": (float(record.refused), 1.0 - ans),
        "false_refusal_rate": (float(record.refused), ans),
        "citation_precision": (float(sum(cited)), float(len(cited))),
        "citation_precision_model": (float(sum(cited)), float(len(cited)))
        if not record.extractive else (0.0, 0.0),
        "citation_precision_quote": (float(sum(cited)), float(len(cited)))
        if record.extractive else (0.0, 0.0),
        "extractive_rate": (float(record.extractive), float(not record.refused)),
    }.items()}  # a question outside a rate's denominator adds nothing to its numerator
    return out


def rate(values: Sequence[Contribution]) -> float | None:
    """The rate a list of :func:`contributions` makes; None over an empty denominator."""
    den = sum(d for _, d in values)
    return sum(n for n, _ in values) / den if den else None


def summarize(records: Sequence[QuestionResult]) -> dict[str, Any]:
    """The metrics dict for one run.

    Keys: ``n`` (questions), ``recall@1``, ``recall@3`` (the clips the answering model reads),
    ``recall@5``, ``mrr``, ``mean_iou`` (retrieval, over answerable questions),
    ``citation_precision`` (pooled over citations of answerable questions), and apart for the
    model's own sentences and for quotations (``citation_precision_model``/``_quote``),
    ``passage_recall`` (share of answerable questions where a passage the model read holds the
    gold span), ``answer_hit_rate`` (share of answerable questions whose answer was not refused
    and holds the expected answer, see :func:`gold_answer_hit` — a refusal that echoes the
    question's words is no answer), ``answer_hit_when_read`` (the same over the questions whose
    passages held the answer), ``refusals_by_gate`` (see :func:`refusals_by_gate`),
    ``refusal_accuracy`` (over unanswerable questions), ``false_refusal_rate`` (over answerable
    questions), ``extractive_rate`` (see :func:`extractive_rate`), ``raw_answer_hit_rate`` (see
    :func:`raw_answer_hit_rate`), ``invented_number_rate`` (see :func:`invented_number_rate`)
    and ``latency``: ``{"retrieval": {...}, "generation": {...}}`` each as
    :func:`latency_summary`. Every figure that is undefined for the run (e.g. no unanswerable
    question, no citation, no records) is ``None``.
    """
    golds = [r.gold for r in records]
    answerable = [r for r in records if r.gold.answerable]
    ranks = [rank_of_first_hit(r.retrieved_spans, r.gold) for r in answerable]
    refused = [r.refused for r in records]
    hits = [not r.refused and gold_answer_hit(r.answer, r.gold) for r in answerable]
    parts = [contributions(r) for r in records]
    return {
        "n": len(records),
        "recall@1": recall_at_k(ranks, 1),
        "recall@3": recall_at_k(ranks, 3),
        "recall@5": recall_at_k(ranks, 5),
        "mrr": mrr(ranks),
        "mean_iou": mean_best_iou([r.retrieved_spans for r in records], golds),
        "citation_precision": citation_precision([r.citations for r in records], golds),
        "citation_precision_model": rate([p["citation_precision_model"] for p in parts]),
        "citation_precision_quote": rate([p["citation_precision_quote"] for p in parts]),
        "passage_recall": rate([p["passage_recall"] for p in parts]),
        "answer_hit_when_read": rate([p["answer_hit_when_read"] for p in parts]),
        "refusals_by_gate": refusals_by_gate(records),
        "citation_iou": citation_iou(records),
        "answer_hit_rate": _share(hits),
        "refusal_accuracy": refusal_accuracy(refused, golds),
        "false_refusal_rate": false_refusal_rate(refused, golds),
        "extractive_rate": extractive_rate(records),
        "raw_answer_hit_rate": raw_answer_hit_rate(records),
        "invented_number_rate": invented_number_rate(records),
        "latency": {
            "retrieval": latency_summary([r.retrieval_s for r in records]),
            "generation": latency_summary([r.generation_s for r in records]),
        },
    }
