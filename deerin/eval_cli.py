"""``deerin eval``: retrieval, citation and refusal metrics on gold sets (see :mod:`eval`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from deerin.common import EXIT_FAILED, EXIT_USAGE, DbOption, JsonOption, err, settings_of


def eval_cmd(
    qa: Annotated[list[Path] | None, typer.Option(
        "--qa", help="Gold questions (JSONL, see eval/sets). Repeat to report each set apart, "
        "e.g. the tuning set and a held-out one.")] = None,
    shots: Annotated[Path | None, typer.Option(
        "--shots", help="A text->shot set (eval/sets/shots.jsonl): Recall@5 of picture search "
        "(needs CLIP weights, see DEERIN_CLIP_MODEL).")] = None,
    db: DbOption = None,
    llm: Annotated[str | None, typer.Option("--llm", help="LLM spec, see `deerin ask`.")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write report.md, results.json and PNG charts here.")] = None,
    no_answer: Annotated[bool, typer.Option(
        "--no-answer", help="Retrieval metrics only: no LLM, much faster.")] = False,
    modes: Annotated[str | None, typer.Option(
        "--modes", help="Compare retrieval modes instead, e.g. naive,local,hybrid,global "
        "(set-recall@10 and Recall@5 per set and mode; no LLM).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Measure retrieval, citations and refusals on gold sets, against a dense baseline."""
    if shots is not None:
        from deerin.shots_eval_cli import shot_eval

        shot_eval(shots, db, json_out)
        if not qa:
            return
    if not qa:
        err().print("[red]error:[/] give --qa FILE (questions) or --shots FILE (text->shot)")
        raise typer.Exit(EXIT_USAGE)
    if modes:
        from deerin.graph_cli import eval_modes

        eval_modes(qa, settings_of(db), modes, json_out)
        return
    from assistant.llm import LLMError, LLMUsageError
    from eval.report import HEADLINE, fmt, printed_metrics, write_report
    from eval.runner import run_eval
    from indexing.stores.base import StoreError

    console = err()
    try:
        with console.status("loading models…") as spinner:
            # A spinner is invisible in a log file; a long run there gets one line per question.
            say = spinner.update if console.is_terminal else console.print
            run = run_eval(qa, settings_of(db), llm, answer=not no_answer,
                           progress=lambda i, n, q: say(f"question {i}/{n}: {q.id}"))
    except (OSError, ValueError, LLMUsageError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from exc
    except (StoreError, LLMError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED) from exc
    metrics = run.metrics()
    for warning in run.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if out is not None:
        paths = write_report(run, out)
        console.print(f"report written to {paths['report']}", highlight=False)
    if json_out:
        print(json.dumps(printed_metrics(run), indent=2))
        return
    table = Table(title=f"DEERIn eval: {metrics['n']} questions")
    # Several sets: a column per set beside the overall figure, so a tuned-set-only gain shows.
    by_set = run.metrics_by_set() if run.multi_set else {}
    for col in ("metric", *by_set, "DEERIn" if not by_set else "all", "baseline"):
        table.add_column(col)
    table.add_row("questions", *(str(m["n"]) for m in by_set.values()), str(metrics["n"]),
                  str(metrics["baseline"]["n"]))
    for key, label in HEADLINE:
        table.add_row(label, *(fmt(m[key]) for m in by_set.values()), fmt(metrics[key]),
                      fmt(metrics["baseline"][key]))
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add ``eval`` to the ``deerin`` app."""
    app.command("eval")(eval_cmd)
