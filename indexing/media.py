"""ffprobe / ffmpeg helpers: probing, content hashing, audio decoding and frame grabs.

Every failure is raised as :class:`MediaError` with a one-line, human-readable reason, so the
pipeline can report a bad file by name and carry on with the rest of the batch.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from indexing.fmt import one_line
from indexing.types import Media, Stream

SAMPLE_RATE = 16_000
# Blocks read from ffmpeg while streaming: 30 s is 1.9 MB, large enough that the per-read cost is
# nil and small enough that the block never matters next to the recogniser's chunk.
DECODE_BLOCK_SECONDS = 30.0
_HASH_CHUNK = 4 << 20  # bytes read from the head, middle and tail of large files


class MediaError(Exception):
    """A file that cannot be used as media; the message is a one-line reason."""


def require_ffmpeg() -> None:
    """Raise :class:`MediaError` when ffmpeg or ffprobe is not on PATH."""
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise MediaError(f"{tool} is not installed (run the README's set-up command)")


def file_hash(path: Path, *, full: bool = False) -> str:
    """A content hash of ``path``: the media id of the file.

    Files up to 12 MiB are always hashed whole. Larger ones (archive masters run to many GB) are
    by default hashed from a *sample*: their size plus three 4 MiB windows (head, middle, tail),
    so indexing a 50 GB folder does not have to read 50 GB twice. Any re-encode, trim or append
    changes the sampled hash, but an edit confined to the unsampled bytes of a large file (a
    patched frame in the middle of a reel) does not. ``full=True`` hashes every byte instead; it
    gives the same id as the sample for files up to 12 MiB and a different one for larger
    files, so one index keeps to one scheme (the store records which).
    """
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        if full or size <= 3 * _HASH_CHUNK:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        else:
            for offset in (0, size // 2 - _HASH_CHUNK // 2, size - _HASH_CHUNK):
                f.seek(offset)
                h.update(f.read(_HASH_CHUNK))
    return h.hexdigest()[:24]


def probe(path: Path, media_id: str | None = None) -> Media:
    """Probe ``path`` with ffprobe and return a :class:`Media`.

    Raises :class:`MediaError` for empty files, files ffprobe cannot read, and files with neither
    an audio nor a video stream.
    """
    require_ffmpeg()
    st = path.stat()
    if st.st_size == 0:
        raise MediaError("empty file (0 bytes)")
    proc = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if proc.returncode != 0:
        raise MediaError(f"not readable as media: {one_line(proc.stderr)}")
    try:
        info = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise MediaError(f"ffprobe gave unreadable output: {exc}") from exc
    fmt = info.get("format") or {}
    streams: list[Stream] = []
    width = height = 0
    fps = 0.0
    frame_rate = pixel_format = ""
    has_video = has_audio = False
    for s in info.get("streams") or []:
        kind = s.get("codec_type", "data")
        disposition = s.get("disposition") or {}
        if kind == "video" and disposition.get("attached_pic"):
            kind = "data"  # cover art in an audio file is not a picture track
        streams.append(Stream(index=int(s.get("index", len(streams))), kind=kind,
                              codec=s.get("codec_name", "?"),
                              language=(s.get("tags") or {}).get("language")))
        if kind == "video" and not has_video:
            has_video = True
            width, height = int(s.get("width") or 0), int(s.get("height") or 0)
            fps = _rate(s.get("avg_frame_rate")) or _rate(s.get("r_frame_rate"))
            # The base rate first: a variable-rate file's average says nothing of its frames.
            frame_rate = next((str(r) for r in (s.get("r_frame_rate"), s.get("avg_frame_rate"))
                               if _rate(r) > 0), "")
            pixel_format = str(s.get("pix_fmt") or "")
        elif kind == "audio":
            has_audio = True
    if not (has_audio or has_video):
        raise MediaError("no audio or video stream")
    duration = _float(fmt.get("duration"))
    if duration <= 0:
        duration = max((_float(s.get("duration")) for s in info.get("streams") or []),
                       default=0.0)
    if duration <= 0:
        raise MediaError("unknown or zero duration (truncated file?)")
    return Media(
        media_id=media_id or file_hash(path), path=path, duration=duration, size=st.st_size,
        mtime_ns=st.st_mtime_ns, has_audio=has_audio, has_video=has_video, width=width,
        height=height, fps=fps, streams=tuple(streams), frame_rate=frame_rate,
        timecode=_tag(info, "timecode"), reel=_tag(info, "reel_name"),
        container=str(fmt.get("format_name") or ""), pixel_format=pixel_format,
    )


def _tag(info: dict, name: str) -> str:
    """A tag of the container, else of its first stream that has it: MOV keeps the start
    timecode on its tmcd data track, MXF on the material package, DV and MPEG-2 on the
    picture stream."""
    found = (info.get("format") or {}).get("tags") or {}
    if found.get(name):
        return str(found[name]).strip()
    streams = sorted(info.get("streams") or [], key=lambda s: s.get("codec_type") != "video")
    for s in streams:
        value = (s.get("tags") or {}).get(name)
        if value:
            return str(value).strip()
    return ""


def _float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _rate(value: object) -> float:
    if not isinstance(value, str) or "/" not in value:
        return _float(value)
    num, den = value.split("/", 1)
    d = _float(den)
    return _float(num) / d if d else 0.0


def decode_audio(path: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode the first audio stream of ``path`` to one mono float32 array at ``sample_rate``.

    The whole file is held in memory (an hour of 16 kHz mono is 230 MB), so this is for short
    items and tools that need random access; indexing streams with :func:`decode_audio_blocks`.
    """
    require_ffmpeg()
    proc = subprocess.run(
        _decode_command(path, sample_rate), capture_output=True, timeout=3600, check=False,
    )
    audio = np.frombuffer(proc.stdout, dtype=np.float32)
    if proc.returncode != 0 and audio.size == 0:
        reason = one_line(proc.stderr.decode(errors="replace"))
        raise MediaError(f"audio could not be decoded: {reason}")
    return audio


