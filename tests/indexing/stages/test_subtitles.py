"""Sidecar discovery and the SRT/WebVTT reader, on the corpus sidecars and hand-made edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexing.stages.subtitles import find_sidecars, read_cues
from indexing.types import Cue


def _write(path: Path, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes(text.replace("\n", newline).encode(encoding))
    return path


# --- the real sidecars -------------------------------------------------------------------------

def test_popeye_part3_srt_has_the_buzzard_at_57s(popeye3: Path) -> None:
    sidecars = find_sidecars(popeye3)
    assert sidecars == [popeye3.with_suffix(".srt")]
    cues = read_cues(sidecars[0])  # the file starts with a UTF-8 BOM
    assert len(cues) == 15
    assert cues[0] == Cue(12.4, 13.7, "[squawk]")
    buzzard = [c for c in cues if "buzzard" in c.text]
    assert buzzard == [Cue(57.012, 59.012, "That's the biggest buzzard I ever saw")]
    # Cue 12 spans two lines in the file.
    assert Cue(54.064, 55.664, "I gotta take another look at that thing") in cues
    assert cues[-1] == Cue(59.036, 61.036, "Look at that fellow go")


def test_his_girl_friday_vtt(friday: Path) -> None:
    sidecars = find_sidecars(friday)
    assert sidecars == [friday.with_suffix(".vtt")]
    cues = read_cues(sidecars[0])  # cue settings ("line:80%") follow every timing
    assert cues == [
        Cue(0.0, 0.999, "Hildy!"),
        Cue(1.0, 1.499, "How are you?"),
        Cue(1.5, 2.999, "Tell me, is the lord of the universe in?"),
        Cue(3.0, 4.299, "Yes, he's in - in a bad humor"),
        Cue(4.3, 6.0, "Somebody must've stolen the crown jewels"),
    ]


def test_every_corpus_sidecar_parses(media_dir: Path) -> None:
    files = sorted(media_dir.glob("*.srt")) + sorted(media_dir.glob("*.vtt"))
    assert len(files) == 5
    for f in files:
        cues = read_cues(f)
        assert cues, f
        assert all(c.text and 0 <= c.start <= c.end for c in cues), f
        assert [c.start for c in cues] == sorted(c.start for c in cues), f


# --- sidecar discovery -------------------------------------------------------------------------

def test_find_sidecars_matches_stem_and_language_tags(tmp_path: Path) -> None:
    media = tmp_path / "movie.mp4"
    media.write_bytes(b"")
    for name in ("movie.srt", "movie.vtt", "movie.en.srt", "movie.pt-BR.vtt",
                 "movie.en.forced.srt", "Movie.SRT.txt", "movie.part2.srt", "movies.srt",
                 "other.srt", "movie.nfo", "movie.a.b.c.srt"):
        (tmp_path / name).write_text("")
    (tmp_path / "movie.de.srt").mkdir()  # a folder is not a sidecar
    assert [p.name for p in find_sidecars(media)] == [
        "movie.srt", "movie.vtt", "movie.en.forced.srt", "movie.en.srt", "movie.pt-BR.vtt",
    ]


def test_find_sidecars_with_dots_spaces_and_case(tmp_path: Path) -> None:
    media = tmp_path / "Nosferatu (1922) v2.0.mkv"
    media.write_bytes(b"")
    _write(tmp_path / "Nosferatu (1922) v2.0.ENG.SRT", "")
    _write(tmp_path / "Nosferatu (1922) v2.srt", "")
    assert [p.name for p in find_sidecars(media)] == ["Nosferatu (1922) v2.0.ENG.SRT"]
    assert find_sidecars(tmp_path / "missing-folder" / "x.mp4") == []


# --- encodings and line endings ----------------------------------------------------------------

SRT = """1
00:00:01,000 --> 00:00:02,500
Café au lait, señor?

