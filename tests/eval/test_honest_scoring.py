"""The eval's rules that keep it from being fooled: a hit must hold the core of the gold span,
alternates count, answers are judged on their own words, yes/no and list questions by their
own rules, and every comparison carries a paired bootstrap interval."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from eval.compare import compare, render
from eval.gold import GoldQuestion, load_gold
from eval.metrics import (
    QuestionResult,
    answer_hit,
    answer_words,
    contributions,
    gold_answer_hit,
    is_hit,
    rank_of_first_hit,
    rate,
    refusals_by_gate,
    summarize,
)
from eval.stats import paired_rate_difference

FILE = "gwb_columbia_address_2003.ogg"
POPEYE = "popeye_sinbad_1936_part3.mkv"


def gold(**kw: object) -> GoldQuestion:
    base: dict[str, object] = dict(id="q", question="?", media=FILE, start=10.0, end=20.0,
                                   expect=("Houston",), answerable=True)
    return GoldQuestion(**(base | kw))  # type: ignore[arg-type]


def test_a_clip_must_hold_the_core_of_the_span() -> None:
    g = gold()
    assert not is_hit(FILE, 0.0, 10.2, g)  # grazes the start: 0.2 s of a 10 s span
    assert not is_hit(FILE, 19.5, 30.0, g)  # grazes the end
    assert is_hit(FILE, 0.0, 11.0, g) and is_hit(FILE, 19.0, 30.0, g)  # a second of it
    short = gold(start=10.0, end=11.0)  # a 1 s span: half of it, 0.5 s
    assert not is_hit(FILE, 0.0, 10.4, short) and is_hit(FILE, 0.0, 10.5, short)
    instant = gold(start=12.0, end=12.0)
    assert is_hit(FILE, 11.0, 13.0, instant) and not is_hit(FILE, 12.5, 13.0, instant)


def test_alternate_spans_count_for_ranks_too() -> None:
    g = gold(spans=((FILE, 10.0, 20.0), (POPEYE, 30.0, 40.0)))
    assert rank_of_first_hit([(FILE, 50.0, 60.0), (POPEYE, 31.0, 39.0)], g) == 2
    assert is_hit(POPEYE, 32.0, 35.0, g)


def test_answers_are_judged_on_their_own_words() -> None:
    quote = ("The closest passage is in popeye_sinbad_1936_part3.mkv at 00:36: "
             "\u201cP-P-Popeye! Let me go!\u201d [1].")
    assert "sinbad" not in answer_words(quote).lower() and "00:36" not in answer_words(quote)
    assert not answer_hit(quote, ["Sinbad"]) and answer_hit(quote, ["Popeye"])
    assert not answer_hit("It was at 9:00 [1].", ["9"])  # a clock time is not the answer's 9
    assert not answer_hit("See [3].", ["3"])


def test_yes_no_is_the_first_word_in_either_language() -> None:
    assert answer_hit("No, the crew did not survive [1].", ["no"])
    assert answer_hit("Nein, niemand hat überlebt [1].", ["no", "nein"])
    assert answer_hit("Ja [1].", ["yes"])
    assert not answer_hit("There were no survivors [1].", ["no"])  # a "no" inside is no answer
    assert not answer_hit("Yes and no.", ["no"])
    assert answer_hit("No, over Texas [1].", ["no", "Texas"])
    assert not answer_hit("It fell over Texas [1].", ["no", "Texas"])  # the fact, but no "no"


def test_a_list_question_needs_every_item() -> None:
    g = gold(expect=("red", "green", "blue"), expect_all=True)
    assert not gold_answer_hit("The flags were red and blue [1].", g)
    assert gold_answer_hit("Red, green and blue [1].", g)
    assert gold_answer_hit("Red [1].", gold(expect=("red", "green")))  # any, by default


def _record(g: GoldQuestion, answer: str = "", refused: bool = False, cited: bool = True,
            extractive: bool = False, read_hit: bool = True, gate: str = "") -> QuestionResult:
    span = (FILE, 11.0, 19.0) if g.answerable else (FILE, 50.0, 60.0)
    miss = (FILE, 50.0, 60.0)
    return QuestionResult(g, [(*span, 0.9, "speech")], answer, refused,
                          [span if cited else miss] if not refused else [],
                          extractive=extractive, read=[span if read_hit else miss], gate=gate)


def test_rates_from_contributions_equal_the_summary() -> None:
    u = gold(id="u", media=None, start=None, end=None, expect=(), answerable=False)
    records = [
        _record(gold(id="a"), "Houston [1]."),
        _record(gold(id="b"), "The closest passage is in x.ogg at 0:10: \u201cHouston\u201d [1].",
                extractive=True, cited=False),
        _record(gold(id="c"), refused=True, read_hit=False, gate="evidence"),
        _record(u, refused=True, gate="judge"),
    ]
    s = summarize(records)
    parts = [contributions(r) for r in records]
    for key in ("recall@1", "recall@3", "answer_hit_rate", "refusal_accuracy",
                "false_refusal_rate", "citation_precision", "passage_recall"):
        assert rate([p[key] for p in parts]) == s[key], key
    assert s["citation_precision_model"] == 1.0 and s["citation_precision_quote"] == 0.0
    assert s["passage_recall"] == 2 / 3 and s["answer_hit_when_read"] == 1.0
    assert refusals_by_gate(records) == {"answerable": {"evidence": 1},
                                         "unanswerable": {"judge": 1}}


def test_paired_interval_calls_a_small_difference_noise() -> None:
    a = [(1.0, 1.0)] * 30 + [(0.0, 1.0)] * 20
    b = list(a)
    b[45] = (1.0, 1.0)  # one more right answer out of fifty
    ci = paired_rate_difference(a, b)
    assert ci is not None and abs(ci.value - 0.02) < 1e-9 and ci.noise
    far = [(1.0, 1.0)] * 50
    assert not paired_rate_difference(a, far).noise  # type: ignore[union-attr]


def test_compare_two_result_files(tmp_path: Path) -> None:
    questions = []
    for i in range(20):
        questions.append({
            "id": f"q{i}", "set": "dev", "question": "?", "answerable": True,
            "gold": {"media": FILE, "start": 10.0, "end": 20.0, "expect": ["Houston"]},
            "deerin": {"retrieved": [{"media": FILE, "start": 11.0, "end": 19.0, "score": 0.9,
                                      "kind": "speech"}],
                       "answer": "Houston [1]." if i % 2 else "Texas [1].", "refused": False,
                       "citations": [{"media": FILE, "start": 11.0, "end": 19.0}],
                       "timings": {}, "read": [{"media": FILE, "start": 11.0, "end": 19.0}]},
            "baseline": {"retrieved": [], "timings": {}}})
    old = {"meta": {"answered": True}, "questions": questions}
    new = copy.deepcopy(old)
    for q in new["questions"]:
        q["deerin"]["answer"] = "Houston [1]."
    [overall] = compare(old, new, resamples=500)
    row = {r.key: r for r in overall.rows}["answer_hit_rate"]
    assert (row.old, row.new) == (0.5, 1.0) and row.difference is not None
    assert not row.difference.noise
    text = "\n".join(render([overall]))
    assert "answer hit rate" in text and "20 questions in both runs" in text
    (tmp_path / "a.json").write_text(json.dumps(old))
    (tmp_path / "b.json").write_text(json.dumps(new))
    from eval.compare import main

    assert main([str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0


def test_gold_tags_load(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"id": "x", "question": "Which colours?", "media": FILE,
                                "start": 1.0, "end": 2.0, "expect": ["red", "blue"],
                                "answerable": True, "expect_all": True, "kind": "list",
                                "lang": "de"}) + "\n")
    [g] = load_gold(path)
    assert g.expect_all and g.kind == "list" and g.lang == "de"
