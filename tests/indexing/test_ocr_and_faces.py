"""On-screen text (RapidOCR) and faces on real footage, through the real indexer and CLI.

Big Buck Bunny shows "THE PEACH OPEN MOVIE PROJECT / PRESENTS" from about 20.5 s to the cut at
23.0 s; His Girl Friday's single shot shows two faces, Big Buck Bunny's none.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deerin.cli import app
from indexing.backends.rapidocr import RapidTextReader
from indexing.media import file_hash, probe
from indexing.pipeline import Indexer
from indexing.settings import Settings
from indexing.stages.ocr import Sample, caption_clips, load_frame, sample_times
from indexing.stages.ocr_text import WordSplitter, is_junk, same_text
from indexing.stores.lance import LanceStore
from indexing.types import ClipKind, Shot, TextBox

TITLE = "PEACH OPEN MOVIE PROJECT"


@pytest.fixture(scope="module")
def visual_index(tmp_path_factory: pytest.TempPathFactory, bunny: Path,
                 friday: Path) -> tuple[Path, object]:
    """An index of Big Buck Bunny, His Girl Friday and a corrupt video, OCR and faces on."""
    folder = tmp_path_factory.mktemp("visual-media")
    broken = folder / "broken_reel.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    db = tmp_path_factory.mktemp("visual-index")
    report = Indexer(LanceStore(db), Settings.from_env({}, db_dir=db)).index(
        [bunny, broken, friday])
    return db, report


def test_word_splitter_splits_glued_english_runs_only() -> None:
    splitter = WordSplitter()
    assert splitter.split("THEPEACH OPEN MOVIE PROJECT") == "THE PEACH OPEN MOVIE PROJECT"
    assert splitter.split("ThePeach presents") == "The Peach presents"
    # Real words, names and short runs are left as read.
    assert splitter.split("Steamboat Willie PRESENTS") == "Steamboat Willie PRESENTS"
    assert splitter.split("Xqzvbnmkt") == "Xqzvbnmkt"
    assert splitter.split("BBC ONE") == "BBC ONE"


def test_junk_lines_are_dropped() -> None:
    box = (0.1, 0.1, 0.5, 0.2)
    assert is_junk(TextBox("BORKSY", 0.71, box))  # unsure
    assert is_junk(TextBox("名", 0.99, box))  # too short
    assert is_junk(TextBox("12:04:33", 0.99, box))  # mostly not letters
    assert not is_junk(TextBox("PRESENTS", 0.99, box))
    assert same_text("THE PEACH OPEN MOVIE PROJECT", "THE PEACH 0PEN MOVIE PR0JECT.")
    assert not same_text("THE PEACH OPEN MOVIE PROJECT", "PRESENTS")


def test_samples_are_bounded_per_minute() -> None:
    shots = [Shot(i, i * 10.0, (i + 1) * 10.0, keyframe_time=i * 10.0 + 5) for i in range(12)]
    samples = sample_times(shots, every=4.0, max_per_minute=12.0)
    assert len(samples) == 24  # 2 minutes: every keyframe, then extras up to the budget
    assert {s.time for s in samples} >= {s.keyframe_time for s in shots}
    assert [s.time for s in samples] == sorted(s.time for s in samples)
    slivers = [Shot(i, i * 0.2, (i + 1) * 0.2, keyframe_time=i * 0.2 + 0.1) for i in range(10)]
    assert len(sample_times(slivers, every=4.0)) == 1  # a flash of cuts is read once


def test_same_caption_on_consecutive_frames_is_one_clip(bunny: Path) -> None:
    media = probe(bunny, file_hash(bunny))
    shot = Shot(4, 15.67, 22.96)
    samples = [Sample(t, shot) for t in (20.0, 21.0, 22.0)] + [Sample(24.0, Shot(5, 22.96, 30.0))]
    reader = RapidTextReader()
    readings = [reader.read([load_frame(media, s)])[0] for s in samples]
    assert not readings[0] and readings[1] and readings[2]
    clips = caption_clips(media, samples, readings, WordSplitter())
    assert len(clips) == 1
    clip = clips[0]
    assert TITLE in clip.text and "PRESENTS" in clip.text
    # Not on screen at 20 s, gone by the cut at 22.96 s.
    assert (clip.start, clip.end) == (20.0, 22.96)
    assert clip.box is not None and 0.1 < clip.box[0] < clip.box[2] < 0.9


def test_index_makes_ocr_clips_with_times(visual_index: tuple[Path, object],
                                         bunny: Path) -> None:
    db, _ = visual_index
    store = LanceStore(db, create=False)
    media = next(m for m in store.media() if m.path == str(bunny))
    ocr = [c for c in store.clips_of(media.media_id) if c.kind is ClipKind.OCR]
    title = [c for c in ocr if TITLE in c.text]
    assert len(title) == 1, [c.text for c in ocr]
    # The caption is on screen from about 20.5 s to the cut at 23.0 s.
    assert 15.6 <= title[0].start <= 21.0 and 22.0 <= title[0].end <= 23.0
    assert title[0].box is not None


def test_search_finds_on_screen_text(visual_index: tuple[Path, object]) -> None:
    db, _ = visual_index
    out = CliRunner().invoke(app, ["search", "the peach open movie project", "--db", str(db),
                                   "-k", "3", "--json"])
    assert out.exit_code == 0, out.output
    hits = json.loads(out.stdout)
    assert hits[0]["kind"] == "ocr" and TITLE in hits[0]["text"]
    assert len(hits[0]["box"]) == 4


def test_corrupt_video_is_reported_and_the_rest_indexed(visual_index: tuple[Path, object],
                                                        bunny: Path, friday: Path) -> None:
    _, report = visual_index
    assert [f.path.name for f in report.failures] == ["broken_reel.mp4"]  # type: ignore[attr-defined]
    assert {r.path for r in report.results} == {bunny, friday}  # type: ignore[attr-defined]


def test_faces_counted_per_shot_and_search_with_people(visual_index: tuple[Path, object],
                                                       bunny: Path, friday: Path) -> None:
    db, _ = visual_index
    store = LanceStore(db, create=False)
    by_path = {m.path: m.media_id for m in store.media()}
    friday_faces = [s.faces for s in store.shots_of(by_path[str(friday)])]
    bunny_faces = [s.faces for s in store.shots_of(by_path[str(bunny)])]
    assert friday_faces and all(f is not None and f >= 1 for f in friday_faces)
    assert bunny_faces and all(f == 0 for f in bunny_faces)
    runner = CliRunner()
    plain = json.loads(runner.invoke(app, ["search", "the peach open movie project", "--db",
                                           str(db), "--json"]).stdout)
    people = json.loads(runner.invoke(app, ["search", "the peach open movie project", "--db",
                                            str(db), "--json", "--with-people"]).stdout)
    assert any(h["media"] == str(bunny) for h in plain)
    assert people and all(h["media"] == str(friday) for h in people)
