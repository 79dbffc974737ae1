"""Broadcast caption sidecars: SCC (CEA-608 in Scenarist files) and TTML (DFXP, EBU-TT,
SMPTE-TT), read with pycaption.

pycaption refuses a whole file for one bad cue, and archives' caption files have passed
through many hands, so each format is screened cue by cue first: an SCC line whose timecode
or byte pairs are malformed, or a TTML ``<p>`` whose times cannot be read, is skipped and
reported with its line number, and the rest of the file is read.

pycaption (with BeautifulSoup and cssutils) is imported with this module, which
:func:`indexing.stages.subtitles.read_subtitles` imports only when a caption file is read.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pycaption
from pycaption.exceptions import CaptionReadError

from indexing.types import Cue

_SCC_HEADER = "Scenarist_SCC V1.0"
_SCC_LINE = re.compile(r"^\d{2}:\d{2}:\d{2}[:;.,]\d{2}\t(?:[0-9a-fA-F]{4} ?)+$")
_WHITESPACE = re.compile(r"\s+")


def read_scc(path: Path) -> tuple[list[Cue], list[str]]:
    """The cues of an SCC file and the lines skipped (one problem each).

    Raises :class:`ValueError` naming the file when it is not SCC (no ``Scenarist_SCC``
    header) or nothing in it can be read.
    """
    text = _text(path)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines or lines[0].lstrip("\ufeff").strip() != _SCC_HEADER:
        raise ValueError(f"{path}: not an SCC file (no '{_SCC_HEADER}' header)")
    kept = [_SCC_HEADER, ""]
    skipped: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        line = line.strip()
        if not line:
            continue
        if _SCC_LINE.match(line):
            kept += [line, ""]
        else:
            skipped.append(f"{path}, line {number}: not an SCC caption line {line[:60]!r}")
    if len(kept) == 2:
        raise ValueError(skipped[0] if skipped else f"{path}: no captions")
    return _read(pycaption.SCCReader(), "\n".join(kept), path, skipped)


def read_ttml(path: Path) -> tuple[list[Cue], list[str]]:
    """The cues of a TTML/DFXP/EBU-TT file and the cues skipped (one problem each).

    Raises :class:`ValueError` naming the file when it holds no ``<tt>`` document or no cue
    that can be read.
    """
    text = _text(path)
    if "<tt" not in text or "</tt" not in text.lower():
        raise ValueError(f"{path}: not a TTML document (no <tt> element)")
    skipped: list[str] = []
    reader = _TolerantDFXPReader(str(path), skipped)
    return _read(reader, text, path, skipped)


def _read(reader: Any, text: str, path: Path, skipped: list[str]) -> tuple[list[Cue], list[str]]:
    try:
        with warnings.catch_warnings():
            # pycaption parses TTML with BeautifulSoup's HTML parser, which warns about XML.
            warnings.simplefilter("ignore")
            captions = reader.read(text)
    except CaptionReadError as exc:
        if skipped:
            raise ValueError(skipped[0] + f" (and no other cue is readable: {exc})") from None
        raise ValueError(f"{path}: {_one_line(str(exc))}") from None
    except (ValueError, IndexError, KeyError) as exc:  # pycaption's own parsing slips
        raise ValueError(f"{path}: unreadable captions ({type(exc).__name__}: "
                         f"{_one_line(str(exc))})") from None
    cues: list[Cue] = []
    for lang in captions.get_languages():
        for c in captions.get_captions(lang):
            text = _WHITESPACE.sub(" ", c.get_text()).strip()
            start, end = max(0.0, c.start / 1e6), max(0.0, c.end / 1e6)
            if text and end >= start:
                cues.append(Cue(start=round(start, 3), end=round(end, 3), text=text))
    cues.sort(key=lambda c: (c.start, c.end))
    return cues, skipped


def _text(path: Path) -> str:
    raw = Path(path).read_bytes()
    for encoding in ("utf-8-sig", "utf-16", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeError:
            continue
    return raw.decode("latin-1")


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()[:200]


class _TolerantDFXPReader(pycaption.DFXPReader):  # type: ignore[misc]
    """pycaption's TTML reader, skipping (and reporting) a ``<p>`` whose times are malformed
    instead of failing the document."""

    def __init__(self, name: str, skipped: list[str]) -> None:
        super().__init__()
        self._name = name
        self._skipped = skipped

    def _convert_p_tag_to_caption(self, p_tag: Any) -> Any:
        try:
            return super()._convert_p_tag_to_caption(p_tag)
        except CaptionReadError as exc:
            line = getattr(p_tag, "sourceline", None)
            where = f", line {line}" if line else ""
            self._skipped.append(f"{self._name}{where}: cue "
                                 f"{_one_line(p_tag.get_text())[:40]!r} skipped: "
                                 f"{_one_line(str(exc))}")
            return None
