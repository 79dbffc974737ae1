"""Exports editors and players open: edit decision lists, timelines, playlists, transcripts.

Sequences of cuts (a montage, search results, a rough cut) go out as an OpenTimelineIO
timeline (:mod:`interaction.timeline`: ``.otio``, ``.edl``, ``.xml``), each clip citing its
source's own frames at the source's exact rate from its start timecode; ``.fcpxml`` is refused
with the reason. ``.m3u`` is a playlist with VLC start/stop options (no OTIO adapter writes
one); ``.json`` lists the cuts with their sources; ``.vtt``/``.srt`` caption the sequence
(what is said in each cut, on the sequence's clock).

A file's own transcript goes out as WebVTT, SRT or JSON (:func:`write_transcript`): one cue per
sentence, split when longer than a reading line allows; subtitles keep their own cues.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from indexing.fmt import shorten
from indexing.text import sentence_spans
from indexing.timecode import Timing
from indexing.types import ClipKind
from interaction.cuts import Cut, sequence_offsets
from interaction.timeline import FCPX_REFUSAL, citation, write_timeline
from interaction.transcript import Transcript

SEQUENCE_FORMATS = {".otio": "otio_json", ".edl": "cmx_3600", ".xml": "fcp_xml",
                    ".m3u": "m3u", ".m3u8": "m3u", ".json": "json", ".vtt": "vtt",
                    ".srt": "srt"}
TRANSCRIPT_FORMATS = ("vtt", "srt", "json")
CUE_SECONDS = 7.0  # a caption longer than this is split at a word
CUE_CHARS = 84  # two lines of 42 characters, the usual broadcast limit


class ExportError(ValueError):
    """An export that cannot be written as asked (unknown format...)."""


def sequence_format(path: Path) -> str:
    """The export format a file name asks for; :class:`ExportError` for an unknown suffix or
    one that is refused (``.fcpxml``, see :mod:`interaction.timeline`)."""
    if path.suffix.lower() == ".fcpxml":
        raise ExportError(FCPX_REFUSAL.format(name=path.name))
    fmt = SEQUENCE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ExportError(f"cannot export to {path.name}: use one of "
                          f"{', '.join(sorted(SEQUENCE_FORMATS))}")
    return fmt


def write_sequence(cuts: Sequence[Cut], path: Path, *, name: str = "DEERIn",
                   timing: Timing | None = None) -> Path:
    """Write ``cuts`` as the format ``path``'s suffix names (see :data:`SEQUENCE_FORMATS`).
    Timelines count frames with ``timing`` (default: 25 fps, every source from frame 0; see
    :func:`interaction.collection.cut_timing`)."""
    fmt = sequence_format(path)
    if fmt in ("otio_json", "cmx_3600", "fcp_xml"):
        write_timeline(cuts, path, name, timing or Timing())
    elif fmt == "m3u":
        path.write_text(m3u(cuts, name), encoding="utf-8")
    elif fmt == "json":
        offsets = sequence_offsets(cuts)
        data = {"name": name, "duration": round(sum(c.duration for c in cuts), 3),
                "cuts": [{"n": i + 1, "at": round(at, 3), **citation(c)}
                         for i, (c, at) in enumerate(zip(cuts, offsets, strict=True))]}
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        offsets = sequence_offsets(cuts)
        cues = [(at, at + c.duration, c.text) for c, at in zip(cuts, offsets, strict=True)
                if c.text]
        path.write_text(captions(cues, fmt), encoding="utf-8")
    return path


def m3u(cuts: Sequence[Cut], name: str) -> str:
    """An extended M3U playlist: each cut as its file with VLC start and stop times."""
    lines = ["#EXTM3U", f"#PLAYLIST:{name}"]
    for c in cuts:
        lines += [f"#EXTINF:{round(c.duration)},{c.label} — {shorten(c.text, 80)}",
                  f"#EXTVLCOPT:start-time={c.start:.3f}", f"#EXTVLCOPT:stop-time={c.end:.3f}",
                  Path(c.media_path).as_uri()]
    return "\n".join(lines) + "\n"


# -- transcripts ------------------------------------------------------------------------------
def transcript_cues(tr: Transcript) -> list[tuple[float, float, str]]:
    """Captions for one transcript: its cues as they are for subtitles; for speech, one per
    sentence, split at a word when longer than :data:`CUE_SECONDS` or :data:`CUE_CHARS`."""
    if tr.kind is ClipKind.SUBTITLE:
        return [(a, b, text) for a, b, text in tr.pieces() if text.strip()]
    cues: list[tuple[float, float, str]] = []
    for s, e in sentence_spans(tr.text, tr.language):
        words = [t for t in tr.times if t.char_start >= s and t.char_end <= e]
        if not words:
            continue
        group = [words[0]]
        for w in words[1:]:
            too_long = (w.end - group[0].start > CUE_SECONDS
                        or w.char_end - group[0].char_start > CUE_CHARS)
            if too_long:
                cues.append(_cue(tr, group))
                group = []
            group.append(w)
        cues.append(_cue(tr, group))
    return cues


def write_transcript(tr: Transcript, path: Path, fmt: str) -> Path:
    """Write ``tr`` as ``vtt``, ``srt`` or ``json`` (cues with times, and every word)."""
    if fmt not in TRANSCRIPT_FORMATS:
        raise ExportError(f"transcripts export as {', '.join(TRANSCRIPT_FORMATS)}, not {fmt!r}")
    cues = transcript_cues(tr)
    if fmt == "json":
        data = {"media": tr.media_path, "media_id": tr.media_id, "kind": tr.kind.value,
                "language": tr.language, "text": tr.text,
                "cues": [{"start": a, "end": b, "text": t} for a, b, t in cues],
                "words" if tr.kind is ClipKind.SPEECH else "pieces":
                    [{"start": a, "end": b, "text": t} for a, b, t in tr.pieces()]}
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        path.write_text(captions(cues, fmt), encoding="utf-8")
    return path


def captions(cues: Sequence[tuple[float, float, str]], fmt: str) -> str:
    """WebVTT (``vtt``) or SubRip (``srt``) text for ``(start, end, text)`` cues."""
    out = ["WEBVTT", ""] if fmt == "vtt" else []
    for i, (a, b, text) in enumerate(cues, 1):
        if fmt == "srt":
            out.append(str(i))
        out += [f"{_stamp(a, fmt)} --> {_stamp(max(b, a + 0.001), fmt)}",
                " ".join(text.split()).replace("-->", "->"), ""]
    return "\n".join(out)


def _cue(tr: Transcript, words: Sequence[Any]) -> tuple[float, float, str]:
    return (words[0].start, words[-1].end,
            tr.text[words[0].char_start:words[-1].char_end].strip())


def _stamp(seconds: float, fmt: str) -> str:
    ms = round(max(0.0, seconds) * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{',' if fmt == 'srt' else '.'}{ms:03d}"
