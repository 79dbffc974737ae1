"""A small demo collection made on the spot: espeak-ng narration over ffmpeg-made pictures.

Nothing here is committed media: the files are synthesised into a folder the user chooses (or a
temp folder), so a newcomer with only the repository can see DEERIn work end to end.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from indexing.fmt import srt_time


@dataclass(frozen=True)
class DemoScene:
    colour: str
    seconds: float


@dataclass(frozen=True)
class DemoItem:
    name: str
    narration: tuple[str, ...]  # one sentence per scene; each scene ends at a cut
    scenes: tuple[DemoScene, ...] = ()  # empty = audio only
    subtitles: tuple[tuple[float, float, str], ...] = ()  # silent film with a sidecar .srt


ITEMS = (
    DemoItem(
        "lighthouse_documentary.mp4",
        (
            "The old lighthouse on the northern cliff was built in eighteen ninety two.",
            "For sixty years a keeper climbed its stairs every evening to light the lamp.",
            "In nineteen fifty two the lamp was replaced by an electric beacon, "
            "and the last keeper moved to the village.",
        ),
        (DemoScene("0x1f3b73", 0), DemoScene("0x9c6b30", 0), DemoScene("0x2f6b3a", 0)),
    ),
    DemoItem(
        "harbour_interview.mp3",
        (
            "I started fishing in this harbour when I was fourteen years old.",
            "The herring boats came in at dawn, and the whole town waited on the quay.",
        ),
    ),
    DemoItem(
        "tram_street_1910.mp4",
        (),
        (DemoScene("0x555555", 6.0), DemoScene("0x777766", 6.0)),
        (
            (0.5, 4.5, "Trams run down the high street past the market hall."),
            (6.5, 11.0, "A horse cart waits while the tram to the station goes by."),
        ),
    ),
)


class DemoError(Exception):
    """The demo footage could not be made (missing ffmpeg or espeak-ng)."""


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DemoError(f"{cmd[0]} failed: {proc.stderr.strip().splitlines()[-1:]}")


def _duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                          "csv=p=0", str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def make_demo_collection(folder: Path) -> list[Path]:
    """Write the demo files into ``folder`` (skipping ones already there) and return them."""
    for tool in ("ffmpeg", "ffprobe", "espeak-ng"):
        if shutil.which(tool) is None:
            raise DemoError(f"{tool} is not installed (run the README's set-up command)")
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for item in ITEMS:
        target = folder / item.name
        out.append(target)
        if target.exists():
            continue
        work = folder / ".work"
        work.mkdir(exist_ok=True)
        if item.subtitles:
            _silent_film(item, target, work)
        else:
            _narrated(item, target, work)
        shutil.rmtree(work, ignore_errors=True)
    return out


def _narrated(item: DemoItem, target: Path, work: Path) -> None:
    # Each sentence is spoken separately so that each scene (and its cut) lasts exactly as long
    # as its sentence, plus a short pause.
    parts: list[Path] = []
    for i, sentence in enumerate(item.narration):
        wav = work / f"s{i}.wav"
        _run(["espeak-ng", "-s", "150", "-w", str(wav), sentence])
        parts.append(wav)
    concat = work / "narration.wav"
    inputs: list[str] = []
    for p in parts:
        inputs += ["-i", str(p)]
    n = len(parts)
    pads = "".join(f"[{i}:a]apad=pad_dur=0.6[a{i}];" for i in range(n))
    _run(["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs, "-filter_complex",
          pads + "".join(f"[a{i}]" for i in range(n)) + f"concat=n={n}:v=0:a=1[a]",
          "-map", "[a]", "-ar", "22050", str(concat)])
    if not item.scenes:
        _run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(concat), "-b:a", "64k",
              str(target)])
        return
    lengths = [_duration(p) + 0.6 for p in parts]
    _video(item.scenes, lengths, target, work, audio=concat)


def _silent_film(item: DemoItem, target: Path, work: Path) -> None:
    _video(item.scenes, [s.seconds for s in item.scenes], target, work, audio=None)
    lines = [f"{i}\n{srt_time(a)} --> {srt_time(b)}\n{text}\n"
             for i, (a, b, text) in enumerate(item.subtitles, 1)]
    target.with_suffix(".srt").write_text("\n".join(lines), encoding="utf-8")


def _video(scenes: tuple[DemoScene, ...], lengths: list[float], target: Path, work: Path,
           audio: Path | None) -> None:
    # A moving test pattern blended over a flat colour per scene: distinct colours give hard
    # cuts for the shot detector, the motion keeps each shot from being a still frame.
    inputs: list[str] = []
    for scene, seconds in zip(scenes, lengths, strict=True):
        inputs += ["-f", "lavfi", "-i",
                   f"color=c={scene.colour}:s=640x360:r=25:d={seconds:.2f}"]
    n = len(scenes)
    graph = "".join(f"[{i}:v]noise=alls=12:allf=t,format=yuv420p[v{i}];" for i in range(n))
    graph += "".join(f"[v{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]"
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", *inputs]
    if audio is not None:
        cmd += ["-i", str(audio)]
    cmd += ["-filter_complex", graph, "-map", "[v]"]
    if audio is not None:
        cmd += ["-map", f"{n}:a", "-c:a", "aac", "-b:a", "96k", "-shortest"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p",
            str(target)]
    _run(cmd)
