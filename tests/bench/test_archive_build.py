"""bench/archive/build.py: sentence cues timed from their word count, the SRT sidecars the
indexer reads back, the seeded plan of whole parts up to the requested hours, and the manifest."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from indexing.stages.subtitles import find_sidecars, read_cues

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("archive_build", REPO / "bench/archive/build.py")
build = importlib.util.module_from_spec(_spec)
sys.modules["archive_build"] = build
_spec.loader.exec_module(build)


def _doc(fileid: str, sentences: int) -> build.Document:
    text = "[ Editorial note ]\n\n" + " ".join(
        f"Sentence {i} of {fileid} has exactly nine words here." for i in range(sentences))
    meta = {"president_full": "A. President", "date": "1800-01-01", "sotu_type": "written",
            "source_url": f"https://example.org/{fileid}", "sha256": "0" * 64}
    return build.Document(fileid, meta, text)


def test_sentences_drop_editorial_lines_and_split_on_stops() -> None:
    text = ("[ As delivered ]\n\nMr. Speaker: We met. The U.S. grew! Did it?\n\n"
            "\"Yes.\" 1,000 more from John Q. Adams.")
    assert build.sentences(text) == ["Mr. Speaker: We met.", "The U.S. grew!", "Did it?",
                                     "\"Yes.\"", "1,000 more from John Q. Adams."]


def test_long_sentences_become_cues_of_at_most_max_words() -> None:
    words = [f"w{i}" for i in range(40)]
    cues = build.cue_texts(" ".join(words) + ".")
    assert [len(c.split()) for c in cues] == [14, 14, 12]
    assert " ".join(cues).split() == [*words[:-1], "w39."]


def test_cues_run_back_to_back_at_the_reading_speed() -> None:
    cues = build.timed(["one two three", "four five six seven eight nine ten eleven twelve"])
    assert cues[0] == build.Cue(0.0, 3 * 0.4 + 0.4, "one two three")
    assert (cues[1].start, cues[1].end) == (1.6, 5.6)
    assert build.srt_time(3725.25) == "01:02:05,250"


def test_plan_is_seeded_takes_whole_parts_and_grows_by_prefix() -> None:
    docs = [_doc(f"d{i}", 10) for i in range(5)]  # 10 cues of 4.0 s each: 40 s a document
    files = build.plan(docs, 100 / 3600, seed=7)
    assert files == build.plan(list(reversed(docs)), 100 / 3600, seed=7)
    assert [len(f["cues"]) for f in files] == [10, 10, 10]  # 120 s: the part that reaches 100 s
    assert all(f["whole"] for f in files)
    assert build.plan(docs, 50 / 3600, seed=7) == files[:2]
    assert build.plan(docs, 100 / 3600, seed=8) != files


def test_a_long_document_is_split_into_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "MAX_PART_S", 20.0)
    files = build.plan([_doc("long", 12)], 1.0, seed=0)
    assert [f["name"] for f in files] == ["0000-long-p1", "0000-long-p2", "0000-long-p3"]
    assert [len(f["cues"]) for f in files] == [5, 5, 2]
    assert all(f["cues"][0].start == 0.0 for f in files)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_build_writes_sidecars_the_indexer_reads_and_a_manifest(tmp_path: Path) -> None:
    docs = [_doc("a", 3), _doc("b", 4)]
    m = build.build(20 / 3600, tmp_path, seed=1, docs=docs)
    assert sum(f["cues"] for f in m["files"]) == 7  # both whole: 12 s, then 16 s
    for f in m["files"]:
        video = tmp_path / f["video"]
        assert find_sidecars(video) == [tmp_path / f["subtitles"]]
        cues = read_cues(tmp_path / f["subtitles"])
        assert len(cues) == f["cues"] and cues[-1].end == pytest.approx(f["speech_s"])
        assert all(c.end - c.start == pytest.approx(4.0) for c in cues)
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                                "-of", "csv=p=0", str(video)], capture_output=True, text=True,
                               check=True)
        assert float(probe.stdout) == pytest.approx(f["duration_s"], abs=0.05)
        assert f["source"]["licence"] == build.TEXT_LICENCE
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk == m and m["timing"]["words_per_minute"] == build.WORDS_PER_MINUTE
    stamp = (tmp_path / m["files"][0]["video"]).stat().st_mtime_ns
    assert build.build(20 / 3600, tmp_path, seed=1, docs=docs) == m  # idempotent
    assert (tmp_path / m["files"][0]["video"]).stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_the_pinned_wheel_downloads_and_holds_every_address(tmp_path: Path) -> None:
    docs = build.documents(build.wheel_path(tmp_path, None))
    assert len(docs) == 249 and all(d.text.strip() for d in docs)
