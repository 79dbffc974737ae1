"""Aggregation gold derived from subtitle cues, and lists scored against it."""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.aggregation import AggregationQuestion, derive_gold, load_aggregation, score_list

REPO = Path(__file__).resolve().parents[2]

SRT = """1
00:00:00,000 --> 00:00:04,000
Relations with Cuba remain cordial.

2
00:00:04,000 --> 00:00:08,000
New Mexico was admitted.

3
00:00:08,000 --> 00:00:12,000
The Gulf of Mexico and Cuba were surveyed.
"""


def test_every_matching_cue_is_gold(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"")
    (tmp_path / "a.en.srt").write_text(SRT, encoding="utf-8")
    (tmp_path / "b.mp4").write_bytes(b"")  # no sidecar: no gold
    qs = [AggregationQuestion("cuba", "Every moment where Cuba is named.", r"\bCuba\b"),
          AggregationQuestion("mexico", "Which recordings mention Mexico?",
                              r"(?<!New )\bMexico\b", "recording")]
    gold = derive_gold(qs, [tmp_path / "b.mp4", tmp_path / "a.mp4"])
    assert gold["cuba"] == (("a.mp4", 0.0, 4.0), ("a.mp4", 8.0, 12.0))
    assert gold["mexico"] == (("a.mp4", 8.0, 12.0),)


def test_moment_lists_are_scored_by_the_core_of_each_gold_cue() -> None:
    gold = [("a.mp4", 0.0, 4.0), ("a.mp4", 8.0, 12.0), ("b.mp4", 0.0, 4.0)]
    listed = [("/x/a.mp4", 0.0, 10.0),  # holds the first cue whole, 2 s of the second
              ("/x/a.mp4", 11.5, 20.0),  # grazes the second: not a hit
              ("/x/c.mp4", 0.0, 4.0)]  # right seconds, wrong file
    s = score_list(listed, gold, "moment")
    assert s.listed == 3 and s.recall == pytest.approx(2 / 3)
    assert s.precision == pytest.approx(1 / 3)
    assert score_list([], gold, "moment").precision is None
    assert score_list(listed, [], "moment").recall is None


def test_recording_lists_are_scored_by_file() -> None:
    gold = [("a.mp4", 0.0, 4.0), ("a.mp4", 8.0, 12.0), ("b.mp4", 0.0, 4.0)]
    s = score_list([("/x/a.mp4", 50.0, 60.0), ("/x/c.mp4", 0.0, 1.0)], gold, "recording")
    assert (s.listed, s.recall, s.precision) == (2, 0.5, 0.5)


def test_the_archive_sets_load_and_name_their_unit() -> None:
    for name in ("aggregation.jsonl", "aggregation_dev.jsonl"):
        qs = load_aggregation(REPO / "eval/sets/archive" / name)
        assert len(qs) >= 10 and {q.unit for q in qs} == {"moment", "recording"}
        assert len({q.id for q in qs}) == len(qs)


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('// fine\n{"id": "x", "question": "q", "pattern": "("}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        load_aggregation(bad)
    bad.write_text('{"id": "x", "question": "q", "pattern": "a", "unit": "shot"}\n')
    with pytest.raises(ValueError, match="unit"):
        load_aggregation(bad)
