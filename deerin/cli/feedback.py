"""``deerin feedback export``: the verdicts of a workshop as rows of the question sheet."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from deerin.cli.options import EXIT_FAILED, EXIT_USAGE, command_config, err, fail


def export(
    collection: Annotated[str, typer.Option(
        "--collection", help="The collection whose answers to export.")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="The question sheet (CSV) to write (default: standard output).")] = None,
) -> None:
    """Write the answers participants judged in `deerin serve` as rows of the question sheet,
    which `deerin questions convert` reads: a right answer's first citation is the right
    moment, a partly right or wrong one counts with the moment the participant gave, a refusal
    judged right is an unanswerable question. Left-out answers are listed on stderr.
    """
    import asyncio

    from assistant.web.history import (
        SHEET_COLUMNS,
        database_url,
        read_judged,
        sheet_rows,
        shown_url,
    )

    command_config()
    url = database_url()
    try:
        judged = asyncio.run(read_judged(url, collection))
    except Exception as exc:  # no database yet, or an unreachable server
        raise fail(f"cannot read {shown_url(url)}: {str(exc).splitlines()[0]}", EXIT_USAGE) \
            from exc
    rows, skipped = sheet_rows(judged)
    for reason in skipped:
        err().print(f"[yellow]left out {escape(reason)}[/]")
    if not rows:
        raise fail(f"no judged answer of {collection} to export ({len(judged)} answer(s) kept, "
                   f"{len(skipped)} judged without a usable moment)", EXIT_FAILED)
    target = out.open("w", newline="", encoding="utf-8") if out else sys.stdout
    try:
        writer = csv.DictWriter(target, fieldnames=SHEET_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    finally:
        if out:
            target.close()
    err().print(f"{len(rows)} question(s) of {escape(collection)}"
                + (f" written to {escape(str(out))}" if out else ""))
