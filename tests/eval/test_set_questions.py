"""The set-question gold format and set-recall; the graph set loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.gold import load_gold
from eval.metrics import set_recall
from tests.support import REPO


def _write(tmp_path: Path, obj: dict[str, object]) -> Path:
    p = tmp_path / "g.jsonl"
    p.write_text(json.dumps(obj) + "\n", encoding="utf-8")
    return p


BASE = {"id": "q", "question": "Which recordings mention Americans?", "media": "a.flac",
        "start": 0.0, "end": 4.0, "expect": ["Americans"], "answerable": True}


def test_spans_and_set_recall(tmp_path: Path) -> None:
    spans = [{"media": "a.flac", "start": 0.0, "end": 4.0},
             {"media": "b.ogg", "start": 90.0, "end": 95.0}]
    (gold,) = load_gold(_write(tmp_path, BASE | {"spans": spans}))
    assert gold.gold_spans == (("a.flac", 0.0, 4.0), ("b.ogg", 90.0, 95.0))
    retrieved = [("/x/b.ogg", 88.0, 100.0), ("/x/a.flac", 5.0, 9.0), ("/x/a.flac", 0.0, 11.0)]
    assert set_recall(retrieved, gold, 1) == 0.5
    assert set_recall(retrieved, gold, 2) == 0.5  # touching the wrong seconds is no hit
    assert set_recall(retrieved, gold, 3) == 1.0
    (single,) = load_gold(_write(tmp_path, BASE))  # the old format: one span
    assert single.gold_spans == (("a.flac", 0.0, 4.0),)
    assert set_recall(retrieved[2:], single, 5) == 1.0


@pytest.mark.parametrize("spans", [[], [{"media": "a/b.flac", "start": 0, "end": 1}],
                                   [{"media": "a.flac", "start": 3, "end": 1}],
                                   [{"media": "a.flac", "start": 0}]])
def test_bad_spans_name_the_line(tmp_path: Path, spans: list[dict[str, object]]) -> None:
    with pytest.raises(ValueError, match=r"g\.jsonl:1"):
        load_gold(_write(tmp_path, BASE | {"spans": spans}))


def test_graph_set_loads_with_set_gold() -> None:
    golds = load_gold(REPO / "eval" / "sets" / "graph.jsonl")
    assert len(golds) >= 20
    assert sum(len({m for m, _, _ in g.gold_spans}) > 1 for g in golds) >= 12  # across files
