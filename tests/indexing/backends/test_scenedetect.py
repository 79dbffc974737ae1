"""Shot detection on real footage from ../shared/media (PySceneDetect, OpenCV decoding)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from indexing.backends.scenedetect import SceneDetectShots
from indexing.media import MediaError, probe
from indexing.protocols import ShotDetector
from indexing.types import Media, Shot

# ffmpeg scene hints from SOURCES.md; each was checked by eye on frame strips around it.
TEARS_HINTS = [2.2, 6.6, 9.2, 12.9, 29.8, 32.8, 36.3, 37.5, 47.0, 48.2, 50.1, 51.4, 51.9, 53.5,
               56.0, 57.4, 59.6, 67.4]
# Hard cuts the ffmpeg hint missed but frame strips show plainly (new framing, no motion link).
TEARS_ALSO_CUTS = [5.08, 41.12, 61.33, 65.46, 68.75]
BIKES_CUTS = [1.2, 5.5, 7.5, 9.7]


def _match(found: list[float], truth: list[float], tol: float = 0.5) -> tuple[int, list[float]]:
    """One-to-one matching within ``tol``: (truth cuts found, detected cuts left unmatched)."""
    unused = list(found)
    hits = 0
    for t in truth:
        near = [c for c in unused if abs(c - t) <= tol]
        if near:
            unused.remove(min(near, key=lambda c: abs(c - t)))
            hits += 1
    return hits, unused


def _cuts(shots: list[Shot]) -> list[float]:
    return [s.start for s in shots[1:]]


def _assert_contiguous(shots: list[Shot], media: Media) -> None:
    assert [s.index for s in shots] == list(range(len(shots)))
    assert shots[0].start == 0.0
    assert shots[-1].end == pytest.approx(media.duration)
    for a, b in itertools.pairwise(shots):
        assert a.end == b.start
    assert all(s.end > s.start for s in shots)


@pytest.fixture(scope="module")
def tears_shots(tears_of_steel: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[Media, list[Shot], Path]:
    media = probe(tears_of_steel)
    out = tmp_path_factory.mktemp("keyframes")
    return media, SceneDetectShots().detect(media, out), out


def test_is_a_shot_detector() -> None:
    assert isinstance(SceneDetectShots(), ShotDetector)


def test_tears_of_steel_cuts_within_half_a_second(tears_shots: tuple[Media, list[Shot], Path]
                                                  ) -> None:
    media, shots, _ = tears_shots
    cuts = _cuts(shots)
    hits, _ = _match(cuts, TEARS_HINTS)
    assert hits >= 0.8 * len(TEARS_HINTS), f"found {hits}/{len(TEARS_HINTS)} hinted cuts: {cuts}"
    _, spurious = _match(cuts, TEARS_HINTS + TEARS_ALSO_CUTS)
    # Known: an explosion filling the frame at 69.4 s reads as a cut.
    assert len(spurious) <= 2, f"cuts matching no real cut: {spurious}"
    _assert_contiguous(shots, media)


def test_tears_of_steel_keyframes(tears_shots: tuple[Media, list[Shot], Path]) -> None:
    import cv2

    media, shots, out = tears_shots
    assert sorted(p.name for p in out.iterdir()) == [
        f"{media.media_id}_{s.index:04d}.jpg" for s in shots]
    for shot in shots:
        assert shot.keyframe is not None and shot.keyframe.parent == out
        assert shot.keyframe.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG
        assert shot.keyframe_time is not None
        assert shot.start <= shot.keyframe_time < shot.end
        # Near the middle: within a quarter of the shot (sampling is every 0.25 s or finer).
        assert abs(shot.keyframe_time - (shot.start + shot.end) / 2) <= max(
            0.25, (shot.end - shot.start) / 4)
    image = cv2.imread(str(shots[5].keyframe))
    assert image is not None and image.shape[1] == 640  # 800 px source shrunk to 640


def test_tears_keyframes_show_their_shot(tears_shots: tuple[Media, list[Shot], Path]) -> None:
    """A keyframe looks like its own shot's picture, not the neighbour's across a cut."""
    import cv2
    import numpy as np

    from indexing.media import grab_frame

    media, shots, out = tears_shots
    shot = next(s for s in shots if s.start < 20.0 < s.end)  # the long shot 12.9-29.8 s
    assert shot.keyframe is not None and shot.keyframe_time is not None
    ref = grab_frame(media.path, shot.keyframe_time, out.parent / "ref.jpg", width=160)
    other = grab_frame(media.path, shot.start - 1.0, out.parent / "other.jpg", width=160)

    def small(p: Path) -> np.ndarray:
        return cv2.resize(cv2.imread(str(p)), (160, 66)).astype(np.float32)

    kf = small(shot.keyframe)
    assert np.abs(kf - small(ref)).mean() < np.abs(kf - small(other)).mean() / 2


def test_bikes_street_cuts(bikes: Path) -> None:
    media = probe(bikes)
    shots = SceneDetectShots().detect(media)
    hits, spurious = _match(_cuts(shots), BIKES_CUTS)
    assert hits == len(BIKES_CUTS), _cuts(shots)
    # Known: a van crossing the whole frame at 3.0 s reads as a cut.
    assert len(spurious) <= 1, spurious
    _assert_contiguous(shots, media)
    assert all(s.keyframe is None and s.keyframe_time is None for s in shots)


def test_single_shot_clip(friday: Path, tmp_path: Path) -> None:
    media = probe(friday)
    shots = SceneDetectShots().detect(media, tmp_path)
    assert len(shots) == 1
    _assert_contiguous(shots, media)
    assert shots[0].keyframe == tmp_path / f"{media.media_id}_0000.jpg"
    assert shots[0].keyframe.stat().st_size > 1000
    assert shots[0].keyframe_time == pytest.approx(media.duration / 2, abs=0.3)


def test_deterministic(bikes: Path, tmp_path: Path) -> None:
    media = probe(bikes)
    first = SceneDetectShots().detect(media, tmp_path / "a")
    second = SceneDetectShots().detect(media, tmp_path / "b")
    assert [(s.start, s.end, s.keyframe_time) for s in first] == [
        (s.start, s.end, s.keyframe_time) for s in second]
    assert [s.keyframe.name for s in first if s.keyframe] == [
        s.keyframe.name for s in second if s.keyframe]


def test_audio_only_has_no_shots(jfk: Path, tmp_path: Path) -> None:
    assert SceneDetectShots().detect(probe(jfk), tmp_path) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [b"", b"not a video at all\n" * 200])
def test_undecodable_video_raises_media_error(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(content)
    media = Media(media_id="bad", path=bad, duration=10.0, size=len(content), mtime_ns=0,
                  has_audio=False, has_video=True)
    with pytest.raises(MediaError) as info:
        SceneDetectShots().detect(media, tmp_path / "kf")
    assert "\n" not in str(info.value) and str(info.value)


def test_truncated_video_head_is_unreadable(bikes: Path, tmp_path: Path) -> None:
    """An MP4 cut short before its index (moov atom) cannot be decoded at all."""
    bad = tmp_path / "truncated.mp4"
    bad.write_bytes(bikes.read_bytes()[:150_000])
    media = Media(media_id="trunc", path=bad, duration=10.0, size=150_000, mtime_ns=0,
                  has_audio=False, has_video=True)
    with pytest.raises(MediaError):
        SceneDetectShots().detect(media)


def test_downscale_from_settings() -> None:
    from indexing.settings import Settings

    assert SceneDetectShots.from_settings(Settings(shot_downscale_width=240)).downscale_width == 240
