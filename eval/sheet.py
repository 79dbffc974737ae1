"""The question sheet: a CSV an archivist fills in a spreadsheet, turned into a gold JSONL set.

Columns (header row, any order, case and spaces ignored)::

    question, file, start, end, expected words, answerable   (+ optional: id, notes)

``file`` is the media file's name (a path is reduced to its name), ``start``/``end`` where the
answer is said or shown, in seconds (``83.5``) or clock time (``1:23.5``, ``00:01:23.500``).
``expected words`` lists the words a correct answer contains, separated by ``;`` or ``|``.
``answerable`` is yes/no (true/false, 1/0, y/n); left blank it is "yes" when a file is given.
An unanswerable question leaves file, start and end blank.

Conversion is row by row: a bad row (malformed time, unknown file, end before start, missing
question...) is reported with its row number and reason and left out; every valid row is kept.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.gold import GoldQuestion, parse_question

COLUMNS = ("question", "file", "start", "end", "expected words", "answerable")
OPTIONAL = ("id", "notes")
_YES = {"yes", "y", "true", "1", "ja", "oui"}
_NO = {"no", "n", "false", "0", "nein", "non"}
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")
_SPLIT = re.compile(r"[;|]")


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row of a sheet was left out: its 1-based line in the file and the reason."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.line}: {self.reason}"


@dataclass(frozen=True)
class SheetResult:
    """The questions of the valid rows (in sheet order) and the rows left out."""

    sheet: Path
    questions: tuple[GoldQuestion, ...]
    errors: tuple[RowError, ...]


class SheetError(ValueError):
    """The sheet as a whole cannot be read (missing file, no header, a required column
    missing)."""


def parse_time(text: str) -> float:
    """Seconds from ``83.5``, ``1:23.5`` (m:ss) or ``0:01:23.500`` (h:mm:ss); raises
    ValueError with the text for anything else (``1:2x``, ``-3``, ``1:75``)."""
    t = text.strip()
    try:
        value = float(t)
    except ValueError:
        m = _CLOCK.match(t)
        if m is None:
            raise ValueError(f"malformed time {text!r}: use seconds (83.5) or "
                             "hh:mm:ss(.ms) (00:01:23.5)") from None
        hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2)), float(m.group(3))
        if seconds >= 60 or (m.group(1) is not None and minutes >= 60):
            raise ValueError(f"malformed time {text!r}: minutes and seconds run 0-59") from None
        return hours * 3600 + minutes * 60 + seconds
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"malformed time {text!r}: must be a non-negative number of seconds")
    return value


def _key(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", " ").split())


def read_sheet(sheet: str | Path, known_files: Iterable[str] | None = None) -> SheetResult:
    """Read a question sheet; return the valid questions and one :class:`RowError` per bad row.

    ``known_files`` are the file names of the collection; a row naming another file is an
    error ("unknown file"). ``None`` skips that check. Raises :class:`SheetError` when the sheet
    cannot be read at all.
    """
    path = Path(sheet)
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheets often save a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise SheetError(f"{path}: cannot read the question sheet: {exc}") from exc
    rows = list(csv.reader(text.splitlines(), dialect=_dialect(text)))
    if not rows:
        raise SheetError(f"{path}: the question sheet is empty")
    header = [_key(h) for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise SheetError(f"{path}: missing column(s): {', '.join(missing)} "
                         f"(the header must name {', '.join(COLUMNS)})")
    known = None if known_files is None else {Path(f).name for f in known_files}
    questions: list[GoldQuestion] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue  # blank rows and comment rows
        cells = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}
        try:
            q = _question(cells, line, known)
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        if q.id in seen:
            errors.append(RowError(line, f"id {q.id!r} already used on row {seen[q.id]}"))
            continue
        seen[q.id] = line
        questions.append(q)
    return SheetResult(path, tuple(questions), tuple(errors))


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    """Commas, or the semicolons a spreadsheet in many European locales writes."""
    try:
        return csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    except (csv.Error, IndexError):
        return csv.excel


def _question(cells: dict[str, str], line: int, known: set[str] | None) -> GoldQuestion:
    """One row as a validated gold question (the gold loader's own checks apply too)."""
    question = cells["question"]
    if not question:
        raise ValueError("missing question")
    file_name = Path(cells["file"]).name if cells["file"] else ""
    flag = cells["answerable"].lower()
    if flag and flag not in _YES | _NO:
        raise ValueError(f"answerable must be yes or no, got {cells['answerable']!r}")
    answerable = flag in _YES if flag else bool(file_name)
    expect = [w.strip() for w in _SPLIT.split(cells["expected words"]) if w.strip()]
    obj: dict[str, Any] = {"id": cells.get("id") or f"row-{line}", "question": question,
                           "expect": expect, "answerable": answerable,
                           "media": None, "start": None, "end": None}
    if answerable:
        if not file_name:
            raise ValueError("an answerable question needs a file")
        if known is not None and file_name not in known:
            raise ValueError(f"unknown file {file_name!r} (not in the collection)")
        for col in ("start", "end"):
            if not cells[col]:
                raise ValueError(f"an answerable question needs a {col} time")
            obj[col] = parse_time(cells[col])
        if obj["end"] < obj["start"]:
            raise ValueError(f"end {cells['end']} is before start {cells['start']}")
        if not expect:
            raise ValueError("an answerable question needs expected words")
        obj["media"] = file_name
    elif file_name or cells["start"] or cells["end"]:
        raise ValueError("an unanswerable question leaves file, start and end blank")
    try:
        return parse_question(obj, f"row {line}")
    except ValueError as exc:  # the gold format's own rules, said without the row prefix twice
        raise ValueError(str(exc).removeprefix(f"row {line}").lstrip(" :")) from None


def gold_line(q: GoldQuestion) -> str:
    """One question as a line of the gold JSONL format (:mod:`eval.gold`)."""
    return json.dumps({"id": q.id, "question": q.question, "media": q.media, "start": q.start,
                       "end": q.end, "expect": list(q.expect), "answerable": q.answerable},
                      ensure_ascii=False)


def write_gold(questions: Sequence[GoldQuestion], out: str | Path, source: str = "") -> Path:
    """Write ``questions`` as a gold JSONL file (with a comment naming ``source``)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    head = [f"// converted from {source}"] if source else []
    out.write_text("\n".join([*head, *(gold_line(q) for q in questions)]) + "\n",
                   encoding="utf-8")
    return out


def collection_files(paths: Iterable[str | Path]) -> list[str]:
    """The media file names under ``paths`` (files and folders, as indexing finds them)."""
    from indexing.discover import discover

    files, _ = discover([Path(p) for p in paths])
    return [f.name for f in files]
