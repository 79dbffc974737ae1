"""The experiment workbench: question sheet, plan, stage cache, resumption, report,
and the chat's /compare. Real media, real models (the tiny LLM tier), real LanceDB."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eval.experiment.plan import PlanError, load_plan
from eval.gold import load_gold
from eval.sheet import RowError, parse_time, read_sheet
from tests.support import REPO

HEADER = "question,file,start,end,expected words,answerable\n"


def _sheet(tmp_path: Path, rows: str) -> Path:
    p = tmp_path / "sheet.csv"
    p.write_text(HEADER + rows, encoding="utf-8")
    return p


# -- question sheet -------------------------------------------------------------------------------
def test_times_in_seconds_and_clock_forms() -> None:
    assert parse_time("83.5") == 83.5
    assert parse_time("1:23.5") == 83.5
    assert parse_time("00:01:23.500") == 83.5
    assert parse_time(" 1:00:00 ") == 3600.0
    for bad in ("1:2x", "-3", "1:75", "abc", "1:60:00", "nan"):
        with pytest.raises(ValueError, match="malformed time"):
            parse_time(bad)


def test_sheet_reports_each_bad_row_and_keeps_the_valid_ones(tmp_path: Path) -> None:
    sheet = _sheet(tmp_path, (
        "Who speaks first?,jfk_inaugural_1961.flac,0,3,Americans,yes\n"      # 2: valid
        "When?,jfk_inaugural_1961.flac,1:2x,3,x,yes\n"                       # 3: bad time
        "Where?,nowhere.wav,0,3,x,yes\n"                                     # 4: unknown file
        "Why?,jfk_inaugural_1961.flac,0:09,0:05,x,yes\n"                     # 5: end < start
        ",jfk_inaugural_1961.flac,0,3,x,yes\n"                               # 6: no question
        "What is sold?,,,,,no\n"                                             # 7: valid
        "Which?,jfk_inaugural_1961.flac,0,3,,yes\n"                          # 8: no expected words
        "Really?,jfk_inaugural_1961.flac,0,3,x,maybe\n"                      # 9: bad flag
        "# a comment row,,,,,\n"
        "\n"
        "Whom?,/some/dir/jfk_inaugural_1961.flac,00:00:01.5,00:00:04,you; your,\n"))  # 12
    result = read_sheet(sheet, ["jfk_inaugural_1961.flac"])
    assert [q.id for q in result.questions] == ["row-2", "row-7", "row-12"]
    why = {e.line: e.reason for e in result.errors}
    assert set(why) == {3, 4, 5, 6, 8, 9}
    assert "malformed time '1:2x'" in why[3]
    assert "unknown file 'nowhere.wav'" in why[4]
    assert "before start" in why[5]
    assert "missing question" in why[6]
    assert "expected words" in why[8]
    assert "yes or no" in why[9]
    assert str(RowError(3, "x")) == "row 3: x"
    last = result.questions[-1]
    assert (last.media, last.start, last.end, last.expect) == (
        "jfk_inaugural_1961.flac", 1.5, 4.0, ("you", "your"))
    assert not result.questions[1].answerable


def test_convert_command_writes_gold_and_exits_partial(tmp_path: Path, media_dir: Path) -> None:
    from deerin.cli import app

    sheet = _sheet(tmp_path, "Who?,jfk_inaugural_1961.flac,0,3,Americans,yes\n"
                             "When?,gone.wav,0,3,x,yes\n")
    out = tmp_path / "gold.jsonl"
    res = CliRunner().invoke(app, ["questions", "convert", str(sheet), "--out", str(out),
                                   "--collection", str(media_dir / "jfk_inaugural_1961.flac")])
    assert res.exit_code == 3, res.output
    assert "row 3: unknown file 'gone.wav'" in res.output
    assert [q.id for q in load_gold(out)] == ["row-2"]
    # Without --collection file names are not checked; a sheet without a needed column is
    # refused as a whole (usage error).
    assert CliRunner().invoke(app, ["questions", "convert", str(sheet), "--out",
                                    str(out)]).exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("question,file\nx,y\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["questions", "convert", str(bad), "--out", str(out)])
    assert res.exit_code == 2 and "missing column(s): start, end" in res.output


def test_example_sheet_is_valid_over_shared_media(media_dir: Path) -> None:
    from eval.sheet import collection_files

    result = read_sheet(REPO / "eval/templates/example_questions.csv",
                        collection_files([media_dir]))
    assert not result.errors and len(result.questions) >= 12
    assert sum(not q.answerable for q in result.questions) >= 2
    assert read_sheet(REPO / "eval/templates/questions.csv").questions == ()


# -- plan -----------------------------------------------------------------------------------------
def _plan(tmp_path: Path, body: str) -> Path:
    (tmp_path / "q.csv").write_text(HEADER + "Who?,jfk_inaugural_1961.flac,0,3,x,yes\n")
    p = tmp_path / "plan.toml"
    p.write_text('[collection]\npaths = ["' + str(REPO.parent / "shared/media/"
                                               "jfk_inaugural_1961.flac") + '"]\n'
                 '[questions]\nsheet = "q.csv"\n' + body, encoding="utf-8")
    return p


def test_plan_parser_keeps_good_configurations_and_names_bad_keys(tmp_path: Path) -> None:
    plan = load_plan(_plan(tmp_path, """