def decode_audio_blocks(path: Path, sample_rate: int = SAMPLE_RATE,
                        block_seconds: float = DECODE_BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """Decode the first audio stream of ``path`` as a stream of mono float32 blocks.

    Every block but the last holds ``block_seconds`` of audio, so memory stays bounded however
    long the file is. ffmpeg starts when iteration starts and is stopped if the caller stops
    early. A file that yields no audio at all raises :class:`MediaError` (before any block); a
    file that breaks off part-way (a truncated download) yields the audio up to the break, as an
    archive would rather index the part it has.
    """
    require_ffmpeg()
    block_bytes = max(1, round(block_seconds * sample_rate)) * 4
    # stderr goes to a file, not a pipe: a damaged file can make ffmpeg log more than a pipe
    # buffer holds while we are blocked reading stdout, and both processes would then wait.
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(_decode_command(path, sample_rate), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=errors)
        assert proc.stdout is not None  # for mypy: stdout=PIPE always gives a stream
        decoded = 0
        try:
            while data := proc.stdout.read(block_bytes):
                usable = len(data) - len(data) % 4  # a truncated stream may end mid-sample
                if usable:
                    decoded += usable // 4
                    yield np.frombuffer(data[:usable], dtype=np.float32)
            returncode = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if decoded == 0:
            errors.seek(0)
            reason = one_line(errors.read().decode(errors="replace"))
            if returncode != 0 and reason:
                raise MediaError(f"audio could not be decoded: {reason}")
            raise MediaError("audio stream is empty or undecodable (truncated file?)")


def _decode_command(path: Path, sample_rate: int) -> list[str]:
    return ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-vn", "-sn",
            "-dn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]


def grab_frame(path: Path, time: float, out: Path, width: int = 480) -> Path:
    """Write the frame at ``time`` seconds of ``path`` as a JPEG ``width`` pixels wide."""
    require_ffmpeg()
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{max(time, 0):.3f}", "-i", str(path),
         "-frames:v", "1", "-vf", f"scale={width}:-2", "-q:v", "4", str(out)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    if proc.returncode != 0 or not out.exists():
        raise MediaError(f"frame at {time:.2f}s could not be read: {one_line(proc.stderr)}")
    return out
