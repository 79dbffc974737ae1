"""Shot detection with PySceneDetect's AdaptiveDetector, plus one keyframe JPEG per shot.

One decode pass does both jobs: every frame is shrunk to about ``downscale_width`` pixels for the
detector, and a thinning sample of the current shot's frames is kept so the frame nearest the
middle of each shot is at hand when the shot ends. That avoids a second decode (or one ffmpeg
seek per shot) just for keyframes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from indexing.fmt import one_line
from indexing.media import MediaError, grab_frame
from indexing.types import Media, Shot

if TYPE_CHECKING:
    import numpy as np

    from indexing.settings import Settings

_QUEUE_FRAMES = 16
# Decoded frames waiting for the detector take at most about this much memory: 16 frames of 4K
# video would hold 400 MB, so large pictures get a shorter queue (never under 2 frames).
_QUEUE_BYTES = 64 * 1024 * 1024


class SceneDetectShots:
    """A :class:`~indexing.protocols.ShotDetector` on PySceneDetect's ``AdaptiveDetector``.

    The tuning leans towards recall, because a missed cut leaves part of the picture without any
    keyframe while an extra cut only costs one more. ``threshold`` is the detector's adaptive
    ratio: the library default (3.0) misses hard cuts between two busy, fast-moving shots (Tears
    of Steel at 37.5 s and 48.2 s); 2.0 finds them without adding cuts on camera moves in our
    test footage. Its known costs: something filling most of the frame for a moment reads as a
    cut (an explosion in Tears of Steel at 69.4 s, a van crossing the bikes clip at 3.0 s), and
    the buzzard's wings sweeping over the lens in Popeye part 3 (35-44 s) read as a string of
    them. ``min_content_val`` at 20 rather
    than 15 drops weak changes such as Big Buck Bunny's slow pans. ``min_shot`` (seconds) stops
    flashes and muzzle fire from splitting a shot into slivers; it stays below half a second
    because real cuts in action scenes can be that close (Tears of Steel: 51.4 s and 51.9 s).

    Needs PySceneDetect 0.7 or later (detectors take timecodes and ``min_scene_len`` in seconds).
    """

    def __init__(
        self,
        downscale_width: int = 320,
        *,
        threshold: float = 2.0,
        min_content_val: float = 20.0,
        min_shot: float = 0.3,
        keyframe_width: int = 640,
        jpeg_quality: int = 90,
    ) -> None:
        self.downscale_width = downscale_width
        self.threshold = threshold
        self.min_content_val = min_content_val
        self.min_shot = min_shot
        self.keyframe_width = keyframe_width
        self.jpeg_quality = jpeg_quality

    @classmethod
    def from_settings(cls, settings: Settings) -> SceneDetectShots:
        """Build a detector from the shared :class:`~indexing.settings.Settings`."""
        return cls(downscale_width=settings.shot_downscale_width)

    def detect(self, media: Media, keyframe_dir: Path | None = None) -> list[Shot]:
        """Return the shots of ``media`` in order, covering ``[0, media.duration]``.

        Audio-only media have no shots. When ``keyframe_dir`` is given, one JPEG per shot (the
        frame nearest its middle) is written there as ``{media_id}_{index:04d}.jpg``. Raises
        :class:`~indexing.media.MediaError` when the picture cannot be decoded.
        """
        if not media.has_video:
            return []
        spans = self._scan(media.path, keep_frames=keyframe_dir is not None)
        spans = _merge_tail(spans, media.duration, self.min_shot)
        shots = []
        for index, (start, end, key) in enumerate(spans):
            end = media.duration if index == len(spans) - 1 else end
            keyframe = key_time = None
            if keyframe_dir is not None:
                keyframe = keyframe_dir / f"{media.media_id}_{index:04d}.jpg"
                if key is None:  # no decoded frame was sampled for this shot: seek for one
                    key_time = (start + end) / 2
                    grab_frame(media.path, key_time, keyframe, width=self.keyframe_width)
                else:
                    key_time, image = key
                    self._write_jpeg(keyframe, image)
            shots.append(Shot(index=index, start=start, end=end, keyframe=keyframe,
                              keyframe_time=key_time))
        return shots

    def _scan(self, path: Path, keep_frames: bool) -> list[_Span]:
        """Decode ``path`` once; return ``(start, end, (time, image) | None)`` per shot."""
        import cv2
        from scenedetect import AdaptiveDetector

        video = _open(path)
        width, height = video.frame_size
        # An integer factor, like PySceneDetect's own downscale, rounded half up (an 800 px video
        # is read at 266 px rather than 400 px for a 320 px target). Cropping the few pixels
        # that do not divide evenly lets OpenCV take its fast box-filter path for INTER_AREA,
        # about 3x faster than an area resize by a fractional ratio.
        f = max(1, int(width / max(self.downscale_width, 1) + 0.5))
        w, h = max(1, width // f), max(1, height // f)

        def shrink(frame: np.ndarray) -> np.ndarray:
            return cv2.resize(frame[: h * f, : w * f], (w, h), interpolation=cv2.INTER_AREA)

        detector = AdaptiveDetector(adaptive_threshold=self.threshold,
                                    min_content_val=self.min_content_val,
                                    min_scene_len=self.min_shot)
        middle = _MiddleFrame(min(self.keyframe_width, width)) if keep_frames else None

        spans: list[_Span] = []
        start = 0.0
        last: Any = None
        depth = queue_depth(width, height)
        for position, frame, small in _frames(video, shrink, depth):
            cuts = detector.process_frame(position, small)
            for cut in cuts:
                # The detector reports a cut a few frames after it happened, so the frames
                # already sampled past the cut go to the next shot (``_MiddleFrame.split``).
                key = middle.split(start, cut.seconds) if middle else None
                spans.append((start, cut.seconds, key))
                start = cut.seconds
            if middle:
                middle.offer(position.seconds, frame)
            last = position
        if last is None:
            raise MediaError("no video frame could be decoded")
        for cut in detector.post_process(last):
            key = middle.split(start, cut.seconds) if middle else None
            spans.append((start, cut.seconds, key))
            start = cut.seconds
        end = last.seconds + 1.0 / float(video.frame_rate)
        spans.append((start, end, middle.split(start, end) if middle else None))
        return spans

    def _write_jpeg(self, path: Path, image: np.ndarray) -> None:
        import cv2

        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]):
            raise MediaError(f"could not write keyframe {path}")


_Keyframe = tuple[float, "np.ndarray"]
_Span = tuple[float, float, "_Keyframe | None"]


class _MiddleFrame:
    """A bounded, time-spaced sample of the current shot's frames, thinned as the shot grows.

    Frames are sampled at most every ``step`` seconds; whenever more than ``2 * keep`` are held,
    every other one is dropped and the spacing doubles. So memory stays bounded and the frame
    picked at the end of a shot lies within about ``max(step, length / (2 * keep))`` of its
    middle, whatever the shot's length.
    """

    def __init__(self, width: int, keep: int = 16, step: float = 0.25) -> None:
        self.width = width
        self.keep = keep
        self.step = step
        self._kept: list[_Keyframe] = []
        self._spacing = step
        self._next = 0.0

    def offer(self, time: float, frame: np.ndarray) -> None:
        if time < self._next:
            return
        self._kept.append((time, self._shrink(frame)))
        if len(self._kept) > 2 * self.keep:
            self._kept = self._kept[::2]
            self._spacing *= 2
        self._next = self._kept[-1][0] + self._spacing

    def split(self, start: float, cut: float) -> _Keyframe | None:
        """The kept frame nearest the middle of ``[start, cut)``; later ones start the next shot."""
        before = [k for k in self._kept if k[0] < cut]
        self._kept = [k for k in self._kept if k[0] >= cut]
        self._spacing, self._next = self.step, cut
        if not before:
            return None
        mid = (start + cut) / 2
        return min(before, key=lambda k: abs(k[0] - mid))

    def _shrink(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        h, w = frame.shape[:2]
        if w <= self.width:
            return frame.copy()
        return cv2.resize(frame, (self.width, max(2, round(h * self.width / w))),
                          interpolation=cv2.INTER_AREA)


def _open(path: Path) -> Any:
    """Open ``path`` with OpenCV, else PyAV (which copes with some containers OpenCV cannot).

    The backend classes are used directly rather than ``scenedetect.open_video``, whose own
    fallback logs warnings to stderr that would break into the CLI's progress display.
    """
    from scenedetect.backends.opencv import VideoStreamCv2

    backends: list[Any] = [VideoStreamCv2]
    try:
        from scenedetect.backends.pyav import VideoStreamAv
    except ImportError:  # PyAV is optional; OpenCV alone reads the common formats
        pass
    else:
        backends.append(VideoStreamAv)
    reason = "unknown error"
    for backend in backends:
        try:
            video = backend(str(path))
        except Exception as exc:  # each backend raises its own types (VideoOpenFailure, av.error)
            reason = one_line(exc)
            continue
        if video.frame_size[0] > 0:
            return video
        reason = "no picture size"
    raise MediaError(f"video could not be decoded: {reason}")


def queue_depth(width: int, height: int) -> int:
    """How many decoded BGR frames of this size may wait for the detector (see
    :data:`_QUEUE_BYTES`)."""
    frame_bytes = max(width * height * 3, 1)
    return max(2, min(_QUEUE_FRAMES, _QUEUE_BYTES // frame_bytes))


def _frames(
    video: Any, shrink: Callable[[np.ndarray], np.ndarray], depth: int = _QUEUE_FRAMES
) -> Iterator[tuple[Any, np.ndarray, np.ndarray]]:
    """Yield ``(position, frame, shrink(frame))``, decoding and shrinking in a background thread.

    OpenCV releases the GIL, so on two cores decoding the next frames overlaps with detection on
    the current one (the same trick PySceneDetect's ``SceneManager`` uses).
    """
    frames: queue.Queue[tuple[Any, Any, Any]] = queue.Queue(depth)
    stop = threading.Event()
    failure: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                frame = video.read()
                if frame is False:
                    break
                frames.put((video.position, frame, shrink(frame)))
        except Exception as exc:  # surfaced in the caller's thread below
            failure.append(exc)
        finally:
            frames.put((None, None, None))

    reader = threading.Thread(target=read, name="shots-decode", daemon=True)
    reader.start()
    try:
        while True:
            position, frame, small = frames.get()
            if frame is None:
                break
            yield position, frame, small
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue, then let it end
            try:
                frames.get_nowait()
            except queue.Empty:
                reader.join(timeout=0.05)
    if failure:
        raise MediaError(f"video could not be decoded: {one_line(failure[0])}")


def _merge_tail(spans: list[_Span], duration: float, min_shot: float) -> list[_Span]:
    """Fold a sliver shot at the very end (a cut just before the last frame) into its neighbour.

    The detector's own guard only looks backwards from each cut, so nothing stops a cut in the
    last ``min_shot`` seconds; the previous shot's keyframe is kept as it shows most of the span.
    """
    while len(spans) > 1 and duration - spans[-1][0] < min_shot:
        start, _, key = spans[-2]
        spans = [*spans[:-2], (start, spans[-1][1], key)]
    return spans
