"""Timelines cite the master's own frames: exact rational rates, drop-frame EDLs for 29.97, the
source's start timecode (read with ffprobe) in the source columns; round trips through OTIO's
adapters on 23.976, 25 and 29.97 fps sources made with ``ffmpeg -timecode``."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from deerin.cli.cuts import write_exports
from indexing.media import probe
from indexing.timecode import (
    SourceTiming,
    Timing,
    start_frame,
    timeline_timing,
)
from indexing.types import ClipKind
from interaction.collection import cut_timing
from interaction.cuts import Cut, Occurrence
from interaction.exports import ExportError, sequence_format, write_sequence
from interaction.timeline import frame_range
from tests.support.media import frame_bytes, make_video

SOURCES = [  # rate, start timecode, container and codec
    ("24000/1001", "01:00:00:00", ".mov", ("-c:v", "mpeg2video")),
    ("25", "10:00:00:00", ".mxf", ("-c:v", "mpeg2video")),
    ("30000/1001", "10:00:00;00", ".mov", ("-c:v", "mpeg2video")),
]


def _cut(path: Path, start: float, end: float, duration: float = 4.0) -> Cut:
    occ = Occurrence("m" * 24, str(path), ClipKind.SUBTITLE, start, end, "words")
    return Cut("m" * 24, str(path), start, end, "words", True, duration, (occ,))


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("timecode")
    return {rate: make_video(folder / f"src_{rate.replace('/', '_')}{ext}", rate=rate,
                             timecode=tc, video=codec, audio=("-c:a", "pcm_s16le"))
            for rate, tc, ext, codec in SOURCES}


def test_ffprobe_gives_each_source_its_rate_and_start_timecode(sources) -> None:
    found = {rate: probe(path, media_id="-") for rate, path in sources.items()}
    assert {r: m.frame_rate for r, m in found.items()} == {
        "24000/1001": "24000/1001", "25": "25/1", "30000/1001": "30000/1001"}
    assert {r: m.timecode for r, m in found.items()} == {
        "24000/1001": "01:00:00:00", "25": "10:00:00:00", "30000/1001": "10:00:00;00"}
    timing, problems = timeline_timing([found["30000/1001"], found["25"]])
    assert not problems
    assert (timing.rate, timing.drop_frame, timing.name) == (Fraction(30000, 1001), True,
                                                             "29.97 DF")
    assert timing.of(str(sources["25"])) == SourceTiming(Fraction(25), 900000, False)


def test_an_hour_at_29_97_drifts_not_a_frame(sources, tmp_path: Path) -> None:
    """29.97 counted as 30 puts a cut an hour in 108 frames late; the exact rate and drop-frame
    timecode put it at 11:00:00;00 on a master starting at 10:00:00;00."""
    import opentimelineio as otio

    path = sources["30000/1001"]
    timing, _ = cut_timing([_cut(path, 0.0, 1.0)])
    source = timing.of(str(path))
    cut = _cut(path, 3600.0, 3601.0, duration=4000.0)
    assert frame_range(cut, source) == (107892, 30)
    assert frame_range(cut, SourceTiming(Fraction(30))) == (108000, 30)  # the old drift
    clip = next(write_and_read(cut, tmp_path / "hour.edl", timing))
    tc = otio.opentime.to_timecode(clip.source_range.start_time, float(source.rate))
    assert tc == "11:00:00;00"


def write_and_read(cut: Cut, out: Path, timing: Timing):
    import opentimelineio as otio

    write_sequence([cut], out, name="t", timing=timing)
    kwargs = {"rate": float(timing.rate)} if out.suffix == ".edl" else {}
    back = otio.adapters.read_from_file(str(out), **kwargs)
    return iter(back.video_tracks()[0].find_clips())


@pytest.mark.parametrize("rate", [r for r, *_ in SOURCES])
@pytest.mark.parametrize("suffix", [".edl", ".xml", ".otio"])
def test_timelines_round_trip_on_the_source_frames(sources, tmp_path: Path, rate: str,
                                                   suffix: str) -> None:
    path = sources[rate]
    cuts = [_cut(path, 0.52, 1.9), _cut(path, 2.3, 3.61)]
    timing, problems = cut_timing(cuts)
    assert not problems
    source = timing.of(str(path))
    out = tmp_path / f"cut{suffix}"
    write_sequence(cuts, out, name="t", timing=timing)
    import opentimelineio as otio

    back = otio.adapters.read_from_file(str(out), **({"rate": float(timing.rate)}
                                                     if suffix == ".edl" else {}))
    clips = list(back.video_tracks()[0].find_clips())
    got = [(round(c.source_range.start_time.value), round(c.source_range.duration.value))
           for c in clips]
    want = [(source.start + first, frames)
            for first, frames in (frame_range(c, source) for c in cuts)]
    assert got == want
    assert all(abs(c.source_range.start_time.rate - float(source.rate)) < 1e-6 for c in clips)
    if suffix == ".edl":
        text = out.read_text()
        assert ("FCM: DROP FRAME" if source.drop_frame else "FCM: NON-DROP FRAME") in text
        first_event = next(ln for ln in text.splitlines() if ln.startswith("001"))
        assert (";" in first_event) == source.drop_frame


def test_edl_of_a_29_97_master_at_ten_hours_lands_on_the_right_frames(sources,
                                                                       tmp_path: Path) -> None:
    """Read the EDL back, turn its source timecode into a frame of the file, and that frame is
    the picture the cut starts on."""
    import opentimelineio as otio

    path = sources["30000/1001"]
    cut = _cut(path, 2.3, 3.0)
    timing, _ = cut_timing([cut])
    clip = next(write_and_read(cut, tmp_path / "ten.edl", timing))
    source_in = otio.opentime.to_timecode(clip.source_range.start_time, float(timing.rate))
    assert source_in == "10:00:02;09"  # frame 69 of the file: 2.3 s x 29.97
    frame = start_frame(source_in, timing.rate)[0] - start_frame("10:00:00;00",
                                                                 timing.rate)[0]
    assert frame == 69
    assert frame_bytes(path, index=frame) == frame_bytes(path, seconds=2.3 + 1e-3)
    assert frame_bytes(path, index=frame) != frame_bytes(path, index=frame + 1)


def test_non_drop_29_97_timecode_stays_non_drop(tmp_path: Path) -> None:
    path = make_video(tmp_path / "ndf.mov", rate="30000/1001", timecode="10:00:00:00",
                      video=("-c:v", "mpeg2video"), audio=None)
    cut = _cut(path, 1.0, 2.0)
    timing, _ = cut_timing([cut])
    assert not timing.drop_frame and timing.of(str(path)).start == 1080000
    out = tmp_path / "ndf.edl"
    write_sequence([cut], out, timing=timing)
    text = out.read_text()
    assert "FCM: NON-DROP FRAME" in text and ";" not in text
    assert "10:00:01:00" in text  # frame 30 of a non-drop count from 10:00:00:00
    clip = next(write_and_read(cut, out, timing))
    assert round(clip.source_range.start_time.value) == 1080000 + 30


def test_a_rate_no_timecode_counts_is_refused_for_frame_formats_only(tmp_path: Path) -> None:
    odd = make_video(tmp_path / "phone.mp4", rate="17", audio=None)
    cuts = [_cut(odd, 0.5, 1.5)]
    _, problems = cut_timing(cuts)
    assert problems == ["phone.mp4: frame rate 17/1 is no timecode rate (one of 23.976, 24, "
                        "25, 29.97, 30, 48, 50, 59.94, 60 fps)"]
    outs = [tmp_path / "x.edl", tmp_path / "x.xml", tmp_path / "x.otio", tmp_path / "x.json"]
    refused = write_exports(cuts, outs, "odd")
    assert refused == outs[:2]
    assert [p.exists() for p in outs] == [False, False, True, True]


def test_fcpxml_is_refused_with_the_reason() -> None:
    with pytest.raises(ExportError, match=r"cannot write cut\.fcpxml: .*29\.97 fps to 29.*"
                                          r"export \.xml"):
        sequence_format(Path("cut.fcpxml"))
