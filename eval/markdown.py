"""Markdown tables for the reports (the eval's and the experiment's)."""

from __future__ import annotations

from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *,
          escape: bool = False) -> list[str]:
    """A Markdown table's lines: the header, the rule, one line per row.

    With ``escape``, each body cell's pipes are escaped and its line breaks become spaces, so
    free text cannot break the table; without it, cells are written as given (already made
    safe with :func:`cell`).
    """
    if escape:
        rows = [[c.replace("|", "\\|").replace("\n", " ") for c in row] for row in rows]
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(row) + " |" for row in rows)]


def cell(text: object, limit: int = 90) -> str:
    """``text`` as one table cell: white space folded, cut to ``limit`` characters with an
    ellipsis, pipes escaped."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat.replace("|", "\\|")
