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
from eval.report import HEADLINE, fmt, summaries_from_results, write_report
from eval.runner import (
    ANSWER_KEYS,
    RETRIEVAL_KEYS,
    DenseBaseline,
    QuestionOutcome,
    RawSegment,
    SystemOutcome,
    metrics_of,
    run_eval,
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


@pytest.fixture(scope="module")
def gold_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gold") / "small.jsonl"
    path.write_text("// a small gold set for the eval tests\n"
                    + "\n".join(json.dumps(q) for q in GOLD) + "\n", encoding="utf-8")
    return path


def headline_rows(report_md: str) -> dict[str, list[str]]:
    """The cells of report.md's headline table, by metric label."""
    section = report_md.split("## Headline", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 4:
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
                "refusal_accuracy", "false_refusal_rate", "baseline"}
    assert required <= printed.keys()
    assert metrics["n"] == len(results["questions"]) == 5
    assert results["meta"]["llm"].startswith("llamacpp:")
    assert metrics["errors"] == 0

    # The stored metrics are exactly what the stored per-question records give.
    deerin, baseline = summaries_from_results(results)
    for key in (*RETRIEVAL_KEYS, *ANSWER_KEYS):
        assert deerin[key] == pytest.approx(metrics[key]), key
    for key in RETRIEVAL_KEYS:
        assert baseline[key] == pytest.approx(metrics["baseline"][key]), key
        assert metrics["uplift"][key] == pytest.approx(metrics[key] - metrics["baseline"][key])
    for key in ANSWER_KEYS:
        assert metrics[key] is not None, key
        assert metrics["baseline"][key] is None  # the baseline does not answer

    # ... and report.md shows those same numbers.
    rows = headline_rows((out / "report.md").read_text())
    for key, label in HEADLINE:
        assert rows[label][0] == fmt(metrics[key]), label
        assert rows[label][1] == fmt(metrics["baseline"][key]), label

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
    from indexing.stages import transcribe

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


def test_dense_baseline_is_cosine_top_k_over_raw_segments() -> None:
    segs = [RawSegment("x.wav", 0, 1, "zzzz", "speech"),
            RawSegment("x.wav", 1, 2, "abc abc", "speech"),
            RawSegment("y.srt", 0, 1, "abd", "subtitle")]
    found = DenseBaseline(segs, _BagOfLetters()).search("cab", 2)
    assert [s.text for s, _ in found] == ["abc abc", "abd"]
    assert found[0][1] == pytest.approx(1.0)
    assert DenseBaseline([], _BagOfLetters()).search("cab", 5) == []

