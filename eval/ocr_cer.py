"""Character error rate of DEERIn's on-screen text reading against hand-typed frames.

The gold set (``eval/sets/ocr.jsonl``) holds one frame per line: ``{"file": name, "second": t,
"text": what a person reads on screen}``. Each frame is read exactly as indexing reads it
(:mod:`indexing.stages.ocr`: the frame decoded at 640 px, RapidOCR, junk lines dropped, reading
order, word splitting), and compared with the typed text by edit distance over characters.
Both sides are compared case-folded with runs of whitespace made one space: capitals in titles
are a typographic choice, not a reading error. CER = edits / characters of the typed text,
per frame and over all frames (frames with more text weigh more).

Run: ``deerin eval-ocr eval/sets/ocr.jsonl`` (or ``python -m eval.ocr_cer eval/sets/ocr.jsonl``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexing.settings import Settings

DEFAULT_MEDIA = Path(__file__).resolve().parent.parent.parent / "shared" / "media"


@dataclass(frozen=True, slots=True)
class GoldFrame:
    """One hand-typed frame."""

    file: str
    second: float
    text: str


@dataclass(frozen=True, slots=True)
class FrameScore:
    """One frame's reading and its errors."""

    file: str
    second: float
    expected: str
    read: str
    errors: int

    @property
    def cer(self) -> float:
        return self.errors / max(len(normalise(self.expected)), 1)


@dataclass(frozen=True, slots=True)
class OcrScore:
    """Every frame's score and the overall rate."""

    frames: tuple[FrameScore, ...]
    missing: tuple[str, ...] = ()

    @property
    def errors(self) -> int:
        return sum(f.errors for f in self.frames)

    @property
    def chars(self) -> int:
        return sum(len(normalise(f.expected)) for f in self.frames)

    @property
    def cer(self) -> float:
        return self.errors / max(self.chars, 1)

    def to_json(self) -> dict[str, Any]:
        return {"cer": round(self.cer, 4), "errors": self.errors, "chars": self.chars,
                "frames": [{"file": f.file, "second": f.second, "expected": f.expected,
                            "read": f.read, "cer": round(f.cer, 4)} for f in self.frames],
                "skipped": list(self.missing)}


def normalise(text: str) -> str:
    """Case-folded, with whitespace runs made one space."""
    return " ".join(text.casefold().split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two strings."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def read_gold(path: Path) -> list[GoldFrame]:
    """The frames of a gold JSONL file; raises ValueError naming a bad line."""
    frames = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            frames.append(GoldFrame(str(row["file"]), float(row["second"]), str(row["text"])))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path} line {n}: not a {{file, second, text}} object "
                             f"({exc})") from exc
    if not frames:
        raise ValueError(f"{path} holds no frames")
    return frames


def evaluate(gold: list[GoldFrame], media_dir: Path, settings: Settings) -> OcrScore:
    """Read every gold frame as indexing does and score it."""
    from indexing.backends.rapidocr import reader_from_settings
    from indexing.media import MediaError, probe
    from indexing.stages.ocr import Sample, caption_clips, load_frame
    from indexing.stages.ocr_text import WordSplitter
    from indexing.types import Shot

    reader = reader_from_settings(settings)
    splitter = WordSplitter()
    scores: list[FrameScore] = []
    missing: list[str] = []
    probed: dict[str, Any] = {}
    for g in gold:
        path = media_dir / g.file
        try:
            media = probed.get(g.file) or probe(path)
            probed[g.file] = media
            sample = Sample(g.second, Shot(0, g.second, g.second + 0.04))
            frame = load_frame(media, sample, width=settings.ocr_side)
        except (MediaError, OSError) as exc:
            missing.append(f"{g.file} @ {g.second:g}s: {exc}")
            continue
        reading = reader.read([frame])[0]
        clips = caption_clips(media, [sample], [reading], splitter)
        read = " ".join(c.text for c in clips)
        scores.append(FrameScore(g.file, g.second, g.text, read,
                                 edit_distance(normalise(g.text), normalise(read))))
    return OcrScore(tuple(scores), tuple(missing))


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.ocr_cer GOLD.jsonl [MEDIA_DIR]``: print the per-frame and overall CER."""
    from indexing.settings import Settings

    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m eval.ocr_cer GOLD.jsonl [MEDIA_DIR]", file=sys.stderr)
        return 2
    media_dir = Path(args[1]) if len(args) > 1 else DEFAULT_MEDIA
    result = evaluate(read_gold(Path(args[0])), media_dir, Settings.from_env())
    print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