2
00:00:03,000 --> 00:00:04,000
«Oui» – naïve façade
"""


def test_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "a.srt"
    path.write_bytes(b"\xef\xbb\xbf" + SRT.replace("\n", "\r\n").encode("utf-8"))
    assert read_cues(path) == [
        Cue(1.0, 2.5, "Café au lait, señor?"),
        Cue(3.0, 4.0, "«Oui» – naïve façade"),
    ]


def test_cp1252_fallback(tmp_path: Path) -> None:
    path = _write(tmp_path / "b.srt", SRT, encoding="cp1252", newline="\r\n")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    assert [c.text for c in read_cues(path)] == ["Café au lait, señor?", "«Oui» – naïve façade"]


def test_latin1_bytes_cp1252_cannot_decode(tmp_path: Path) -> None:
    path = tmp_path / "c.srt"
    # 0x81 is undefined in cp1252; latin-1 still maps it, so the cue survives.
    path.write_bytes(b"1\n00:00:01,000 --> 00:00:02,000\nna\xefve \x81\n")
    assert read_cues(path) == [Cue(1.0, 2.0, "na\u00efve \x81")]


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = _write(tmp_path / "d.srt", SRT, encoding="utf-16")
    assert read_cues(path)[0].text == "Café au lait, señor?"


def test_old_mac_line_endings(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.srt", SRT, newline="\r")
    assert len(read_cues(path)) == 2


# --- text clean-up -----------------------------------------------------------------------------

def test_tags_are_stripped(tmp_path: Path) -> None:
    path = _write(tmp_path / "tags.srt", """1
00:00:01,000 --> 00:00:02,000
{\\an8}<i>Up here</i>,
<font color="#ffff00">in <b>yellow</b></font>

2
00:00:02,000 --> 00:00:03,000
<u>Tom &amp; Jerry</u> say 2 &lt; 3 & 5 > 4

3
00:00:03,000 --> 00:00:04,000
<i></i>

4
00:00:04,000 --> 00:00:05,000
{\\i1}{\\pos(10,20)}   spaced    out   {\\i0}
""")
    assert read_cues(path) == [
        Cue(1.0, 2.0, "Up here, in yellow"),
        Cue(2.0, 3.0, "Tom & Jerry say 2 < 3 & 5 > 4"),
        Cue(4.0, 5.0, "spaced out"),
    ]


def test_vtt_without_hours_notes_styles_and_spans(tmp_path: Path) -> None:
    path = _write(tmp_path / "f.vtt", """WEBVTT - with a title
Kind: captions
Language: en

STYLE
::cue { color: yellow }

NOTE This note runs
over two lines

REGION
id:top

intro
00:01.000 --> 00:02.500 align:start position:10%
<v Walter>Hello <c.loud>there</c></v>

NOTE
00:09.000 --> 00:10.000
a timing inside a note is ignored

1:02:03.5 --> 1:02:04.25
<00:02.000>karaoke <00:02.500>words

00:03.000 --> 00:04.000
\t
""")
    assert read_cues(path) == [
        Cue(1.0, 2.5, "Hello there"),
        Cue(3723.5, 3724.25, "karaoke words"),
    ]


def test_cues_are_sorted_and_empty_ones_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path / "g.srt", """2
00:00:05,000 --> 00:00:06,000
second

1
00:00:01.000 --> 00:00:02.000
first

3
00:00:07,000 --> 00:00:08,000

""")
    assert read_cues(path) == [Cue(1.0, 2.0, "first"), Cue(5.0, 6.0, "second")]


def test_sloppy_but_readable_srt(tmp_path: Path) -> None:
    # No cue numbers, a missing blank line between cues, a stray blank line inside a cue.
    path = _write(tmp_path / "h.srt", """00:00:01,000 --> 00:00:02,000
one
2
00:00:03,000 --> 00:00:04,000
two

and a half
""")
    assert read_cues(path) == [Cue(1.0, 2.0, "one"), Cue(3.0, 4.0, "two and a half")]


def test_empty_files_have_no_cues(tmp_path: Path) -> None:
    assert read_cues(_write(tmp_path / "empty.srt", "")) == []
    assert read_cues(_write(tmp_path / "empty.vtt", "WEBVTT\n\nNOTE nothing yet\n")) == []


# --- malformed files ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("1\n00:00:01,000 --> 00:00:0x,000\nbad\n", 2, "malformed timing"),
        ("1\n00:00:01,000 --> soon\nbad\n", 2, "malformed timing"),
        ("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n00:00:75,000 --> 00:00:76,000\nx\n", 6,
         "below 60"),
        ("1\n00:00:05,000 --> 00:00:02,000\nbackwards\n", 2, "before it starts"),
        ("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\n\n3\n00:00:03,000 --> 00:00:04,000\nx\n",
         5, "has no timing line"),
        ("This is not a subtitle file.\nJust prose.\n", 1, "expected a 'start --> end'"),
    ],
)
def test_malformed_raises_with_file_and_line(tmp_path: Path, text: str, line: int,
                                             message: str) -> None:
    path = _write(tmp_path / "bad file.srt", text)
    with pytest.raises(ValueError, match=message) as err:
        read_cues(path)
    assert str(path) in str(err.value)
    assert f"line {line}:" in str(err.value)
