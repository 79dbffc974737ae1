"""bench/rerank_depth.py on the session's real index (MiniLM, the shipped SmolLM2 reranker):
every depth ranks the same candidates, scores are timed once per clip, and depth 0 is the
first stage's own order."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from assistant.calibration import RERANK_DEPTH

REPO = Path(__file__).resolve().parents[2]


def test_depths_rank_the_same_candidates(speech_index: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("rerank_depth", REPO / "bench/rerank_depth.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["rerank_depth"] = bench
    spec.loader.exec_module(bench)
    monkeypatch.delenv("DEERIN_RERANK", raising=False)
    gold = tmp_path / "gold.jsonl"
    lines = [line for line in (REPO / "eval/sets/dev.jsonl").read_text().splitlines()
             if line.startswith("{") and "gwb_columbia_address_2003.ogg" in line][:3]
    gold.write_text("\n".join(lines) + "\n")
    out = tmp_path / "depths.json"
    assert bench.main([str(gold), "--db", str(speech_index), "--depths", "0,4",
                       "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    current = RERANK_DEPTH
    assert "| 0 |" in printed and f"| {current} (current) |" in printed
    assert f"depth 4 vs {current}" in printed
    result = json.loads(out.read_text())
    assert result["depths"] == [0, 4, current]  # the current depth always runs
    (only,) = result["sets"].values()
    assert len(only["ids"]) == 3
    assert all(len(only["ranks"][str(d)]) == 3 for d in (0, 4, current))
    assert only["seconds"]["0"] == [0.0, 0.0, 0.0]
    # Deeper costs at least as much: each clip is scored once, the time adds up.
    assert all(a <= b for a, b in zip(only["seconds"]["4"], only["seconds"][str(current)],
                                      strict=True))
