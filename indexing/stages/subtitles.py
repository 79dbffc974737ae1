"""Sidecar subtitles: find the subtitle files next to a media file and read their cues.

Sidecars are ``.srt``/``.vtt`` (parsed here by one small line-oriented reader), SCC and
TTML/DFXP/EBU-TT (``.scc``, ``.ttml``, ``.dfxp``, and ``.xml`` files whose root is a TTML
``<tt>``; read with pycaption in :mod:`indexing.stages.caption_files`). Real archive sidecars
are messy (written by many tools over many years), so the SRT/VTT reader accepts the common
deviations — byte-order marks, CRLF, Windows code pages, formatting tags, missing cue numbers, a
missing blank line between cues, a stray blank line inside a cue.

:func:`read_cues` is strict: a bad timing line, or text that belongs to no cue, raises
:class:`ValueError` naming the file and the line. :func:`read_subtitles`, which indexing uses,
reads every format and skips a malformed cue (reporting it with its line) rather than the whole
file; only a file with no readable cue at all is refused.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from indexing.types import Cue, Media

# In order of preference when several sidecars share the media file's exact stem.
_SUBTITLE_SUFFIXES = (".srt", ".vtt", ".ttml", ".dfxp", ".xml", ".scc")
_TTML_SUFFIXES = (".ttml", ".dfxp", ".xml")
_TTML_NAMESPACE = b"http://www.w3.org/ns/ttml"


@dataclass(frozen=True, slots=True)
class SubtitleTrack:
    """The cues read from one subtitle file or track, and the cues skipped (one line each,
    naming where and why)."""

    cues: tuple[Cue, ...]
    skipped: tuple[str, ...] = ()

# One tag in ``movie.<tag>.srt``: a language code (en, eng, pt-BR, zh_Hant) or a common flavour
# marker. Anything else (``movie.part2.srt``) is probably a different programme, not a sidecar.
_LANG_TAG = re.compile(r"[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*", re.IGNORECASE)
_FLAVOUR_TAGS = frozenset({"forced", "sdh", "cc", "hi", "default", "full"})

# HH:MM:SS,mmm with the hours optional (WebVTT allows MM:SS.mmm) and a comma or a dot before the
# fraction. The fraction is optional too: some old SRT writers drop it.
_TIMESTAMP = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?"
_TIMING_LINE = re.compile(rf"^\s*{_TIMESTAMP}\s*-->\s*{_TIMESTAMP}(?:\s.*)?$")

_HTML_TAG = re.compile(r"</?[A-Za-z0-9_.:-][^<>]*>")  # <i>, <c.yellow>, <v Bob>, <00:01.000>
_ASS_OVERRIDE = re.compile(r"\{\\[^{}]*\}")  # {\an8}, {\i1}: SSA/ASS overrides left in SRTs
_WHITESPACE = re.compile(r"\s+")

# WebVTT blocks that carry no cue text. Each starts a block and runs to the next blank line.
_VTT_SKIP_BLOCK = re.compile(r"^(?:NOTE|STYLE|REGION)(?:[ \t]|$)")


def find_sidecars(media_path: Path) -> list[Path]:
    """Return the subtitle files that belong to ``media_path``.

    A sidecar sits in the same folder and shares the media file's stem: ``movie.srt``,
    ``movie.vtt``, or with language/flavour tags such as ``movie.en.srt``,
    ``movie.pt-BR.vtt`` or ``movie.en.forced.srt``. Stems and suffixes are compared without
    regard to case. Exact-stem files come first, then tagged ones by name. A folder that cannot
    be listed yields no sidecars rather than an error, since subtitles are optional.
    """
    media_path = Path(media_path)
    folder = media_path.parent
    stem = media_path.stem.casefold()
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    exact: list[Path] = []
    tagged: list[Path] = []
    for entry in entries:
        suffix = entry.suffix.lower()
        if suffix not in _SUBTITLE_SUFFIXES or entry.name == media_path.name:
            continue
        base = entry.name[: -len(suffix)]
        folded = base.casefold()
        if folded == stem:
            bucket = exact
        elif folded.startswith(stem + ".") and _is_tag_chain(base[len(stem) + 1:]):
            bucket = tagged
        else:
            continue
        try:
            if not entry.is_file():
                continue
            if suffix == ".xml" and not _looks_like_ttml(entry):
                continue  # a metadata sidecar, not subtitles
        except OSError:
            continue
        bucket.append(entry)
    exact.sort(key=lambda p: (_SUBTITLE_SUFFIXES.index(p.suffix.lower()), p.name))
    tagged.sort(key=lambda p: p.name)
    return exact + tagged


def _looks_like_ttml(path: Path) -> bool:
    """Whether an ``.xml`` file declares the TTML namespace near its start."""
    with path.open("rb") as f:
        return _TTML_NAMESPACE in f.read(4096)


def read_subtitles(path: Path) -> SubtitleTrack:
    """Read a subtitle file of any supported format (by suffix), skipping malformed cues.

    Raises :class:`ValueError` naming the file when it holds no readable cue and something in
    it was malformed (a file that is not subtitles at all), :class:`OSError` when it cannot be
    read.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".scc" or suffix in _TTML_SUFFIXES:
        from indexing.stages.caption_files import read_scc, read_ttml

        cues, skipped = (read_scc if suffix == ".scc" else read_ttml)(path)
        return SubtitleTrack(tuple(cues), tuple(skipped))
    return parse_subtitle_text(_decode(path.read_bytes()), str(path))


