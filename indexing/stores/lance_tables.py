"""The names of an index's LanceDB tables: the store's own and the picture-search ones.

Both the version publisher (:mod:`indexing.stores.lance_versions`), which records a version of
every table, and the picture-search table (:mod:`indexing.stores.shot_vectors`), which reads
at the published versions, need to know which tables an index has; the names live here so
neither has to ask the other.
"""

from __future__ import annotations

from typing import Any

# The tables a store reads. Others in the same folder (e.g. a graph's) are not pinned.
STORE_TABLES = ("media", "clips", "windows", "shots", "failures")
# Picture-search tables are named ``shot_vectors_<width>``, one per vector width.
SHOT_VECTORS_PREFIX = "shot_vectors"


def shot_table_name(dim: int) -> str:
    """The picture-search table holding vectors of width ``dim``."""
    return f"{SHOT_VECTORS_PREFIX}_{dim}"


def shot_table_names(db: Any) -> list[str]:
    """The picture-search tables of a LanceDB connection, sorted."""
    names: list[str] = []
    token = None
    while True:
        page = db.list_tables(page_token=token)
        names += [n for n in page.tables if n.startswith(SHOT_VECTORS_PREFIX)]
        token = page.page_token
        if not token:
            return sorted(names)
