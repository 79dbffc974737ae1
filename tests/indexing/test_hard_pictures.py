"""Hard pictures in one indexing batch: black, single-colour, tiny, 4K, portrait, variable
frame rate and undecodable videos, made with the real ffmpeg, beside a real good file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import pytest

from indexing.backends.scenedetect import queue_depth
from indexing.types import ClipKind

FFMPEG = ["ffmpeg", "-nostdin", "-v", "error", "-y"]


def _make(out: Path, source: str, *extra: str) -> Path:
    subprocess.run([*FFMPEG, "-f", "lavfi", "-i", source, *extra, "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


@pytest.fixture(scope="module")
def hard_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("hard-videos")
    videos = {
        "black": _make(d / "black.mp4", "color=black:s=320x240:d=3:r=25"),
        "blank": _make(d / "blank.mp4", "color=0x3366cc:s=320x240:d=3:r=25"),
        "tiny": _make(d / "tiny.mp4", "testsrc2=s=48x32:d=3:r=25"),
        "huge": _make(d / "huge.mp4", "testsrc2=s=3840x2160:d=1:r=8"),
        "portrait": _make(d / "portrait.mp4", "testsrc2=s=360x640:d=3:r=25"),
        # Frames 30-59 last three times as long, later ones half as long.
        "vfr": _make(d / "vfr.mp4", "testsrc2=s=320x240:d=4:r=30", "-vf",
                     "setpts='if(lt(N,30),PTS,if(lt(N,60),PTS*3,PTS*0.5))'", "-fps_mode", "vfr"),
    }
    # A container ffprobe reads whose every frame is garbage: the index moved to the front,
    # then the media data zeroed.
    broken = _make(d / "undecodable.mp4", "testsrc2=s=320x240:d=3:r=25", "-movflags",
                   "+faststart")
    data = bytearray(broken.read_bytes())
    start = data.find(b"mdat") + 8
    data[start:] = bytes(len(data) - start)
    broken.write_bytes(bytes(data))
    videos["undecodable"] = broken
    return videos


def test_queue_of_decoded_frames_is_bounded_in_bytes() -> None:
    assert queue_depth(320, 240) == 16
    assert queue_depth(1920, 1080) == 10
    assert queue_depth(3840, 2160) == 2
    assert queue_depth(7680, 4320) == 2


def test_hard_pictures_are_indexed_or_reported_and_the_rest_is_indexed(
        hard_videos: dict[str, Path], bikes: Path, tmp_path: Path) -> None:
    from indexing.pipeline import Indexer
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    db = tmp_path / "db"
    store = LanceStore(db)
    settings = Settings.from_env({}, db_dir=db)  # OCR and faces on, as by default
    report = Indexer(store, settings).index([*hard_videos.values(), bikes])

    failed = {f.path.name: f for f in report.failures}
    assert set(failed) == {"undecodable.mp4"}
    assert failed["undecodable.mp4"].reason == "no video frame could be decoded"
    assert failed["undecodable.mp4"].stage == "shots"
    assert [f.path for f in store.failures()] == [str(hard_videos["undecodable"])]

    media = {Path(m.path).name: m for m in store.media()}
    assert set(media) == {p.name for n, p in hard_videos.items() if n != "undecodable"} | {
        bikes.name}
    for name, m in media.items():
        shots = store.shots_of(m.media_id)
        assert shots, name
        assert shots[-1].end == pytest.approx(m.duration, abs=0.05), name
        for shot in shots:
            assert shot.faces == 0 or name == bikes.name, (name, shot)  # counted: no faces
            assert shot.keyframe is not None and shot.keyframe.exists(), name
        # No picture here carries text: nothing may be read into the index as junk.
        ocr = [c for c in store.clips_of(m.media_id) if c.kind is ClipKind.OCR]
        assert ocr == [], (name, [c.text for c in ocr])

    def keyframe_size(name: str) -> tuple[int, int]:
        shot = store.shots_of(media[name].media_id)[0]
        image = cv2.imread(str(shot.keyframe))
        return image.shape[1], image.shape[0]

    assert keyframe_size("huge.mp4") == (640, 360)  # 4K keyframes are stored downscaled
    assert keyframe_size("portrait.mp4") == (360, 640)  # upright, never stretched
    assert keyframe_size("tiny.mp4") == (48, 32)  # never blown up
    assert media["vfr.mp4"].duration == pytest.approx(6.0, abs=0.2)
