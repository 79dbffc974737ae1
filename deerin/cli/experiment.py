"""``deerin experiment`` and ``deerin questions convert``: the experiment workbench (see
:mod:`eval.experiment`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from deerin.cli.options import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    JsonOption,
    err,
    fail,
)


def convert(
    sheet: Annotated[Path, typer.Argument(help="The question sheet (CSV, see "
                                               "eval/templates/questions.csv).")],
    out: Annotated[Path, typer.Option("--out", help="The gold JSONL file to write.")],
    collection: Annotated[list[Path] | None, typer.Option(
        "--collection", help="Files or folders of the collection: a row naming another file "
        "is an error (repeatable; default: no check of file names).")] = None,
) -> None:
    """Convert a question sheet to the gold JSONL format; bad rows are reported and left out."""
    from eval.sheet import SheetError, collection_files, read_sheet, write_gold

    try:
        known = collection_files(collection) if collection else None
        result = read_sheet(sheet, known)
    except SheetError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    for e in result.errors:
        err().print(f"[yellow]{escape(str(sheet))} {escape(str(e))}[/]", highlight=False)
    if not result.questions:
        raise fail(f"{sheet}: no valid question; nothing written")
    write_gold(result.questions, out, str(sheet))
    err().print(f"{len(result.questions)} question(s) written to {out}"
                + (f"; {len(result.errors)} row(s) left out" if result.errors else ""),
                highlight=False)
    raise typer.Exit(EXIT_PARTIAL if result.errors else EXIT_OK)


def experiment(
    plan: Annotated[Path, typer.Argument(help="The plan (TOML, see eval/plans/example.toml).")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Experiment folder (default: experiment-<plan name> here). Run again "
        "with the same folder to continue a stopped experiment.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Compare model configurations on your own collection: one report side by side."""
    from eval.experiment.plan import PlanError, load_plan
    from eval.experiment.report import write_report
    from eval.experiment.run import run_experiment

    try:
        parsed = load_plan(plan)
    except PlanError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    folder = out or Path(f"experiment-{plan.stem}")
    console = err()
    try:
        exp = run_experiment(parsed, folder,
                             say=lambda line: console.print(escape(line), highlight=False))
    except (ValueError, OSError) as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    for line in exp.sheet_errors:
        console.print(f"[yellow]left out:[/] {escape(line)}", highlight=False)
    paths = write_report(exp)
    console.print(f"report: {paths['report']}, {paths['html']}, {paths['results']}",
                  highlight=False)
    ran = sum(1 for o in exp.outcomes if not o.problem)
    if json_out:
        print(json.dumps({"folder": str(folder), "report": {k: str(v) for k, v in paths.items()},
                          "configurations": [{"name": o.config.name, "problem": o.problem}
                                             for o in exp.outcomes],
                          "left_out": list(exp.sheet_errors)}, indent=2, ensure_ascii=False))
    if ran == 0:
        raise typer.Exit(EXIT_FAILED)
    raise typer.Exit(EXIT_PARTIAL if ran < len(exp.outcomes) else EXIT_OK)