def parse_subtitle_text(text: str, name: str) -> SubtitleTrack:
    """Parse SRT or WebVTT ``text`` (from a file or a track called ``name``), skipping
    malformed cues; :class:`ValueError` when nothing in it is a readable cue."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    problems: list[str] = []
    cues = _parse(lines, name, problems)
    if problems and not cues:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValueError(problems[0] + more)
    return SubtitleTrack(tuple(cues), tuple(problems))


def on_file_clock(cues: list[Cue], media: Media) -> tuple[list[Cue], str]:
    """``cues`` on the file's own clock, and a note when they had to be moved.

    Broadcast caption files (SCC, EBU-TT) are often timed on the master's timecode: a file
    starting at 10:00:00:00 has its first caption at 10:00:05:00, not at 5 s. When every cue
    starts at or after the file's start timecode and some end beyond its duration, they are
    moved back by that timecode. A file that records no start timecode but whose cues all lie
    hours beyond its end is taken to start on the hour its first cue is in (the usual
    01:00:00:00 programme start).
    """
    if not cues:
        return cues, ""
    first = min(c.start for c in cues)
    last = max(c.end for c in cues)
    if last <= media.duration + 1.0:
        return cues, ""
    offset, origin = 0.0, ""
    if media.timecode:
        from indexing.timecode import TimecodeError, start_frame, timecode_rate

        rate = timecode_rate(media.frame_rate or media.fps) if (media.frame_rate or
                                                                media.fps) else None
        try:
            if rate is not None:
                offset = start_frame(media.timecode, rate)[0] / float(rate)
                origin = f"the file's start timecode {media.timecode}"
        except TimecodeError:
            offset = 0.0
    if not offset and first >= 3600 and first > media.duration:
        offset = float(int(first // 3600) * 3600)
        origin = f"{int(offset // 3600):02d}:00:00:00 (the hour the first cue is in; the file " \
                 "records no start timecode)"
    if not offset or first < offset - 0.5:
        return cues, f"cues run to {last:.0f} s, past the file's end ({media.duration:.0f} s)"
    moved = [Cue(max(0.0, round(c.start - offset, 3)), max(0.0, round(c.end - offset, 3)),
                 c.text) for c in cues]
    return moved, f"cues timed from {origin}: moved to the file's clock"


def _is_tag_chain(tags: str) -> bool:
    parts = tags.split(".")
    if not 1 <= len(parts) <= 2:
        return False
    return all(p.lower() in _FLAVOUR_TAGS or _LANG_TAG.fullmatch(p) for p in parts)


def read_cues(path: Path) -> list[Cue]:
    """Parse an SRT or WebVTT file into cues sorted by start time.

    Text is decoded as UTF-8 (with or without BOM, or UTF-16 with a BOM), falling back to
    cp1252 and then latin-1, which is what old Windows-made subtitles use. Formatting tags,
    WebVTT voice/class spans and inline timestamps, and SSA overrides like ``{\\an8}`` are
    removed; HTML entities are decoded; the lines of a cue are joined by one space. Cues with no
    text left are dropped. WebVTT header, ``NOTE``, ``STYLE`` and ``REGION`` blocks and cue
    settings after the timestamps are ignored.

    An empty file, or a WebVTT file with only a header and notes, gives an empty list. Raises
    :class:`ValueError` naming the file and line when a timing line cannot be parsed, a cue ends
    before it starts, or text appears that belongs to no cue (a cue number without a timing
    line, or a file that is not subtitles at all).
    """
    path = Path(path)
    text = _decode(path.read_bytes())
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return _parse(lines, str(path))


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="replace")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    # latin-1 maps every byte, so this always succeeds; it covers the five bytes cp1252 leaves
    # undefined.
    return raw.decode("latin-1")


class _Draft:
    """A cue being assembled; mutable only while its lines are read."""

    __slots__ = ("end", "lines", "start")

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.end = end
        self.lines: list[str] = []


def _parse(lines: list[str], name: str, problems: list[str] | None = None) -> list[Cue]:
    """The cues of ``lines``. Without ``problems`` the first malformed thing raises; with it,
    each malformed cue is skipped (its lines up to the next blank one) and reported there."""
    drafts: list[_Draft] = []
    dropping = False  # inside a cue whose timing line was malformed
    current: _Draft | None = None
    # Lines seen since the last blank line that are not part of an open cue: a cue number or a
    # WebVTT identifier (then a timing line follows), or text that lost its cue to a stray blank
    # line. Kept with line numbers for error messages.
    pending: list[tuple[int, str]] = []
    at_block_start = True
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    is_vtt = first is not None and lines[first].lstrip("\ufeff \t").startswith("WEBVTT")
    # The header block (signature plus optional metadata lines) runs to the first blank line.
    skipping = is_vtt  # inside a WebVTT header/NOTE/STYLE/REGION block

    for number, raw_line in enumerate(lines, start=1):
        line = raw_line.strip()
        if not line:
            if pending:
                _flush_orphans(pending, drafts, name, problems)
                pending = []
            current = None
            skipping = dropping = False
            at_block_start = True
            continue
        if skipping or dropping:
            continue
        if is_vtt and at_block_start and _VTT_SKIP_BLOCK.match(line):
            skipping = True
            continue
        at_block_start = False

        if "-->" in line:
            try:
                start, end = _parse_timing(line, number, name)
            except ValueError as exc:
                if problems is None:
                    raise
                problems.append(str(exc))
                current, pending, dropping = None, [], True
                continue
            if current is not None and current.lines and current.lines[-1].isdigit():
                # No blank line before this cue: the previous cue swallowed our cue number.
                current.lines.pop()
            if pending:
                # The last pending line is this cue's number/identifier; anything before it is
                # text orphaned by a stray blank line.
                _flush_orphans(pending[:-1], drafts, name, problems)
                pending = []
            current = _Draft(start, end)
            drafts.append(current)
        elif current is not None:
            current.lines.append(line)
        else:
            pending.append((number, line))

    # Text outside any cue has raised by now, so a file without cues here is empty or holds
    # only WebVTT header/NOTE blocks: valid, just nothing to index.
    if pending:
        _flush_orphans(pending, drafts, name, problems)

    cues = []
    for draft in drafts:
        cue_text = _clean(" ".join(draft.lines))
        if cue_text:
            cues.append(Cue(start=draft.start, end=draft.end, text=cue_text))
    cues.sort(key=lambda c: (c.start, c.end))
    return cues


def _flush_orphans(pending: list[tuple[int, str]], drafts: list[_Draft], name: str,
                   problems: list[str] | None = None) -> None:
    """Attach text lines that follow a blank line but have no timing line of their own."""
    if not pending:
        return
    number, line = pending[-1]
    reason = ""
    if len(pending) == 1 and line.isdigit():
        reason = f"{name}, line {number}: cue {line} has no timing line"
    elif not drafts:
        reason = (f"{name}, line {pending[0][0]}: expected a 'start --> end' timing line, "
                  f"got {pending[0][1][:60]!r}")
    if reason:
        if problems is None:
            raise ValueError(reason)
        problems.append(reason)
        return
    # A blank line inside a cue's text is a common authoring slip; keep the text with its cue.
    drafts[-1].lines.extend(text for _, text in pending)


def _parse_timing(line: str, number: int, name: str) -> tuple[float, float]:
    match = _TIMING_LINE.match(line)
    if match is None:
        raise ValueError(f"{name}, line {number}: malformed timing line {line[:80]!r}")
    groups = match.groups()
    try:
        start = _seconds(*groups[:4])
        end = _seconds(*groups[4:])
    except ValueError as exc:
        raise ValueError(f"{name}, line {number}: {exc} in {line[:80]!r}") from None
    if end < start:
        raise ValueError(
            f"{name}, line {number}: cue ends ({end:.3f}s) before it starts ({start:.3f}s)"
        )
    return start, end


def _seconds(hours: str | None, minutes: str, seconds: str, fraction: str | None) -> float:
    m, s = int(minutes), int(seconds)
    if m >= 60 or s >= 60:
        raise ValueError("minutes and seconds must be below 60")
    frac = int(fraction.ljust(3, "0")) / 1000 if fraction else 0.0
    return int(hours or 0) * 3600 + m * 60 + s + frac


def _clean(text: str) -> str:
    text = _ASS_OVERRIDE.sub("", text)
    text = _HTML_TAG.sub("", text)
    text = html.unescape(text)
    return _WHITESPACE.sub(" ", text).strip()
