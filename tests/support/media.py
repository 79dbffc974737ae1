"""Small test media made on the spot with ffmpeg: a moving test pattern (every frame differs)
with a tone, at a chosen rate, start timecode, codec and container."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_video(out: Path, *, rate: str = "25", seconds: float = 4.0,
               timecode: str | None = None, video: tuple[str, ...] = ("-c:v", "libx264",
               "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
               audio: tuple[str, ...] | None = ("-c:a", "aac"), size: str = "160x120",
               extra: tuple[str, ...] = ()) -> Path:
    """Write ``seconds`` of ``testsrc`` at ``rate`` (``30000/1001``...) to ``out``; with
    ``timecode`` the file records that start timecode (``10:00:00;00`` is drop-frame);
    ``audio=None`` leaves the sound out."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
           "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}"]
    if audio is not None:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}:sample_rate=48000",
                "-shortest", *audio]
    cmd += [*video, *extra]
    if timecode:
        cmd += ["-timecode", timecode]
    subprocess.run([*cmd, str(out)], check=True, capture_output=True, timeout=120)
    return out


def frame_bytes(path: Path, *, index: int | None = None, seconds: float | None = None) -> bytes:
    """The raw RGB pixels of one frame of ``path``: by its index from 0 (decoding every frame
    up to it), or the frame showing at ``seconds``."""
    if index is not None:
        pick = ["-i", str(path), "-vf", f"select=eq(n\\,{index})", "-vsync", "0"]
    else:
        pick = ["-ss", f"{seconds:.6f}", "-i", str(path)]
    proc = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", *pick, "-frames:v", "1",
                           "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                          check=True, capture_output=True, timeout=120)
    return proc.stdout