[settings]
share_indexes = true
bootstrap = 50
[defaults]
llm = "tiny"
[[config]]
name = "a"
[[config]]
name = "b"
rerank = false
embedder = "e5"
[[config]]
name = "typo"
lmm = "fast"
[[config]]
name = "bad mode"
mode = "sideways"
[[config]]
name = "bad type"
rerank = "no"
"""))
    assert plan.share_indexes and plan.bootstrap == 50 and plan.k == 5
    a, b, typo, mode, kind = plan.configurations
    assert (a.llm, a.rerank, a.problem) == ("tiny", True, None)
    assert (b.llm, b.rerank, b.embedder) == ("tiny", False, "e5")
    assert a.index_side != b.index_side
    assert typo.problem and "unknown key 'lmm'" in typo.problem
    assert mode.problem and "mode 'sideways'" in mode.problem
    assert kind.problem and "rerank must be true or false" in kind.problem
    assert [c.name for c in plan.runnable] == ["a", "b"]


@pytest.mark.parametrize(("body", "message"), [
    ("[[config]]\nname='a'\nextra = 1\n[wrong]\n", None),
    ("", "no configurations"),
    ("[settings]\nk = 0\n[[config]]\nname='a'\n", "settings.k: must be a positive integer"),
    ("[settings]\nfoo = 1\n[[config]]\nname='a'\n", "settings.foo: unknown"),
])
def test_plan_errors_name_the_key(tmp_path: Path, body: str, message: str | None) -> None:
    with pytest.raises(PlanError) as info:
        load_plan(_plan(tmp_path, body))
    assert str(tmp_path / "plan.toml") in str(info.value)
    if message:
        assert message in str(info.value)


def test_plan_with_missing_collection_file(tmp_path: Path) -> None:
    p = tmp_path / "plan.toml"
    p.write_text('[collection]\npaths = ["gone.mp4"]\n[questions]\ngold = "x.jsonl"\n'
                 '[[config]]\nname = "a"\n')
    with pytest.raises(PlanError, match=r"collection\.paths: not found: .*gone\.mp4"):
        load_plan(p)


def test_example_plan_has_three_configurations() -> None:
    plan = load_plan(REPO / "eval/plans/example.toml")
    assert [c.name for c in plan.runnable] == ["default", "fast tier", "rerank off"]
    assert all(p.exists() for p in plan.collection) and plan.questions.is_file()


def test_unavailable_models_are_named_with_the_reason() -> None:
    from eval.experiment.available import problem_of
    from eval.experiment.plan import Configuration

    assert problem_of(Configuration("ok", llm="tiny")) is None
    asr = problem_of(Configuration("x", asr="large-v9"))
    assert asr and asr.startswith("asr = 'large-v9': not installed here")
    llm = problem_of(Configuration("x", llm="/nowhere/model.gguf"))
    assert llm and llm.startswith("llm = '/nowhere/model.gguf'") and "not found" in llm
    emb = problem_of(Configuration("x", embedder="no-such-embedder-here"))
    assert emb and "embedder = 'no-such-embedder-here'" in emb


# -- stage cache ----------------------------------------------------------------------------------
def test_stage_cache_makes_a_second_index_a_copy(tmp_path: Path, jfk: Path, bear: Path,
                                                 friday: Path) -> None:
    from indexing.pipeline import Indexer
    from indexing.settings import Settings
    from indexing.stage_cache import StageCache, cached_backends
    from indexing.stores.lance import LanceStore

    cache = StageCache(tmp_path / "cache")
    stores, backends = [], []
    for name in ("first", "second"):
        # OCR off: its models are the slowest to load; its cache works as the faces' one does.
        settings = Settings.from_env({}, db_dir=tmp_path / name, ocr=False)
        store = LanceStore(settings.db_dir)
        b = cached_backends(settings, cache)
        report = Indexer(store, settings, backends=b).index([jfk, bear, friday])
        assert not report.failures and report.indexed == 3
        stores.append(store)
        backends.append(b)
        if name == "first":
            assert cache.summary()["transcribe"] == {"hits": 0, "misses": 3}
            cache.hits.clear()
            cache.misses.clear()
    summary = cache.summary()
    assert all(v["misses"] == 0 for v in summary.values()), summary
    assert summary["transcribe"]["hits"] == 3 and summary["shots"]["hits"] == 1
    # The second index loaded no recogniser and no embedder: everything came from the cache.
    assert backends[1].transcriber.inner._model is None
    first, second = ({c.clip_id: c for c in s.all_clips()} for s in stores)
    assert first.keys() == second.keys() and len(first) >= 3
    friday_id = next(m.media_id for m in stores[1].media() if m.path == str(friday))
    shots = stores[1].shots_of(friday_id)
    assert shots and all(s.keyframe and Path(s.keyframe).is_file()
                         and Path(s.keyframe).is_relative_to(tmp_path / "second")
                         for s in shots)
    assert summary["faces"]["hits"] == len(shots)
    # A damaged entry is recomputed, not trusted.
    key = cache.key("dim", backends[1].embedder.model_id)
    cache.put(key, b"not json")
    assert backends[1].embedder.dim == 384


# -- a whole experiment, killed and resumed -------------------------------------------------------
def test_killed_experiment_resumes_and_reports(tmp_path: Path, media_dir: Path) -> None:
    """Kill the run once its index step is recorded; the next run skips that step, runs the
    eval and writes every section of the report. Tiny tier, two short recordings."""
    (tmp_path / "q.csv").write_text(
        HEADER + "What is the demo recording meant for?,mdn_bear_transcript_demo.mp3,0,6.3,"
        "transcribe; transcription; transcript,yes\n"
        "Which social class is Mr. Quilter said to champion?,picovoice_leopard_test_en.wav,"
        "0,5.86,middle class,yes\n"
        "Who won the 1966 World Cup?,,,,,no\n"
        "Bad,picovoice_leopard_test_en.wav,1:2x,3,x,yes\n", encoding="utf-8")
    plan = tmp_path / "plan.toml"
    files = [str(media_dir / n) for n in ("mdn_bear_transcript_demo.mp3",
                                          "picovoice_leopard_test_en.wav")]
    plan.write_text(f"name = 'resume'\n[collection]\npaths = {json.dumps(files)}\n"
                    "[questions]\nsheet = 'q.csv'\n[settings]\nbootstrap = 100\nprobe = 1\n"
                    "[defaults]\nllm = 'tiny'\nrerank = false\n"
                    "[[config]]\nname = 'tiny'\n[[config]]\nname = 'gone'\n"
                    "llm = '/nowhere/x.gguf'\n", encoding="utf-8")
    out = tmp_path / "exp"
    cmd = [sys.executable, "-m", "deerin", "experiment", str(plan), "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list((out / "steps").glob("index-*.json")) and time.monotonic() < deadline:
        assert proc.poll() is None, "the experiment ended before its index step was recorded"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the parent and its step process, mid-eval
    proc.wait()
    assert not list((out / "steps").glob("eval-*.json")) and not (out / "report.md").exists()

    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 3, res.stderr  # one configuration not run: partial
    assert "tiny: indexing: done in an earlier run" in res.stderr
    assert "gone: not run: llm = '/nowhere/x.gguf'" in res.stderr
    assert "row 5: malformed time '1:2x'" in res.stderr
    report = (out / "report.md").read_text(encoding="utf-8")
    for section in ("Configurations", "Retrieval", "Answers", "Cost: speed, size, memory",
                    "Questions only one configuration got right", "Summary"):
        assert f"## {section}" in report
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    tiny, gone = data["configurations"]
    assert gone["status"] == "not run" and "not found" in gone["problem"]
    assert tiny["status"] == "done" and tiny["answers"]["n"] == 3
    assert tiny["index"]["realtime_factor"] > 0 and tiny["index"]["size_mb"] > 0
    assert tiny["index"]["peak_rss_mb"] > 50 and tiny["eval"]["peak_rss_mb"] > 50
    assert tiny["latency"]["source"] == "probe, 1 questions" and tiny["latency"]["p50"] > 0
    assert tiny["retrieval"]["baseline"]["recall@5"] is not None
    assert data["experiment"]["resumed_steps"] and data["experiment"]["sheet_errors"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("<svg") == 5 and "http" not in html.split("<body>")[1].replace(
        "http://www.w3.org/2000/svg", "")


def test_bootstrap_marks_noise_and_is_seeded() -> None:
    from eval.stats import mean_interval, paired_difference, ratio_interval

    same = paired_difference([1.0, 0.0, 1.0, 1.0], [1.0, 0.0, 1.0, 1.0])
    assert same is not None and same.value == 0 and same.noise
    small = paired_difference([1.0, 0.0, 1.0, 0.0, 1.0], [1.0, 1.0, 1.0, 0.0, 1.0])
    assert small is not None and small.value == 0.2 and small.noise  # one question: noise
    big = paired_difference([0.0] * 20, [1.0] * 18 + [0.0] * 2)
    assert big is not None and big.lo > 0 and not big.noise
    assert mean_interval([0.0, 1.0] * 5, seed=3) == mean_interval([0.0, 1.0] * 5, seed=3)
    slow = ratio_interval([1.0, 1.1, 0.9, 1.0], [2.0, 2.2, 1.8, 2.1])
    assert slow is not None and 1.9 < slow.value < 2.2 and slow.lo > 1.0
    assert mean_interval([]) is None


# -- /compare -------------------------------------------------------------------------------------
def test_compare_arguments() -> None:
    from assistant.web.compare import CompareUsage, Side, parse_argument

    a, b, q = parse_argument("[fast | tiny+rerank=off] Who spoke?", {})
    assert (a, b, q) == (Side("fast"), Side("tiny", False), "Who spoke?")
    a, b, q = parse_argument("Who spoke?", {"DEERIN_COMPARE": "rerank=on|rerank=off"})
    assert (a, b) == (Side(None, True), Side(None, False))
    assert parse_argument("x", {})[:2] == (Side("default"), Side("fast"))
    assert parse_argument("[llm=ollama:llama3.2 | ollama:qwen] x", {})[:2] == (
        Side("ollama:llama3.2"), Side("ollama:qwen"))
    for bad, why in (("[fast] x", "two sides"), ("[a | b]", "no question"),
                     ("[a | rerank=maybe] x", "on or off"), ("[a | foo=1] x", "unknown"),
                     ("[a | b x", "missing ]")):
        with pytest.raises(CompareUsage, match=why):
            parse_argument(bad, {})


@pytest.mark.slow  # loads the embedder, the reranker and the tiny LLM, and answers twice
def test_compare_answers_with_two_configurations(tmp_path: Path, jfk: Path, bear: Path) -> None:
    """The tiny tier with the server's rerank and with rerank off, over a real index: both
    answers, their citations as players, and a timing row each."""
    from assistant.web.chat_service import ChatService
    from assistant.web.compare import CompareCommand
    from indexing.pipeline import Indexer
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    settings = Settings.from_env({}, db_dir=tmp_path / "db", ocr=False, faces=False)
    assert not Indexer(LanceStore(settings.db_dir), settings).index([jfk, bear]).failures
    service = ChatService(settings, "tiny")
    reply = CompareCommand().run(
        service, "[tiny | tiny+rerank=off] What does Kennedy ask his fellow Americans?")
    text = reply.text
    assert "### A: tiny" in text and "### B: tiny, rerank off" in text
    assert text.count("| A |") == 1 and text.count("| B |") == 1
    # One player per citation listed (the tiny model may cite nothing and refuse).
    assert len(reply.players) == text.count("\n- [")
    assert all(p.url.startswith("/media/") and p.audio for p in reply.players)
    usage = CompareCommand().run(service, "[tiny] no second side")
    assert usage.text.startswith("**/compare:** two sides")


@pytest.mark.slow
def test_example_plan_report_and_cache_speedup(tmp_path: Path) -> None:
    """The example plan (default tier, fast tier, rerank off over five files): every report
    section, and each later configuration's indexing >= 3x faster than the first (only the LLM
    or the rerank differs, so every stage comes from the cache)."""
    out = tmp_path / "example"
    res = subprocess.run([sys.executable, "-m", "deerin", "experiment",
                          str(REPO / "eval/plans/example.toml"), "--out", str(out)], cwd=REPO,
                         env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stderr
    report = (out / "report.md").read_text(encoding="utf-8")
    from eval.experiment.report import SECTIONS

    assert all(f"## {s}" in report for s in SECTIONS)
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    first, *later = data["configurations"]
    assert [c["status"] for c in data["configurations"]] == ["done"] * 3
    for c in later:
        assert c["index"]["speedup_vs_first"] >= 3.0, c["index"]
        assert all(v["misses"] == 0 for v in c["index"]["cache"].values())
        assert "vs_reference" in c and c["name"] in " ".join(data["summary"])
    assert first["answers"]["n"] == 14 and "<svg" in (out / "report.html").read_text()
