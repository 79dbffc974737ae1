"""Rendering cuts into one playable file with ffmpeg, frame-accurately.

Each cut is decoded from its exact first frame (input seeking with a re-encode, never a stream
copy, which could only start on a keyframe) and rendered as a segment of exactly
``round(duration * fps)`` frames and as many audio samples: pictures scaled and padded to one
size, a black picture under an audio-only source, silence under a silent film. The segments
(H.264 + PCM) are then joined by ffmpeg's concat demuxer, the video copied and the audio encoded
once, so no codec priming or rounding piles up at the joins: the montage lasts the sum of its
cuts to within half a frame each.

When every cut comes from an audio file (or the output is an audio format) the montage is audio
only, cut to the sample.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from indexing.fmt import one_line
from indexing.media import MediaError, probe, require_ffmpeg
from indexing.types import Media
from interaction.cuts import Cut

SAMPLE_RATE = 48_000
DEFAULT_FPS = 25.0
MAX_SIZE = (1280, 720)  # the largest picture a montage is made at
VIDEO_FORMATS = {".mp4", ".m4v", ".mov", ".mkv"}
# Audio-only outputs and the codec each is encoded with.
AUDIO_FORMATS = {".m4a": ["-c:a", "aac", "-b:a", "160k"], ".mp3": ["-c:a", "libmp3lame", "-q:a",
                 "2"], ".wav": ["-c:a", "pcm_s16le"], ".flac": ["-c:a", "flac"],
                 ".ogg": ["-c:a", "libvorbis", "-q:a", "5"], ".opus": ["-c:a", "libopus",
                 "-b:a", "96k"]}
_TIMEOUT = 600  # seconds per ffmpeg call: a cut is seconds long, so only a hang reaches it


class MontageError(Exception):
    """The montage could not be rendered; the message is one line naming the cause."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """A written montage: where, whether it has a picture, how long, and at which rate."""

    path: Path
    video: bool
    duration: float  # the sum of the rendered segments, in seconds
    fps: float
    segments: tuple[float, ...]  # each cut's rendered length


def output_kind(out: Path, cuts: Sequence[Cut]) -> bool:
    """Whether a montage written to ``out`` has a picture: not for an audio format, nor when
    every cut comes from an audio file. Raises :class:`MontageError` for an unknown format."""
    suffix = out.suffix.lower()
    if suffix in AUDIO_FORMATS:
        return False
    if suffix not in VIDEO_FORMATS:
        known = ", ".join(sorted(VIDEO_FORMATS | set(AUDIO_FORMATS)))
        raise MontageError(f"cannot write a montage as {out.name}: use one of {known}")
    return any(c.has_video for c in cuts)


def render(cuts: Sequence[Cut], out: Path, *, video: bool | None = None,
           progress: Callable[[int, int], None] | None = None) -> Rendered:
    """Render ``cuts`` one after another into ``out`` (its suffix picks the container).

    ``video`` forces a picture (``True``) or none (``False``); by default see
    :func:`output_kind`. The file appears only when complete (written beside ``out`` and
    renamed). ``progress(done, total)`` is called after each segment.
    """
    if not cuts:
        raise MontageError("nothing to render: no cuts")
    require_ffmpeg()
    with_picture = output_kind(out, cuts) if video is None else video
    if with_picture and out.suffix.lower() not in VIDEO_FORMATS:
        raise MontageError(f"{out.name} is an audio format; a montage with a picture needs "
                           f"one of {', '.join(sorted(VIDEO_FORMATS))}")
    sources = _probe_sources(cuts)
    size, fps = _frame_format(sources) if with_picture else ((0, 0), DEFAULT_FPS)
    with tempfile.TemporaryDirectory(prefix="deerin-montage-") as tmp:
        work = Path(tmp)
        segments: list[Path] = []
        lengths: list[float] = []
        for i, cut in enumerate(cuts):
            seg = work / f"{i:05d}.{'mkv' if with_picture else 'wav'}"
            if with_picture:
                frames = max(1, round(cut.duration * fps))
                info = sources.get(cut.media_path)
                has_audio = info.has_audio if info is not None else True
                _run(_video_segment(cut, seg, size, fps, frames, has_audio), cut)
                lengths.append(frames / fps)
            else:
                samples = max(1, round(cut.duration * SAMPLE_RATE))
                _run(_audio_segment(cut, seg, samples), cut)
                lengths.append(samples / SAMPLE_RATE)
            segments.append(seg)
            if progress is not None:
                progress(i + 1, len(cuts))
        listing = work / "segments.txt"
        listing.write_text("".join(f"file '{s.name}'\n" for s in segments))
        partial = out.with_name(f".{out.stem}.{os.getpid()}.partial{out.suffix}")
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0",
               "-i", str(listing)]
        if with_picture:
            cmd += ["-map", "0:v", "-map", "0:a", "-c:v", "copy", "-c:a", "aac", "-b:a", "160k"]
            if out.suffix.lower() in {".mp4", ".m4v", ".mov"}:
                cmd += ["-movflags", "+faststart"]
        else:
            cmd += ["-map", "0:a", *AUDIO_FORMATS.get(out.suffix.lower(),
                                                      ["-c:a", "aac", "-b:a", "160k"])]
        cmd.append(str(partial))
        try:
            _run(cmd, None)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
    return Rendered(out, with_picture, sum(lengths), fps, tuple(lengths))


def check_writable(out: Path) -> None:
    """Raise :class:`MontageError` unless a file can be created at ``out`` (checked by creating
    and removing one beside it: permission bits alone say nothing for root)."""
    out = Path(out)
    if out.is_dir():
        raise MontageError(f"{out} is a directory; give a file name")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise MontageError(f"cannot write {out}: folder {parent} does not exist")
    try:
        fd, probe_path = tempfile.mkstemp(prefix=f".{out.name}.", dir=parent)
    except OSError as exc:
        raise MontageError(f"cannot write {out}: {exc.strerror or exc}") from exc
    os.close(fd)
    os.unlink(probe_path)


def _probe_sources(cuts: Sequence[Cut]) -> dict[str, Media]:
    """ffprobe each file of ``cuts`` once (files it cannot read are left out: their segment
    fails with ffmpeg's own reason)."""
    found: dict[str, Media] = {}
    for path in dict.fromkeys(c.media_path for c in cuts):
        try:
            found[path] = probe(Path(path), media_id="-")
        except (MediaError, OSError):
            continue
    return found


def _frame_format(sources: dict[str, Media]) -> tuple[tuple[int, int], float]:
    """The picture size (the largest source's, within :data:`MAX_SIZE`, even) and the frame
    rate (the first video source's) of a montage."""
    width = height = 0
    fps = 0.0
    for info in sources.values():
        if not info.has_video:
            continue
        if info.width * info.height > width * height:
            width, height = info.width, info.height
        if not fps and info.fps > 0:
            fps = info.fps
    if not width:
        width, height = 640, 360
    scale = min(1.0, MAX_SIZE[0] / width, MAX_SIZE[1] / height)
    size = (int(width * scale) // 2 * 2, int(height * scale) // 2 * 2)
    return size, round(fps, 3) if 1 <= fps <= 120 else DEFAULT_FPS


def _video_segment(cut: Cut, out: Path, size: tuple[int, int], fps: float,
                   frames: int, has_audio: bool) -> list[str]:
    w, h = size
    samples = round(frames / fps * SAMPLE_RATE)
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    if cut.has_video:
        cmd += ["-ss", f"{cut.start:.3f}", "-t", f"{cut.duration:.3f}", "-i", cut.media_path]
        picture = "0:v:0"
    else:  # an audio file in a video montage: shown over black
        cmd += ["-f", "lavfi", "-i", f"color=c=black:s={w}x{h}:r={fps}"]
        picture = "0:v:0"
    if has_audio:
        if cut.has_video:
            sound = "0:a:0"
        else:
            cmd += ["-ss", f"{cut.start:.3f}", "-t", f"{cut.duration:.3f}", "-i", cut.media_path]
            sound = "1:a:0"
    else:  # a silent film: silence, so every segment has the same streams
        cmd += ["-f", "lavfi", "-i", f"anullsrc=r={SAMPLE_RATE}:cl=stereo"]
        sound = "1:a:0"
    graph = (f"[{picture}]scale={w}:{h}:force_original_aspect_ratio=decrease,"
             f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={fps},format=yuv420p,"
             f"tpad=stop=-1:stop_mode=clone,trim=end_frame={frames},setpts=PTS-STARTPTS[v];"
             f"[{sound}]aresample={SAMPLE_RATE},aformat=sample_fmts=s16:channel_layouts=stereo,"
             f"apad,atrim=end_sample={samples},asetpts=PTS-STARTPTS[a]")
    return [*cmd, "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", str(max(1, round(fps))),
            "-c:a", "pcm_s16le", str(out)]


def _audio_segment(cut: Cut, out: Path, samples: int) -> list[str]:
    return ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{cut.start:.3f}",
            "-t", f"{cut.duration:.3f}", "-i", cut.media_path, "-vn", "-sn",
            "-af", f"aresample={SAMPLE_RATE},aformat=sample_fmts=s16:channel_layouts=stereo,"
                   f"apad,atrim=end_sample={samples}",
            "-c:a", "pcm_s16le", str(out)]


def _run(cmd: list[str], cut: Cut | None) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MontageError(f"ffmpeg took over {_TIMEOUT} s"
                           + (f" on {cut.label}" if cut else "")) from exc
    if proc.returncode != 0:
        where = f" on {cut.label}" if cut else " joining the segments"
        raise MontageError(f"ffmpeg failed{where}: {one_line(proc.stderr)}")
