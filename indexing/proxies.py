"""Browser-playable access copies of masters no browser plays.

Archive masters come as MXF, ProRes, DV, MPEG-2 (often interlaced), HEVC, 10-bit or 4:2:2
H.264, PCM in QuickTime: they index, but a ``<video>`` element cannot play them, so the clip an
answer cites would not play in the chat. For such a file indexing makes, once, an H.264/AAC MP4
access copy (deinterlaced, at most 720 lines, ``faststart`` so a player can seek at once), or an
AAC ``.m4a`` for a sound file, in the index's own ``proxies`` folder, named by the file's content
id. The master is only read.

A copy appears only whole (written beside its name, then renamed), so a killed run leaves no
half file; the next run makes the copy it finds missing. Files that need none get an empty
``<id>.none`` marker, so later runs decide without probing them again.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from indexing.fmt import one_line
from indexing.media import MediaError, require_ffmpeg
from indexing.types import Media

PROXY_DIR = "proxies"
# What current browsers (Chromium, Firefox, Safari) all decode without a plug-in.
PLAYABLE_CONTAINERS = frozenset({"mov", "mp4", "m4a", "matroska", "webm", "ogg", "wav", "mp3",
                                 "flac"})
PLAYABLE_VIDEO = frozenset({"h264", "vp8", "vp9", "av1", "theora"})
PLAYABLE_AUDIO = frozenset({"aac", "mp3", "opus", "vorbis", "flac"})
# H.264 that browsers decode: 8-bit 4:2:0 (AVC-Intra, XAVC and 10-bit camera files are not).
PLAYABLE_PIXELS = frozenset({"", "yuv420p", "yuvj420p"})
MAX_LINES = 720


def proxy_reason(media: Media) -> str:
    """Why a browser cannot play ``media`` ("" when it can): its container or a codec."""
    containers = set(media.container.split(",")) if media.container else set()
    if containers and not containers & PLAYABLE_CONTAINERS:
        return f"{media.container} container"
    for stream in media.streams:
        if stream.kind == "video" and stream.codec not in PLAYABLE_VIDEO:
            return f"{stream.codec} video"
        if stream.kind == "audio" and stream.codec not in PLAYABLE_AUDIO and not (
                stream.codec.startswith("pcm_") and "wav" in containers):
            return f"{stream.codec} audio"
    if media.has_video and media.pixel_format not in PLAYABLE_PIXELS:
        return f"{media.pixel_format} pictures"
    return ""


def proxy_of(db_dir: Path, media_id: str) -> Path | None:
    """The access copy of the file with content id ``media_id``, if the index has one."""
    for suffix in (".mp4", ".m4a"):
        path = Path(db_dir) / PROXY_DIR / f"{media_id}{suffix}"
        if path.is_file():
            return path
    return None


def ensure_proxy(media: Media, db_dir: Path) -> tuple[Path | None, str]:
    """The access copy of ``media``, made now if it needs one and has none: ``(path or None,
    warning)``. A transcode that fails only warns (the master stays indexed)."""
    folder = Path(db_dir) / PROXY_DIR
    existing = proxy_of(db_dir, media.media_id)
    if existing is not None or (folder / f"{media.media_id}.none").exists():
        return existing, ""
    reason = proxy_reason(media)
    folder.mkdir(parents=True, exist_ok=True)
    if not reason:
        (folder / f"{media.media_id}.none").touch()
        return None, ""
    try:
        return make_proxy(media, folder), ""
    except MediaError as exc:
        return None, f"no browser-playable copy ({reason}): {exc}"


def make_proxy(media: Media, folder: Path) -> Path:
    """Transcode ``media`` into ``folder`` as ``<id>.mp4`` (H.264/AAC) or, without a picture,
    ``<id>.m4a`` (AAC); :class:`MediaError` with ffmpeg's reason when it cannot."""
    require_ffmpeg()
    out = folder / f"{media.media_id}{'.mp4' if media.has_video else '.m4a'}"
    partial = folder / f".{media.media_id}.{os.getpid()}.partial{out.suffix}"
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(media.path), "-sn", "-dn"]
    if media.has_video:
        cmd += ["-map", "0:v:0", "-map", "0:a:0?",
                # Deinterlace only frames flagged interlaced; never upscale; even sizes for 4:2:0.
                "-vf", f"yadif=deint=interlaced,scale=-2:'min({MAX_LINES},ih)',format=yuv420p",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
    else:
        cmd += ["-map", "0:a:0", "-vn"]
    cmd += ["-c:a", "aac", "-b:a", "160k", "-ac", "2", "-movflags", "+faststart",
            "-f", "mp4", str(partial)]
    timeout = max(600.0, media.duration * 4)  # an hour of HD transcodes in well under that
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if proc.returncode != 0 or not partial.is_file():
            raise MediaError(f"ffmpeg failed: {one_line(proc.stderr)}")
        partial.replace(out)
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"ffmpeg took over {timeout:.0f} s") from exc
    finally:
        partial.unlink(missing_ok=True)
    return out


def prune_proxies(db_dir: Path, keep: Iterable[str]) -> list[Path]:
    """Delete access copies, markers and half-written files of content ids not in ``keep``;
    return what was deleted."""
    folder = Path(db_dir) / PROXY_DIR
    if not folder.is_dir():
        return []
    wanted = set(keep)
    gone = []
    for path in folder.iterdir():
        media_id = path.name.lstrip(".").split(".", 1)[0]
        if media_id not in wanted or path.name.startswith("."):
            path.unlink(missing_ok=True)
            gone.append(path)
    return gone
