"""Collection manifests: a CSV an archivist fills in, read into the file-metadata store.

Columns: ``file`` (required: a path relative to the CSV, an absolute path, or a bare file name
of an indexed file), ``title``, ``date``, ``rights``, ``description``, and any others, kept as
they are. Every bad row is reported by its row number (as a spreadsheet numbers it, the header
being row 1) with the reason; the good rows still load.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from indexing.discover import canonical

if TYPE_CHECKING:
    from indexing.stores.base import MediaRecord

STANDARD_COLUMNS = ("file", "title", "date", "rights", "description")
# ISO 8601 dates an archive writes: a year, a month, a day, or a range of those ("1936/1937").
_DATE = r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?"
_DATE_RE = re.compile(rf"{_DATE}(/{_DATE})?")


class ManifestError(Exception):
    """A manifest that cannot be read at all (missing, not CSV, no ``file`` column)."""


@dataclass(frozen=True, slots=True)
class ManifestRow:
    """One good row: the file it names and its fields (standard and extra columns)."""

    row: int
    path: Path
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row that was not loaded, and why."""

    row: int
    reason: str


@dataclass(frozen=True, slots=True)
class Manifest:
    """A read manifest: its good rows and its bad ones."""

    source: Path
    rows: tuple[ManifestRow, ...] = ()
    problems: tuple[RowProblem, ...] = field(default_factory=tuple)


def valid_date(value: str) -> bool:
    """Whether ``value`` is an ISO 8601 date, month, year or a ``/`` range of them."""
    if not _DATE_RE.fullmatch(value):
        return False
    from datetime import date

    for part in value.split("/"):
        pieces = [int(p) for p in part.split("-")]
        if len(pieces) == 3:
            try:
                date(*pieces)
            except ValueError:  # 1936-02-30
                return False
    return True


def read_manifest(csv_path: Path, media: Sequence[MediaRecord] = ()) -> Manifest:
    """Read ``csv_path`` and match each row to a file.

    A row's ``file`` is looked for as an absolute path, then relative to the CSV's folder, then
    as the file name of one of the indexed ``media``. Raises :class:`ManifestError` when the
    file cannot be read as a manifest at all.
    """
    csv_path = Path(csv_path)
    try:
        text = csv_path.read_text(encoding="utf-8-sig")  # spreadsheets often write a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"cannot read manifest {csv_path}: {exc}") from exc
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel()  # type: ignore[assignment]
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    columns = [(c or "").strip().lower() for c in (reader.fieldnames or [])]
    if "file" not in columns:
        raise ManifestError(f"manifest {csv_path} has no 'file' column (found: "
                            f"{', '.join(columns) or 'nothing'})")
    by_name: dict[str, list[str]] = {}
    for m in media:
        by_name.setdefault(Path(m.path).name, []).append(m.path)
    rows: list[ManifestRow] = []
    problems: list[RowProblem] = []
    seen: dict[Path, int] = {}
    for raw in reader:
        # The line the row ends on, blank lines counted, as a spreadsheet numbers rows.
        number = reader.line_num
        if None in raw:  # more cells than header columns
            problems.append(RowProblem(number, f"{len(raw[None])} more cell(s) than the header "
                                               "has columns"))
            continue
        values = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        if not any(values.values()):
            continue  # a blank line in a spreadsheet is not an error
        name = values.get("file", "")
        if not name:
            problems.append(RowProblem(number, "no file named (the 'file' cell is empty)"))
            continue
        path, why = _locate(name, csv_path.parent, by_name)
        if path is None:
            problems.append(RowProblem(number, why))
            continue
        date = values.get("date", "")
        if date and not valid_date(date):
            problems.append(RowProblem(number, f"malformed date {date!r}: use YYYY, YYYY-MM, "
                                               "YYYY-MM-DD or a range like 1936/1937"))
            continue
        if path in seen:
            problems.append(RowProblem(number, f"{name} is already described in row "
                                               f"{seen[path]}"))
            continue
        seen[path] = number
        fields = {k: v for k, v in values.items() if k and k != "file" and v}
        rows.append(ManifestRow(number, path, fields))
    return Manifest(csv_path, tuple(rows), tuple(problems))


def _locate(name: str, base: Path, by_name: dict[str, list[str]]) -> tuple[Path | None, str]:
    """The file a ``file`` cell names, or None and why not."""
    given = Path(name).expanduser()
    candidates = [given] if given.is_absolute() else [base / given]
    for candidate in candidates:
        if candidate.is_file():
            return canonical(candidate), ""
    indexed = by_name.get(given.name, [])
    if len(indexed) == 1:
        return Path(indexed[0]), ""
    if len(indexed) > 1:
        return None, (f"{name} is ambiguous: {len(indexed)} indexed files have that name; give "
                      "its path")
    if given.is_absolute() or len(given.parts) > 1:
        return None, f"file not found: {name}"
    return None, f"unknown file {name}: no such file next to the manifest and none indexed"

