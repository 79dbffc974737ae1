"""Eval metrics and the gold loader, on cases small enough to compute by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from eval.gold import GoldQuestion, load_gold
from eval.metrics import (
    QuestionResult,
    answer_hit,
    best_iou,
    citation_precision,
    false_refusal_rate,
    is_hit,
    latency_summary,
    mean_best_iou,
    mrr,
    normalize_text,
    overlap,
    percentile,
    rank_of_first_hit,
    recall_at_k,
    refusal_accuracy,
    states_number,
    summarize,
    temporal_iou,
)
from indexing.media import probe
from tests.support import REPO

FILE = "gwb_columbia_address_2003.ogg"
OTHER = "lewin_physicsworks_lecture_audio.webm"


def gold(qid: str = "q", media: str = FILE, start: float = 10.0, end: float = 20.0,
         expect: tuple[str, ...] = ("Houston",)) -> GoldQuestion:
    return GoldQuestion(id=qid, question="?", media=media, start=start, end=end, expect=expect,
                        answerable=True)


def unanswerable(qid: str = "u") -> GoldQuestion:
    return GoldQuestion(id=qid, question="?", media=None, start=None, end=None, expect=(),
                        answerable=False)


# --- overlap / IoU ------------------------------------------------------------------------------

@pytest.mark.parametrize(("a", "b", "want"), [
    ((0, 10), (5, 15), 5.0),      # partial
    ((0, 10), (2, 4), 2.0),       # b inside a
    ((2, 4), (0, 10), 2.0),       # a inside b
    ((0, 5), (5, 10), 0.0),       # touching at one point
    ((0, 5), (6, 10), 0.0),       # disjoint
    ((3, 3), (0, 10), 0.0),       # an instant inside a span
    ((0, 10), (0, 10), 10.0),     # identical
])
def test_overlap(a: tuple[float, float], b: tuple[float, float], want: float) -> None:
    assert overlap(*a, *b) == want
    assert overlap(*b, *a) == want


def test_overlap_rejects_reversed_or_nan_spans() -> None:
    with pytest.raises(ValueError, match="after its end"):
        overlap(5, 1, 0, 10)
    with pytest.raises(ValueError):
        overlap(math.nan, 1, 0, 10)


def test_temporal_iou_by_hand() -> None:
    assert temporal_iou(0, 10, 5, 15) == pytest.approx(5 / 15)
    assert temporal_iou(0, 10, 2, 4) == pytest.approx(2 / 10)
    assert temporal_iou(0, 5, 5, 10) == 0.0
    assert temporal_iou(0, 10, 0, 10) == 1.0
    # Zero-length spans: same instant is a perfect match, an instant inside a span is not.
    assert temporal_iou(3, 3, 3, 3) == 1.0
    assert temporal_iou(3, 3, 4, 4) == 0.0
    assert temporal_iou(3, 3, 0, 10) == 0.0


# --- hits ---------------------------------------------------------------------------------------

def test_hit_needs_positive_overlap_in_the_right_file() -> None:
    g = gold(start=10, end=20)
    assert is_hit(FILE, 15, 25, g)
    assert is_hit(FILE, 0, 100, g)                      # containment
    assert is_hit(FILE, 12, 13, g)
    assert not is_hit(FILE, 0, 10, g)                   # touches the start
    assert not is_hit(FILE, 20, 30, g)                  # touches the end
    assert not is_hit(FILE, 0, 10 + 1e-9, g)            # float noise is still touching
    assert not is_hit(FILE, 30, 40, g)                  # disjoint
    assert not is_hit(OTHER, 10, 20, g)                 # right times, wrong file


def test_hit_compares_file_names_not_paths() -> None:
    g = gold()
    assert is_hit(f"/srv/archive/footage/{FILE}", 12, 14, g)
    assert is_hit(f"C:\\footage\\{FILE}", 12, 14, g)
    assert not is_hit(f"/srv/{FILE}.bak", 12, 14, g)
    assert not is_hit(f"/srv/x_{FILE}", 12, 14, g)


def test_zero_length_gold_is_hit_by_a_clip_containing_the_instant() -> None:
    g = gold(start=5, end=5)
    assert is_hit(FILE, 0, 10, g)
    assert is_hit(FILE, 0, 5, g)        # the instant is the clip's last moment
    assert is_hit(FILE, 5, 10, g)
    assert is_hit(FILE, 5, 5, g)
    assert not is_hit(FILE, 6, 10, g)
    assert best_iou([(FILE, 0, 10)], g) == 0.0   # found, but an instant has no IoU with a span


def test_zero_length_clip_inside_gold_is_a_hit() -> None:
    g = gold(start=10, end=20)
    assert is_hit(FILE, 15, 15, g)
    assert is_hit(FILE, 20, 20, g)
    assert not is_hit(FILE, 25, 25, g)


def test_unanswerable_gold_is_never_hit() -> None:
    assert not is_hit(FILE, 0, 100, unanswerable())
    assert rank_of_first_hit([(FILE, 0, 100)], unanswerable()) is None


# --- ranks → R@k, MRR, IoU ----------------------------------------------------------------------

def test_rank_of_first_hit() -> None:
    g = gold(start=10, end=20)
    retrieved = [(OTHER, 10, 20), (FILE, 0, 10), (FILE, 18, 30), (FILE, 11, 19)]
    assert rank_of_first_hit(retrieved, g) == 3
    assert rank_of_first_hit([], g) is None
    assert rank_of_first_hit([(OTHER, 10, 20)], g) is None


def test_recall_and_mrr_by_hand() -> None:
    ranks = [1, 3, None, 6, 2]
    assert recall_at_k(ranks, 1) == pytest.approx(1 / 5)
    assert recall_at_k(ranks, 5) == pytest.approx(3 / 5)
    assert recall_at_k(ranks, 10) == pytest.approx(4 / 5)
    assert mrr(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 / 6 + 1 / 2) / 5)


def test_recall_and_mrr_degenerate() -> None:
    assert recall_at_k([], 5) is None
    assert mrr([]) is None
    assert recall_at_k([None, None], 5) == 0.0
    assert mrr([None]) == 0.0
    with pytest.raises(ValueError):
        recall_at_k([1], 0)


def test_best_iou_uses_only_hits_and_takes_the_best() -> None:
    g = gold(start=10, end=20)
    retrieved = [(FILE, 15, 25), (OTHER, 10, 20), (FILE, 10, 22)]
    # (15,25): 5/15; the other file's perfect span does not count; (10,22): 10/12
    assert best_iou(retrieved, g) == pytest.approx(10 / 12)
    assert best_iou([], g) == 0.0


def test_mean_best_iou_skips_unanswerable_and_counts_misses_as_zero() -> None:
    golds = [gold("a", start=10, end=20), gold("b", start=0, end=4), unanswerable()]
    retrievals = [[(FILE, 10, 20)], [(FILE, 50, 60)], [(FILE, 0, 100)]]
    assert mean_best_iou(retrievals, golds) == pytest.approx((1.0 + 0.0) / 2)
    assert mean_best_iou([[]], [unanswerable()]) is None
    assert mean_best_iou([], []) is None
    with pytest.raises(ValueError):
        mean_best_iou([[]], [])


# --- citations, answers, refusals ---------------------------------------------------------------

def test_citation_precision_is_pooled_over_answerable_questions() -> None:
    golds = [gold("a", start=10, end=20), gold("b", start=30, end=40), unanswerable()]
    cites = [
        [(FILE, 12, 18), (FILE, 0, 10)],                     # 1 of 2 (second only touches)
        [(FILE, 35, 45), (FILE, 31, 32), (OTHER, 30, 40)],   # 2 of 3
        [(FILE, 0, 100)],                                    # unanswerable: not counted
    ]
    assert citation_precision(cites, golds) == pytest.approx(3 / 5)


def test_citation_precision_without_citations_is_none() -> None:
    assert citation_precision([[], []], [gold("a"), gold("b")]) is None
    assert citation_precision([[(FILE, 0, 1)]], [unanswerable()]) is None
    assert citation_precision([], []) is None
    # A question with no citations adds nothing; the other one decides.
    assert citation_precision([[], [(FILE, 12, 13)]], [gold("a"), gold("b")]) == 1.0


@pytest.mark.parametrize(("answer", "expect", "want"), [
    ("Contact was lost by Mission Control in HOUSTON.", ["houston"], True),
    ("It was lost at 9 o'clock.", ["nine", "9"], True),
    ("He says he didn\u2019t sleep all night.", ["didn't sleep"], True),
    ("He says he didnt sleep.", ["didn't sleep"], True),
    ("The fault was being cold-hearted", ["cold hearted"], True),
    ("cold   hearted,\nand selfish", ["cold-hearted"], True),
    ("Ilan Ramón of the Israeli Air Force", ["Ilan Ramon"], True),
    ("It was 1,000 metres", ["1000"], True),
    ("He says this often.", ["ten"], False),                   # not inside another word
    ("apostle of the middle classes", ["middle class"], False),  # whole words only
    ("apostle of the middle classes", ["middle class", "middle classes"], True),
    ("The crew of Columbia", ["Houston", "Texas"], False),
    ("anything", [], False),
    ("", ["Houston"], False),
])
def test_answer_hit(answer: str, expect: list[str], want: bool) -> None:
    assert answer_hit(answer, expect) is want


def test_normalize_text() -> None:
    assert normalize_text("  Didn't\tSLEEP!! ") == "didnt sleep"
    assert normalize_text("E = m·c²") == "e m c2"
    assert normalize_text("...") == ""


def test_refusal_rates() -> None:
    golds = [gold("a"), gold("b"), gold("c"), gold("d"), unanswerable("u1"), unanswerable("u2")]
    refused = [True, False, False, False, True, False]
    assert refusal_accuracy(refused, golds) == pytest.approx(1 / 2)
    assert false_refusal_rate(refused, golds) == pytest.approx(1 / 4)
    assert refusal_accuracy([False], [gold()]) is None
    assert false_refusal_rate([True], [unanswerable()]) is None


def test_latency_summary() -> None:
    assert latency_summary([]) == {"p50": None, "p95": None, "mean": None}
    assert latency_summary([None, None]) == {"p50": None, "p95": None, "mean": None}
    assert latency_summary([2.0]) == {"p50": 2.0, "p95": 2.0, "mean": 2.0}
    got = latency_summary([0.4, 0.1, 0.3, 0.2, None])
    assert got["p50"] == pytest.approx(0.25)
    assert got["p95"] == pytest.approx(0.3 + 0.1 * 0.85)   # position 3 * 0.95 = 2.85
    assert got["mean"] == pytest.approx(0.25)
    assert percentile(list(range(1, 11)), 100) == 10
    assert percentile(list(range(1, 11)), 0) == 1
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# --- summarize ----------------------------------------------------------------------------------

KEYS = {"n", "recall@1", "recall@3", "recall@5", "mrr", "mean_iou", "citation_precision",
        "citation_precision_model", "citation_precision_quote", "passage_recall",
        "answer_hit_when_read", "refusals_by_gate", "citation_iou", "answer_hit_rate",
        "refusal_accuracy", "false_refusal_rate", "extractive_rate", "raw_answer_hit_rate",
        "invented_number_rate", "latency"}


def result(g: GoldQuestion, retrieved: list[tuple[str, float, float]], answer: str = "",
           refused: bool = False, citations: list[tuple[str, float, float]] | None = None,
           retrieval_s: float | None = 0.1, generation_s: float | None = 1.0,
           extractive: bool = False, raw: str = "") -> QuestionResult:
    return QuestionResult(
        gold=g, retrieved=[(m, s, e, 1.0, "speech") for m, s, e in retrieved], answer=answer,
        refused=refused, citations=citations or [], retrieval_s=retrieval_s,
        generation_s=generation_s, extractive=extractive, raw=raw)


def test_summarize_by_hand() -> None:
    g1, g2, g3 = gold("a", start=10, end=20), gold("b", start=30, end=40), gold("c", start=0, end=5)
    records = [
        # rank 1, IoU 1, answer right, citation right
        result(g1, [(FILE, 10, 20)], "Houston [1]", citations=[(FILE, 10, 20)],
               retrieval_s=0.1, generation_s=1.0),
        # rank 2, best IoU 5/15, answer wrong, one of two citations right
        result(g2, [(OTHER, 30, 40), (FILE, 35, 45)], "Texas [1][2]",
               citations=[(FILE, 35, 45), (OTHER, 30, 40)], retrieval_s=0.3, generation_s=3.0),
        # never found, refused: no answer hit even though the refusal echoes "Houston"
        result(g3, [(FILE, 50, 60)], "The collection does not say what Houston did.",
               refused=True, retrieval_s=0.2, generation_s=None),
        result(unanswerable("u1"), [(FILE, 0, 5)], "No idea.", refused=True,
               retrieval_s=0.4, generation_s=None),
        result(unanswerable("u2"), [(FILE, 0, 5)], "Houston [1]", citations=[(FILE, 0, 5)],
               retrieval_s=0.5, generation_s=2.0),
    ]
    s = summarize(records)
    assert set(s) == KEYS
    assert s["n"] == 5
    assert s["recall@1"] == pytest.approx(1 / 3)
    assert s["recall@5"] == pytest.approx(2 / 3)
    assert s["mrr"] == pytest.approx((1 + 1 / 2 + 0) / 3)
    assert s["mean_iou"] == pytest.approx((1 + 5 / 15 + 0) / 3)
    assert s["citation_precision"] == pytest.approx(2 / 3)
    # cited spans vs gold, over the answered answerable questions: 1 and 5/15
    assert s["citation_iou"] == pytest.approx((1 + 5 / 15) / 2)
    assert s["answer_hit_rate"] == pytest.approx(1 / 3)
    assert s["refusal_accuracy"] == pytest.approx(1 / 2)
    assert s["false_refusal_rate"] == pytest.approx(1 / 3)
    assert s["extractive_rate"] == 0.0          # three answers given, none a quote fallback
    assert s["raw_answer_hit_rate"] is None     # no LLM output recorded
    assert s["invented_number_rate"] == 0.0     # "Houston [1]": the marker is no number
    assert s["latency"]["retrieval"]["p50"] == pytest.approx(0.3)
    assert s["latency"]["retrieval"]["mean"] == pytest.approx(0.3)
    assert s["latency"]["generation"]["p50"] == pytest.approx(2.0)
    assert s["latency"]["generation"]["mean"] == pytest.approx(2.0)
    json.dumps(s)  # serialisable: no NaN, no tuples of objects


def test_summarize_empty_run() -> None:
    s = summarize([])
    assert set(s) == KEYS
    assert s["n"] == 0
    assert all(s[k] is None for k in KEYS - {"n", "latency", "refusals_by_gate"})
    assert s["refusals_by_gate"] == {"answerable": {}, "unanswerable": {}}
    assert s["latency"]["retrieval"] == {"p50": None, "p95": None, "mean": None}


def test_summarize_all_refused_with_empty_retrieval() -> None:
    records = [result(gold("a"), [], "I cannot tell.", refused=True),
               result(gold("b"), [], "I cannot tell.", refused=True),
               result(unanswerable(), [], "I cannot tell.", refused=True)]
    s = summarize(records)
    assert s["recall@1"] == 0.0 and s["recall@5"] == 0.0 and s["mrr"] == 0.0
    assert s["mean_iou"] == 0.0
    assert s["citation_precision"] is None          # nothing was cited
    assert s["answer_hit_rate"] == 0.0
    assert s["refusal_accuracy"] == 1.0
    assert s["false_refusal_rate"] == 1.0
    assert s["extractive_rate"] is None          # no answer was given at all
    assert s["invented_number_rate"] == 0.0


def test_summarize_without_unanswerable_or_without_answerable() -> None:
    only_answerable = summarize([result(gold(), [(FILE, 10, 20)], "Houston",
                                        citations=[(FILE, 12, 14)])])
    assert only_answerable["refusal_accuracy"] is None
    assert only_answerable["recall@1"] == 1.0
    assert only_answerable["citation_precision"] == 1.0
    assert only_answerable["false_refusal_rate"] == 0.0

    only_unanswerable = summarize([result(unanswerable(), [(FILE, 0, 5)], "No.", refused=True)])
    for key in ("recall@1", "recall@5", "mrr", "mean_iou", "citation_precision",
                "answer_hit_rate", "false_refusal_rate"):
        assert only_unanswerable[key] is None, key
    assert only_unanswerable["refusal_accuracy"] == 1.0


@pytest.mark.parametrize(("text", "want"), [
    ("A crew of 7 [1].", True),
    ("There were nine of them.", True),
    ("Es waren fünf Astronauten.", True),
    ("It took twenty-two days.", True),
    ("No one survived [1][2].", False),        # markers and "one" are no numbers
    ("Houston lost contact [3].", False),
    ("Eine Lizenz.", False),
    ("", False),
])
def test_states_number(text: str, want: bool) -> None:
    assert states_number(text) is want


def test_answer_quality_metrics_by_hand() -> None:
    g = gold(expect=("Houston",))
    records = [
        # the LLM had it and the check kept it
        result(g, [], "Houston [1].", raw="Contact was lost with Houston [1]."),
        # the LLM had it, the check dropped it: a quote fallback
        result(g, [], "The closest passage is in x.ogg at 0:09: \u201cMission\u201d [1].",
               extractive=True, raw="Houston [2]."),
        # the LLM missed, the check left a quote fallback
        result(g, [], "The closest passage is in x.ogg at 0:20: \u201cTexas\u201d [1].",
               extractive=True, raw="Texas."),
        # refused before the LLM wrote anything: not in the raw rate, not in the extractive rate
        result(g, [], "I can't find that in the collection.", refused=True),
        # unanswerable, refused
        result(unanswerable("u1"), [], "I can't find that.", refused=True, raw="No."),
        # unanswerable, answered with an invented number
        result(unanswerable("u2"), [], "There were 12 astronauts [1].", raw="12 astronauts."),
        # unanswerable, answered without a number
        result(unanswerable("u3"), [], "The crew was brave [1].", raw="Brave."),
        # unanswerable, a quote fallback whose file name and time hold digits: no invention
        result(unanswerable("u4"), [], "The closest passage is in gwb_2003.ogg at 0:29: "
               "\u201cbrave\u201d [1].", extractive=True, raw="x"),
    ]
    s = summarize(records)
    # non-refused answers: rows 1, 2, 3, 6, 7, 8; quote fallbacks among them: 2, 3, 8
    assert s["extractive_rate"] == pytest.approx(3 / 6)
    # answerable with LLM output: rows 1, 2, 3; "Houston" in the raw of 1 and 2
    assert s["raw_answer_hit_rate"] == pytest.approx(2 / 3)
    assert s["answer_hit_rate"] == pytest.approx(1 / 4)
    # unanswerable: u1 refused, u2 a number, u3 none, u4 a quote
    assert s["invented_number_rate"] == pytest.approx(1 / 4)
    assert s["refusal_accuracy"] == pytest.approx(1 / 4)


def test_question_result_is_immutable_even_from_lists() -> None:
    r = result(gold(), [(FILE, 1, 2)], citations=[(FILE, 1, 2)])
    assert isinstance(r.retrieved, tuple) and isinstance(r.retrieved[0], tuple)
    assert isinstance(r.citations, tuple)
    assert r.retrieved_spans == [(FILE, 1, 2)]


# --- gold loading -------------------------------------------------------------------------------

def _line(**over: object) -> str:
    base: dict[str, object] = {"id": "q1", "question": "Which city?", "media": FILE,
                               "start": 9.0, "end": 17.0, "expect": ["Houston"],
                               "answerable": True}
    base.update(over)
    return json.dumps(base)


def _write(tmp_path: Path, *lines: str) -> Path:
    p = tmp_path / "gold.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_load_gold_reads_valid_lines_and_skips_comments(tmp_path: Path) -> None:
    p = _write(tmp_path,
               "// a comment",
               _line(),
               "",
               "   ",
               _line(id="u1", media=None, start=None, end=None, expect=[], answerable=False),
               _line(id="q2", start=3, end=3, note="extra keys are allowed"))
    qs = load_gold(p)
    assert [q.id for q in qs] == ["q1", "u1", "q2"]
    assert qs[0] == GoldQuestion("q1", "Which city?", FILE, 9.0, 17.0, ("Houston",), True)
    assert qs[1].media is None and not qs[1].answerable
    assert isinstance(qs[2].start, float) and qs[2].duration == 0.0


@pytest.mark.parametrize(("line", "problem"), [
    ("{not json", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    (json.dumps({"id": "q1", "question": "?", "media": FILE, "start": 1, "end": 2,
                 "answerable": True}), "missing field.*expect"),
    (_line(strat=1.0).replace('"start": 9.0, ', ""), "missing field.*start"),
    (_line(id=""), "'id' must be"),
    (_line(question="  "), "'question' must be"),
    (_line(answerable="yes"), "'answerable' must be"),
    (_line(media=None), "needs 'media'"),
    (_line(start=None), "needs 'start'"),
    (_line(end=None), "needs 'end'"),
    (_line(start=20.0, end=10.0), "start 20.0 is after end 10.0"),
    (_line(start=-1.0), "non-negative"),
    (_line(start="9"), "must be a number"),
    (_line(end=True), "must be a number"),
    (_line(end=float("inf")), "finite"),
    (_line(media="/footage/" + FILE), "file name, not a path"),
    (_line(expect=[]), "at least one 'expect'"),
    (_line(expect="Houston"), "list of strings"),
    (_line(expect=["Houston", "?!"]), "letters or digits"),
    (_line(answerable=False), "unanswerable question must have null"),
    (_line(answerable=False, media=None, start=None), "unanswerable question must have null"),
])
def test_load_gold_rejects_bad_lines_naming_file_and_line(tmp_path: Path, line: str,
                                                          problem: str) -> None:
    p = _write(tmp_path, "// header", _line(id="ok"), line)
    with pytest.raises(ValueError, match=problem) as exc:
        load_gold(p)
    assert f"{p}:3" in str(exc.value)


def test_load_gold_rejects_duplicate_ids(tmp_path: Path) -> None:
    p = _write(tmp_path, _line(), _line(start=1.0, end=2.0))
    with pytest.raises(ValueError, match=r"gold.jsonl:2.*duplicate id 'q1'.*line 1"):
        load_gold(p)


def test_load_gold_rejects_an_empty_set(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no questions"):
        load_gold(_write(tmp_path, "// only a comment", ""))


SETS = REPO / "eval" / "sets"


# (file, at least this many answerable questions, over at least this many files, unanswerable)
@pytest.mark.parametrize(("name", "min_answerable", "min_files", "min_unanswerable"), [
    ("dev.jsonl", 40, 8, 10),
    ("dev_new.jsonl", 22, 6, 8),   # the held-out set: 30+ questions, 8+ unanswerable
])
def test_dev_set_is_valid_and_points_inside_real_media(media_dir: Path, name: str,
                                                       min_answerable: int, min_files: int,
                                                       min_unanswerable: int) -> None:
    qs = load_gold(SETS / name)
    answerable = [q for q in qs if q.answerable]
    assert len(answerable) >= min_answerable
    assert len({q.media for q in answerable}) >= min_files
    assert sum(not q.answerable for q in qs) >= min_unanswerable
    for media in sorted({q.media for q in answerable if q.media}):
        duration = probe(media_dir / media, media_id="-").duration
        for q in answerable:
            if q.media == media:
                assert q.end is not None and q.end <= duration + 0.05, (q.id, q.end, duration)


def test_held_out_set_is_apart_from_the_dev_set() -> None:
    """dev_new must not repeat dev's questions or ids (a combined report keys questions by id)."""
    dev, new = load_gold(SETS / "dev.jsonl"), load_gold(SETS / "dev_new.jsonl")
    assert len(new) >= 30
    assert not {q.id for q in dev} & {q.id for q in new}
    assert not ({normalize_text(q.question) for q in dev}
                & {normalize_text(q.question) for q in new})


def test_span_functions_accept_full_retrieved_tuples() -> None:
    g = gold(start=10, end=20)
    ranked = [(OTHER, 10, 20, 0.9, "speech"), (FILE, 12, 18, 0.5, "subtitle")]
    assert rank_of_first_hit(ranked, g) == 2
    assert best_iou(ranked, g) == pytest.approx(6 / 10)
    assert citation_precision([ranked], [g]) == pytest.approx(1 / 2)
