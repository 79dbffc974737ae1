"""SCC and TTML/DFXP/EBU-TT sidecars (read with pycaption) and lenient SRT: each cue kept with
its times; a malformed cue is skipped and reported with its line, never the whole file."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.stages.subtitles import find_sidecars, on_file_clock, read_subtitles
from indexing.types import Cue, Media

# Written by pycaption's SCCWriter from two cues (1.0-2.5 s and 3.0-4.5 s), then kept by hand.
SCC = """Scenarist_SCC V1.0

00:00:00:04\t94ae 94ae 9420 9420 94e0 94e0 4ce9 6768 f468 ef75 73e5 206b e5e5 70e5 f273 20ef \
e620 da61 6e7a e962 61f2 942c 942c 942f 942f

00:00:02:14\t942c 942c

00:00:02:17\t94ae 94ae 9420 9420 94e0 94e0 5468 e520 6861 f262 ef75 f220 f761 6be5 7320 61f4 \
2064 61f7 6e80 942c 942c 942f 942f

00:00:04:14\t942c 942c
"""

TTML = """<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:tts="http://www.w3.org/ns/ttml#styling"
    xmlns:ttp="http://www.w3.org/ns/ttml#parameter" ttp:frameRate="25" xml:lang="en">
  <head><styling><style xml:id="s1" tts:color="yellow"/></styling></head>
  <body><div>
    <p begin="00:00:01.000" end="00:00:03.000" style="s1">Puffins nest on <span
       tts:fontStyle="italic">the cliffs</span></p>
    <p begin="00:00:04:00" end="00:00:05:12">The ferry<br/>leaves at noon</p>
    <p begin="soon" end="00:00:08.000">A cue nobody can time</p>
    <p begin="7s" dur="1.5s">Offset times too</p>
  </div></body>
</tt>
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_scc_cues_keep_their_times(tmp_path: Path) -> None:
    track = read_subtitles(_write(tmp_path / "film.scc", SCC))
    assert [c.text for c in track.cues] == ["Lighthouse keepers of Zanzibar",
                                            "The harbour wakes at dawn"]
    assert [(round(c.start), round(c.end, 1)) for c in track.cues] == [(1, 2.5), (3, 4.5)]
    assert not track.skipped


def test_a_malformed_scc_line_is_skipped_and_reported(tmp_path: Path) -> None:
    bad = SCC.replace("00:00:02:17\t94ae", "00:0x:02:17\t94ae").replace(
        "00:00:04:14\t942c", "00:00:04:14\tzz2c")
    track = read_subtitles(_write(tmp_path / "bad.scc", bad))
    assert [c.text for c in track.cues] == ["Lighthouse keepers of Zanzibar"]
    assert len(track.skipped) == 2
    assert track.skipped[0].startswith(f"{tmp_path / 'bad.scc'}, line 7: not an SCC caption")


def test_ttml_cues_styles_frames_and_offsets(tmp_path: Path) -> None:
    track = read_subtitles(_write(tmp_path / "film.ttml", TTML))
    assert [(c.start, c.end, c.text) for c in track.cues] == [
        (1.0, 3.0, "Puffins nest on the cliffs"), (4.0, 5.48, "The ferry leaves at noon"),
        (7.0, 8.5, "Offset times too")]
    assert len(track.skipped) == 1
    assert "line 9: cue 'A cue nobody can time' skipped" in track.skipped[0]


def test_files_that_are_not_captions_are_refused_naming_them(tmp_path: Path) -> None:
    for name, text in (("notes.scc", "Shot list\n00:00:01 a boat\n"),
                       ("notes.ttml", "<html><body>not captions</body></html>"),
                       ("broken.ttml", TTML.replace('begin="00:00:01.000"', 'begin="x"')
                        .replace('begin="00:00:04:00"', 'begin="y"')
                        .replace('begin="7s"', 'begin="z"')),
                       ("prose.srt", "This is not a subtitle file.\nJust prose.\n")):
        path = _write(tmp_path / name, text)
        with pytest.raises(ValueError, match=str(path)):
            read_subtitles(path)


def test_a_malformed_srt_cue_is_skipped_not_the_file(tmp_path: Path) -> None:
    text = ("1\n00:00:01,000 --> 00:00:02,000\nfirst\n\n2\n00:00:0x,000 --> 00:00:04,000\n"
            "broken\nstill broken\n\n3\n00:00:05,000 --> 00:00:06,000\nthird\n")
    track = read_subtitles(_write(tmp_path / "film.srt", text))
    assert [c.text for c in track.cues] == ["first", "third"]
    assert track.skipped == (f"{tmp_path / 'film.srt'}, line 6: malformed timing line "
                             "'00:00:0x,000 --> 00:00:04,000'",)


def test_caption_sidecars_are_found_and_xml_only_when_ttml(tmp_path: Path) -> None:
    media = tmp_path / "Reel 7.mxf"
    media.write_bytes(b"")
    for name, text in (("Reel 7.scc", SCC), ("Reel 7.en.ttml", TTML), ("Reel 7.dfxp", TTML),
                       ("Reel 7.xml", TTML), ("Reel 7.de.xml", "<ebuCoreMain/>")):
        _write(tmp_path / name, text)
    assert [p.name for p in find_sidecars(media)] == [
        "Reel 7.dfxp", "Reel 7.xml", "Reel 7.scc", "Reel 7.en.ttml"]


def _media(duration: float, timecode: str = "", rate: str = "30000/1001") -> Media:
    return Media("m", Path("/x/film.mov"), duration, 1, 1, True, True, fps=29.97,
                 frame_rate=rate, timecode=timecode)


def test_captions_on_the_masters_clock_move_to_the_files() -> None:
    cues = [Cue(3601.0, 3602.5, "a"), Cue(3603.0, 3604.5, "b")]
    moved, note = on_file_clock(cues, _media(6.0, "01:00:00;00"))
    assert [(round(c.start, 2), round(c.end, 2)) for c in moved] == [(1.0, 2.5), (3.0, 4.5)]
    assert "start timecode 01:00:00;00" in note
    moved, note = on_file_clock(cues, _media(6.0))
    assert [round(c.start, 2) for c in moved] == [1.0, 3.0] and "records no start" in note
    same, note = on_file_clock([Cue(1.0, 2.0, "a")], _media(6.0, "01:00:00;00"))
    assert same == [Cue(1.0, 2.0, "a")] and note == ""
