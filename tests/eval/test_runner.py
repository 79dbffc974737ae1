"""The eval runner and report end to end: a small real index, real models, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eval.gold import GoldQuestion
from eval.metrics import QuestionResult
from eval.report import (
    HEADLINE,
    fmt,
    printed_metrics,
    render_markdown,
    results_dict,
    summaries_from_results,
    write_report,
)
from eval.runner import (
    ANSWER_KEYS,
    RETRIEVAL_KEYS,
    DenseBaseline,
    EvalRun,
    QuestionOutcome,
    RawSegment,
    SystemOutcome,
    metrics_of,
    run_eval,
    set_names,
)
from indexing.pipeline import Indexer
from indexing.settings import Settings
from indexing.stores.lance import LanceStore

GOLD = [
    {"id": "jfk-challenge", "question": "What does Kennedy urge citizens to ask themselves "
     "instead of what the nation owes them?", "media": "jfk_inaugural_1961.flac",
     "start": 0.0, "end": 11.0, "expect": ["for your country", "for the country"],
     "answerable": True},
    {"id": "bear-animal", "question": "Which animal does the accessibility demo audio say it is "
     "not really a fact file about?", "media": "mdn_bear_transcript_demo.mp3", "start": 0.0,
     "end": 6.3, "expect": ["bear", "bears"], "answerable": True},
    {"id": "friday-boss-title", "question": "What mock-grand title is used for the boss when "
     "someone asks whether he is in?", "media": "his_girl_friday_1940_clip.mp4", "start": 1.5,
     "end": 3.0, "expect": ["lord of the universe"], "answerable": True},
    {"id": "popeye3-lifeboats", "question": "What order is shouted as the ship is wrecked?",
     "media": "popeye_sinbad_1936_part3.mkv", "start": 44.9, "end": 46.5,
     "expect": ["lifeboats"], "answerable": True},
    {"id": "none-worldcup", "question": "Who won the 1966 football World Cup?", "media": None,
     "start": None, "end": None, "expect": [], "answerable": False},
]


@pytest.fixture(scope="module")
def index_db(tmp_path_factory: pytest.TempPathFactory, jfk: Path, bear: Path, friday: Path,
             popeye3: Path) -> Path:
    """Four real files (speech, a video with a .vtt, a silent cartoon with an .srt) indexed."""
    db = tmp_path_factory.mktemp("evaldb")
    settings = Settings.from_env({}, db_dir=db)
    report = Indexer(LanceStore(db), settings).index([jfk, bear, friday, popeye3])
    assert not report.failures, report.failures
    return db


def write_gold(path: Path, questions: list[dict[str, object]]) -> Path:
    path.write_text("// a small gold set for the eval tests\n"
                    + "\n".join(json.dumps(q) for q in questions) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def gold_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_gold(tmp_path_factory.mktemp("gold") / "small.jsonl", GOLD)


def headline_rows(report_md: str) -> dict[str, list[str]]:
    """The cells of report.md's headline table, by metric label."""
    section = report_md.split("## Headline", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 5:
            rows[cells[0]] = cells[1:]
    return rows


def test_cli_eval_writes_a_consistent_report(index_db: Path, gold_file: Path,
                                            tmp_path: Path) -> None:
    out = tmp_path / "report"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    env.pop("DEERIN_LLM", None)  # the shipped llama.cpp model, whatever the developer set
    proc = subprocess.run(
        [sys.executable, "-m", "deerin", "eval", "--qa", str(gold_file), "--db", str(index_db),
         "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=600, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)

    for name in ("report.md", "results.json", "metrics.png", "latency.png"):
        assert (out / name).is_file(), name
    for png in ("metrics.png", "latency.png"):
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000

    results = json.loads((out / "results.json").read_text())
    metrics = results["metrics"]
    assert printed == metrics
    required = {"n", "recall@1", "recall@5", "mrr", "citation_precision", "answer_hit_rate",
                "refusal_accuracy", "false_refusal_rate", "extractive_rate",
                "raw_answer_hit_rate", "invented_number_rate", "baseline"}
    assert required <= printed.keys()
    assert metrics["n"] == len(results["questions"]) == 5
    assert results["meta"]["llm"].startswith("llamacpp:")
    assert metrics["errors"] == 0

    # The stored metrics are exactly what the stored per-question records give.
    deerin, baseline = summaries_from_results(results)
    for key in (*RETRIEVAL_KEYS, *ANSWER_KEYS):
        if metrics[key] is None:  # e.g. no LLM output on an answerable question
            assert deerin[key] is None, key
        elif isinstance(metrics[key], dict):  # refusals by gate
            assert deerin[key] == metrics[key], key
        else:
            assert deerin[key] == pytest.approx(metrics[key]), key
    for key in RETRIEVAL_KEYS:
        assert baseline[key] == pytest.approx(metrics["baseline"][key]), key
        assert metrics["uplift"][key] == pytest.approx(metrics[key] - metrics["baseline"][key])
    for key in ANSWER_KEYS:
        assert metrics["baseline"][key] is None  # the baseline does not answer
    for key, interval in metrics["uplift_interval"].items():  # paired bootstrap, 95 %
        if interval is not None:
            value, lo, hi = interval
            assert lo <= value <= hi and value == pytest.approx(metrics["uplift"][key]), key
    for key in ("citation_precision", "answer_hit_rate", "refusal_accuracy",
                "false_refusal_rate", "invented_number_rate"):
        assert metrics[key] is not None, key  # defined whenever there are answers

    # ... and report.md shows those same numbers.
    rows = headline_rows((out / "report.md").read_text())
    for key, label in HEADLINE:
        assert rows[label][0] == fmt(metrics[key]), label
        assert rows[label][1] == fmt(metrics["baseline"][key]), label
    # One set: no per-set sections, and the questions name their set.
    assert "## By set" not in (out / "report.md").read_text()
    assert {q["set"] for q in results["questions"]} == {"small"}
    assert results["meta"]["sets"] == {"small": str(gold_file)}

    # Per-question verdicts agree with the headline and carry what a reader needs.
    qs = {q["id"]: q for q in results["questions"]}
    answerable = [q for q in qs.values() if q["answerable"]]
    at1 = sum(q["deerin"]["verdict"]["hit@1"] for q in answerable) / len(answerable)
    assert at1 == pytest.approx(metrics["recall@1"])
    assert qs["none-worldcup"]["deerin"]["verdict"]["refusal_correct"] == \
        qs["none-worldcup"]["deerin"]["refused"]
    for q in answerable:
        d = q["deerin"]
        assert len(d["retrieved"]) == 5 and len(q["baseline"]["retrieved"]) == 5
        assert all(r["text"] for r in d["retrieved"])
        assert all(c["hit"] == (c["overlap_s"] > 0) for c in d["citations"])
        assert {"retrieval_s", "answer_s"} <= d["timings"].keys()
    # Four short, distinct files: the right one must be in the top five.
    assert metrics["recall@5"] >= 0.75
    assert metrics["latency"]["answer"]["p50"] > 0


def test_retrieval_only_run_and_segment_cache(index_db: Path, gold_file: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.from_env({}, db_dir=index_db)
    # The default cache lives in the index folder (an earlier run in this module may have filled
    # it, which only saves time here).
    first = run_eval(gold_file, settings, answer=False)
    assert (index_db / "eval-cache" / "baseline_segments.json").is_file()
    assert first.llm is None
    info = first.baseline_info
    assert info["speech_segments"] > 0 and info["subtitle_segments"] >= 5 + 15  # .vtt + .srt

    # A rerun transcribes nothing: the raw segments come from the cache.
    from indexing.backends import faster_whisper as transcribe

    def no_asr(*_a: object, **_k: object) -> None:
        raise AssertionError("transcribed despite the segment cache")

    monkeypatch.setattr(transcribe.FasterWhisperTranscriber, "transcribe", no_asr)
    second = run_eval(gold_file, settings, answer=False)
    assert second.baseline_info["segments"] == info["segments"]
    m1, m2 = first.metrics(), second.metrics()
    for key in RETRIEVAL_KEYS:
        assert m1[key] == m2[key]
        assert m1["baseline"][key] == m2["baseline"][key]
    for key in ANSWER_KEYS:
        assert m2[key] is None and m2["baseline"][key] is None
    assert m2["latency"]["generation"]["p50"] is None

    paths = write_report(second, tmp_path / "out")
    assert all(p.is_file() for p in paths.values())
    report = paths["report"].read_text()
    assert "retrieval only" in report
    assert "### Answers" not in report
    stored = json.loads(paths["results"].read_text())
    assert stored["metrics"] == json.loads(json.dumps(m2))
    assert "answer" not in stored["questions"][0]["deerin"]


def test_cli_eval_reports_each_gold_set_apart(index_db: Path, gold_file: Path,
                                              tmp_path: Path) -> None:
    """Two --qa sets: one run, figures per set and overall in --json, results.json and report."""
    first = write_gold(tmp_path / "tuned.jsonl", GOLD[:2] + GOLD[4:])  # 2 answerable + 1 not
    second = write_gold(tmp_path / "held_out.jsonl", GOLD[2:4])       # 2 answerable
    out = tmp_path / "report"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "deerin", "eval", "--qa", str(first), "--qa", str(second),
         "--db", str(index_db), "--no-answer", "--out", str(out), "--json"],
        capture_output=True, text=True, timeout=600, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert set(printed) == {"overall", "sets"}
    assert list(printed["sets"]) == ["tuned", "held_out"]
    assert printed["overall"]["n"] == 5
    assert [m["n"] for m in printed["sets"].values()] == [3, 2]

    results = json.loads((out / "results.json").read_text())
    assert results["metrics"] == printed["overall"]
    assert results["metrics_by_set"] == printed["sets"]
    assert results["meta"]["sets"] == {"tuned": str(first), "held_out": str(second)}
    assert [q["set"] for q in results["questions"]] == ["tuned"] * 3 + ["held_out"] * 2
    for name, stored in printed["sets"].items():
        deerin, _ = summaries_from_results(results, name)
        for key in RETRIEVAL_KEYS:
            assert deerin[key] == pytest.approx(stored[key]), (name, key)
        assert all(stored[key] is None for key in ANSWER_KEYS)  # retrieval only
    # Overall recall is the question-weighted mean of the sets' recall (2 answerable each).
    sets = printed["sets"]
    assert printed["overall"]["recall@5"] == pytest.approx(
        (sets["tuned"]["recall@5"] + sets["held_out"]["recall@5"]) / 2)

    report = (out / "report.md").read_text()
    assert "## By set" in report
    assert report.index("## Set `tuned`") < report.index("## Set `held_out`")
    by_set = report.split("## By set", 1)[1].split("\n## ", 1)[0]
    recall_row = next(line for line in by_set.splitlines() if line.startswith("| Recall@5 |"))
    assert [c.strip() for c in recall_row.strip("|").split("|")][1:] == [
        fmt(sets["tuned"]["recall@5"]), fmt(sets["held_out"]["recall@5"]),
        fmt(printed["overall"]["recall@5"])]

    # The same file twice would count its questions twice overall: a usage error.
    twice = subprocess.run(
        [sys.executable, "-m", "deerin", "eval", "--qa", str(first), "--qa", str(first),
         "--db", str(index_db), "--no-answer"],
        capture_output=True, text=True, timeout=600, env=env, check=False)
    assert twice.returncode == 2
    assert "more than once" in twice.stderr


# -- fast checks on synthetic outcomes (no models) -------------------------------------------------
def _gold(qid: str, answerable: bool = True) -> GoldQuestion:
    if not answerable:
        return GoldQuestion(qid, "?", None, None, None, (), False)
    return GoldQuestion(qid, "?", "a.wav", 10.0, 20.0, ("yes sir",), True)


def _outcome(gold: GoldQuestion, spans: list[tuple[float, float]], answer: str = "",
             refused: bool = False, answered: bool = True) -> QuestionOutcome:
    retrieved = [("/m/a.wav", s, e, 0.5, "speech") for s, e in spans]
    deerin = SystemOutcome(QuestionResult(gold, retrieved, answer, refused,
                                          retrieved[:1] if answer else (), 0.01,
                                          0.5 if answered else None),
                           tuple("t" for _ in spans), timings={"retrieval_s": 0.01})
    base = SystemOutcome(QuestionResult(gold, retrieved[::-1], "", False, (), 0.002, None),
                         tuple("t" for _ in spans), timings={"retrieval_s": 0.002})
    return QuestionOutcome(gold, deerin, base)


def test_metrics_of_blanks_answer_metrics_when_nothing_answers() -> None:
    qs = [_outcome(_gold("a"), [(12, 14), (40, 50)], answer="Yes sir [1].", answered=True),
          _outcome(_gold("u", answerable=False), [(40, 50)], refused=True)]
    m = metrics_of(qs, answered=True)
    assert m["recall@1"] == 1.0 and m["baseline"]["recall@1"] == 0.0
    assert m["baseline"]["recall@5"] == 1.0 and m["baseline"]["mrr"] == 0.5
    assert m["uplift"]["mrr"] == 0.5
    assert m["answer_hit_rate"] == 1.0 and m["refusal_accuracy"] == 1.0
    assert m["citation_precision"] == 1.0
    assert all(m["baseline"][k] is None for k in ANSWER_KEYS)
    retrieval_only = metrics_of(qs, answered=False)
    assert all(retrieval_only[k] is None for k in ANSWER_KEYS)
    assert retrieval_only["recall@1"] == 1.0


class _BagOfLetters:
    """A tiny deterministic embedder: letter counts, L2-normalised."""

    model_id = "letters"
    dim = 26

    def embed_texts(self, texts):  # type: ignore[no-untyped-def]
        import numpy as np

        out = np.zeros((len(texts), 26), dtype=np.float32)
        for i, t in enumerate(texts):
            for ch in t.lower():
                if "a" <= ch <= "z":
                    out[i, ord(ch) - 97] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    def embed_query(self, text):  # type: ignore[no-untyped-def]
        return self.embed_texts([text])[0]


def test_dense_baseline_is_cosine_top_k_over_raw_segments() -> None:
    segs = [RawSegment("x.wav", 0, 1, "zzzz", "speech"),
            RawSegment("x.wav", 1, 2, "abc abc", "speech"),
            RawSegment("y.srt", 0, 1, "abd", "subtitle")]
    found = DenseBaseline(segs, _BagOfLetters()).search("cab", 2)
    assert [s.text for s, _ in found] == ["abc abc", "abd"]
    assert found[0][1] == pytest.approx(1.0)
    assert DenseBaseline([], _BagOfLetters()).search("cab", 5) == []



def test_set_names_are_short_and_unique(tmp_path: Path) -> None:
    assert set_names(["eval/sets/dev.jsonl", "eval/sets/dev_new.jsonl"]) == ["dev", "dev_new"]
    assert set_names(["a/dev.jsonl", "b/dev.jsonl"]) == ["a/dev", "b/dev"]
    assert set_names(["x/a/dev.jsonl", "y/a/dev.jsonl"]) == ["a/dev#1", "a/dev#2"]
    with pytest.raises(ValueError, match="more than once"):
        set_names([tmp_path / "s.jsonl", tmp_path / "." / "s.jsonl"])


def _run(outcomes: list[QuestionOutcome], sets: dict[str, str]) -> EvalRun:
    return EvalRun(gold_path=", ".join(sets.values()), db_dir="db", k=5, answered=True,
                   llm="llamacpp:test", embedder="letters", questions=outcomes,
                   baseline_info={"engine": "test", "segments": 0}, warnings=[],
                   elapsed_s=1.0, gold_sets=sets)


def _answered(gold: GoldQuestion, answer: str, *, set_name: str, refused: bool = False,
              extractive: bool = False, raw: str = "") -> QuestionOutcome:
    retrieved = [("/m/a.wav", 12.0, 14.0, 0.5, "speech")]
    result = QuestionResult(gold, retrieved, answer, refused, [] if refused else retrieved[:1],
                            0.01, 0.5, extractive, raw)
    base = QuestionResult(gold, retrieved, "", False, (), 0.002, None)
    return QuestionOutcome(gold, SystemOutcome(result, ("t",), (1,) if not refused else ()),
                           SystemOutcome(base, ("t",)), set_name)


def test_per_set_metrics_report_and_json_by_hand() -> None:
    """A tuned set that scores and a held-out one that does not: the gap shows everywhere."""
    ok, miss = _gold("ok"), _gold("miss")
    none = _gold("none", answerable=False)
    run = _run([
        _answered(ok, "Yes sir [1].", set_name="dev", raw="Yes sir."),
        _answered(none, "I can't find that.", set_name="dev", refused=True),
        _answered(miss, "The closest passage is in a.wav at 0:12: \u201cmaybe\u201d [1].",
                  set_name="dev_new", extractive=True, raw="Yes sir, 12 times."),
        _answered(_gold("none2", answerable=False), "There were 12 of them [1].",
                  set_name="dev_new", raw="12."),
    ], {"dev": "sets/dev.jsonl", "dev_new": "sets/dev_new.jsonl"})
    by_set = run.metrics_by_set()
    dev, new, overall = by_set["dev"], by_set["dev_new"], run.metrics()
    assert (dev["n"], new["n"], overall["n"]) == (2, 2, 4)
    assert dev["answer_hit_rate"] == 1.0 and new["answer_hit_rate"] == 0.0
    assert overall["answer_hit_rate"] == 0.5
    assert dev["extractive_rate"] == 0.0 and new["extractive_rate"] == 0.5
    # the raw output of the held-out miss had the words: the check, not the model, lost it
    assert new["raw_answer_hit_rate"] == 1.0
    assert dev["invented_number_rate"] == 0.0 and new["invented_number_rate"] == 1.0
    assert dev["refusal_accuracy"] == 1.0 and new["refusal_accuracy"] == 0.0

    assert printed_metrics(run) == {"overall": overall, "sets": by_set}
    data = results_dict(run)
    assert data["metrics_by_set"] == by_set and data["meta"]["sets"] == run.gold_sets

    report = render_markdown(run, overall)
    assert report.count("### Headline") == 2
    new_section = report.split("## Set `dev_new`", 1)[1]
    assert "quote fallback" in new_section and "the raw LLM output had one" in new_section
    assert "answered an unanswerable question with a number" in new_section
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip().strip("|").split("|")]
            for line in report.split("## By set", 1)[1].split("\n## ", 1)[0].splitlines()
            if line.startswith("| ")}
    assert rows["questions"][1:] == ["2", "2", "4"]
    assert rows["invented-number rate"][1:] == ["0.000", "1.000", "0.500"]

    single = _run(run.set_questions("dev"), {"dev": "sets/dev.jsonl"})
    assert printed_metrics(single) == single.metrics()  # one set: the flat dict, as before
    assert "## By set" not in render_markdown(single, single.metrics())


def test_the_peer_answers_the_same_questions_beside_deerin(index_db: Path, gold_file: Path,
                                                          tmp_path: Path) -> None:
    """LlamaIndex's CitationQueryEngine, over the same clips with the same (here: the tiny
    shipped) LLM, answers every question; its figures and DEERIn's lead are reported."""
    run = run_eval(gold_file, Settings.from_env({}, db_dir=index_db), "tiny", peer=True)
    assert all(q.peer is not None for q in run.questions)
    peer = run.metrics()["peer"]
    for key in ("answer_hit_rate", "citation_precision", "refusal_accuracy"):
        assert key in peer
    assert peer["latency"]["answer"]["p50"] > 0
    assert set(peer["lead_interval"]) and all(
        v is None or (len(v) == 3 and v[1] <= v[0] <= v[2]) for v in peer["lead_interval"].values())
    report = write_report(run, tmp_path / "out")["report"].read_text()
    assert "CitationQueryEngine" in report
