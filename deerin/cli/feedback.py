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


def report(
    collection: Annotated[str, typer.Option(
        "--collection", help="The collection whose workshop to report.")],
    out: Annotated[Path, typer.Option(
        "--out", help="Folder for report.md and report.html.")] = Path("workshop-report"),
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="Where the deployment is reached, for the links that play moments "
        "(default: the setting chat.public_url, else http://127.0.0.1:8000).")] = None,
) -> None:
    """Write the workshop report of a collection (Markdown and offline HTML): questions asked,
    the share answered, refused and judged right, the configurations compared with /compare
    and which side people preferred, and the moments cited most, with links that play them."""
    import asyncio

    from assistant.web.history import database_url, read_judged, read_preferences, shown_url
    from eval.workshop import build_report, write_report

    config = command_config()
    url = database_url()
    try:
        judged = asyncio.run(read_judged(url, collection))
        preferences = asyncio.run(read_preferences(url, collection))
    except Exception as exc:
        raise fail(f"cannot read {shown_url(url)}: {str(exc).splitlines()[0]}", EXIT_USAGE) \
            from exc
    base = base_url or str(config["chat.public_url"]).strip() or "http://127.0.0.1:8000"
    made = build_report(judged, preferences, collection, base)
    md, page = write_report(made, out)
    err().print(f"{made.questions} question(s) of {escape(collection)}: {escape(str(md))}, "
                f"{escape(str(page))}")
