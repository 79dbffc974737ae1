"""Subtitles in every form archives hold, indexed and searchable at the right second: an SCC
sidecar timed on the master's clock, a TTML sidecar, and text tracks inside the file (SubRip in
Matroska, mov_text in MP4); bitmap tracks are reported, not read."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from indexing.media import probe
from indexing.pipeline import Indexer
from indexing.settings import Settings
from indexing.stages.embedded_subtitles import embedded_tracks, language_code
from indexing.stages.subtitles import read_subtitles
from indexing.stores.lance import LanceStore
from indexing.types import ClipKind
from tests.indexing.stages.test_caption_files import SCC, TTML
from tests.support.media import make_video

SRT = """1
00:00:01,200 --> 00:00:02,800
Glaciers calve into the fjord

2
00:00:03,500 --> 00:00:05,000
Seals watch from the ice
"""


def _embed(tmp: Path, name: str, codec: str, language: str) -> Path:
    plain = make_video(tmp / f"plain_{name}", seconds=6.0, audio=None)
    srt = tmp / f"{name}.srt.in"
    srt.write_text(SRT, encoding="utf-8")
    out = tmp / name
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(plain), "-f", "srt",
                    "-i", str(srt), "-map", "0:v", "-map", "1:s", "-c:v", "copy", "-c:s", codec,
                    "-metadata:s:s:0", f"language={language}", str(out)], check=True,
                   capture_output=True, timeout=120)
    plain.unlink()
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("subtitle-forms")
    films = tmp / "films"
    films.mkdir()
    # A broadcast master starting at 01:00:00;00 whose SCC counts from the same clock.
    make_video(films / "harbour.mov", rate="30000/1001", seconds=6.0, timecode="01:00:00;00",
               video=("-c:v", "mpeg2video"), audio=None)
    (films / "harbour.scc").write_text(re.sub(r"00:00:(\d\d):(\d\d)", r"01:00:\1;\2", SCC),
                                       encoding="utf-8")
    make_video(films / "cliffs.mp4", seconds=9.0, audio=None)
    (films / "cliffs.en.ttml").write_text(TTML, encoding="utf-8")
    _embed(films, "glacier.mkv", "srt", "eng")
    _embed(films, "seals.mp4", "mov_text", "nor")
    return films


def test_embedded_text_tracks_are_read_with_their_times(folder: Path) -> None:
    for name, lang in (("glacier.mkv", "en"), ("seals.mp4", "no")):
        tracks, warnings = embedded_tracks(probe(folder / name))
        assert not warnings
        (track,) = tracks
        assert track.language == lang
        assert [(c.start, c.end, c.text) for c in track.track.cues] == [
            (1.2, 2.8, "Glaciers calve into the fjord"), (3.5, 5.0, "Seals watch from the ice")]
    assert language_code("und") is None and language_code("pt-BR") == "pt"


def test_bitmap_subtitle_tracks_are_reported_in_one_line(popeye3: Path) -> None:
    tracks, warnings = embedded_tracks(probe(popeye3))
    assert tracks == []
    assert warnings == ["subtitle track 1 (dvd_subtitle) holds pictures of text, not text: "
                        "not read"]


def test_every_form_is_searchable_at_the_right_second(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "index"
    settings = Settings.from_env({}, db_dir=db, shots=False, ocr=False, faces=False)
    store = LanceStore(db)
    report = Indexer(store, settings).index([folder])
    assert not report.failures, report.failures
    notes = {r.path.name: r.warnings for r in report.results}
    assert any("moved to the file's clock" in w for w in notes["harbour.mov"])
    assert any("1 cue(s) skipped" in w and "A cue nobody can time" in w
               for w in notes["cliffs.mp4"])
    # The SCC's own reading on a file starting at 00:00:00:00: where each caption is shown
    # (its end-of-caption command, a few frames after the line's timecode).
    plain = tmp_path / "plain.scc"
    plain.write_text(SCC, encoding="utf-8")
    zanzibar, dawn = (c.start for c in read_subtitles(plain).cues)
    for word, name, second in (("Zanzibar", "harbour.mov", zanzibar),
                               ("dawn", "harbour.mov", dawn),
                               ("ferry", "cliffs.mp4", 4.0), ("fjord", "glacier.mkv", 1.2),
                               ("Seals", "seals.mp4", 3.5), ("Seals", "glacier.mkv", 3.5)):
        hits = [h for h in store.search(word, None, k=10)
                if Path(h.clip.media_path).name == name]
        assert hits, (word, name)
        clip = hits[0].clip
        assert clip.kind is ClipKind.SUBTITLE
        at = next(t.start for t in clip.times
                  if word.lower() in clip.text[t.char_start:t.char_end].lower())
        assert abs(at - second) < 0.04, (word, name, at)
    languages = {Path(c.media_path).name: c.language for c in store.all_clips()}
    assert languages["cliffs.mp4"] == "en" and languages["seals.mp4"] == "no"
