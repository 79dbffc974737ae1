"""The OCR character-error-rate harness, on frames of the real footage read by the real
RapidOCR as indexing runs it."""

from __future__ import annotations

from pathlib import Path

from eval.ocr_cer import GoldFrame, edit_distance, evaluate, normalise, read_gold
from indexing.settings import Settings
from tests.support import REPO


def test_edit_distance() -> None:
    assert edit_distance("", "") == 0
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("TAXI", "") == 4
    assert normalise("  Big  Buck\nBUNNY ") == "big buck bunny"


def test_gold_set_has_ten_frames_with_text() -> None:
    gold = read_gold(REPO / "eval" / "sets" / "ocr.jsonl")
    assert sum(1 for g in gold if g.text) >= 10


def test_cer_of_a_clean_caption_and_an_empty_frame(media_dir: Path) -> None:
    gold = [GoldFrame("big_buck_bunny_0_30.webm", 21.5, "THE PEACH OPEN MOVIE PROJECT PRESENTS"),
            GoldFrame("steamboat_willie_1928_clip.mp4", 10.0, ""),
            GoldFrame("no_such_file.mp4", 1.0, "x")]
    result = evaluate(gold, media_dir, Settings.from_env({}))
    assert [f.cer for f in result.frames] == [0.0, 0.0]
    assert result.cer == 0.0 and result.chars == 37
    assert len(result.missing) == 1 and "no_such_file.mp4" in result.missing[0]


def test_eval_ocr_command(tmp_path: Path, media_dir: Path) -> None:
    import json

    from typer.testing import CliRunner

    from deerin.cli import app

    gold = tmp_path / "ocr.jsonl"
    gold.write_text(json.dumps({"file": "big_buck_bunny_0_30.webm", "second": 22.0,
                                "text": "The Peach Open Movie Project Presents"}) + "\n")
    result = CliRunner().invoke(app, ["eval-ocr", str(gold), "--media", str(media_dir),
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cer"] == 0.0  # compared case-folded
    gold.write_text('{"file": "x.mp4", "second": "soon"}\n')
    bad = CliRunner().invoke(app, ["eval-ocr", str(gold)])
    assert bad.exit_code == 2 and "line 1" in bad.output
