"""Published index versions: what readers see while a writer is adding files.

LanceDB commits every write as a new table version, and an indexing run writes a file in several
commits (its clips, windows, shots, then its media record), across several tables. A reader that
opened the tables mid-file would see clips of a file the collection does not list yet, or the
clips of one version of a file beside the windows of another.

So the writer *publishes* a consistent state: after each completed file (and each batch of
index maintenance) it records the version of every table in ``deerin.versions.json``, replaced
atomically. Readers (stores opened with ``create=False``) check each table out at its published
version, so they see the index as it was after the last completed file: the old or the new
index, never a half-written one. Older versions stay on disk for days (LanceDB only prunes
versions older than seven days), so a reader's versions outlive any run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from indexing.stores.lance_tables import STORE_TABLES, shot_table_names
from indexing.stores.location import IndexLocation

VERSIONS_FILE = "deerin.versions.json"


def published(db: Path | IndexLocation) -> dict[str, int] | None:
    """The published version of each table, or None when nothing was published (an index
    written before versions were published, or a fresh one): then readers see the latest."""
    try:
        text = IndexLocation.parse(db).read_text(VERSIONS_FILE)
        data = json.loads(text) if text is not None else None
    except ValueError:
        return None
    tables = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(tables, dict):
        return None
    return {str(k): int(v) for k, v in tables.items()}


def publish(where: Path | IndexLocation, db: Any) -> None:
    """Record the latest version of every store table and picture-search table in ``db`` as
    the one readers see.

    Writes only when a version changed; the file is replaced atomically, so a reader reads
    either the previous publication or this one.
    """
    versions: dict[str, int] = {}
    for name in (*STORE_TABLES, *shot_table_names(db)):
        try:
            versions[name] = int(db.open_table(name).version)
        except (FileNotFoundError, ValueError):
            continue  # not created yet
    location = IndexLocation.parse(where)
    if versions == published(location):
        return
    location.write_text(VERSIONS_FILE, json.dumps({"tables": versions}, indent=1, sort_keys=True))


def pin(table: Any, name: str, versions: dict[str, int] | None) -> Any | None:
    """``table`` checked out at its published version; None when it was not published yet
    (created by a run still going). Without a publication, the table as it is."""
    if versions is None:
        return table
    if name not in versions:
        return None
    if int(table.version) != versions[name]:
        try:
            table.checkout(versions[name])
        except Exception:  # pruned (older than LanceDB keeps versions): the latest is all there is
            table.checkout_latest()
    return table
