"""``deerin doctor``, ``deerin demo`` and ``deerin config``: is this machine ready, a first run,
and the settings in effect."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from deerin.cli.options import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    DbOption,
    JsonOption,
    LlmOption,
    command_config,
    err,
    fail,
)


def doctor(json_out: JsonOption = False) -> None:
    """Say which backends, models and LLM tiers are usable here, and what a missing one
    disables."""
    from deerin.doctor import doctor_json, run_checks

    command_config()
    if json_out:
        report = doctor_json(os.environ)
        print(json.dumps(report, indent=2, ensure_ascii=False))
        if not report["ok"]:
            raise typer.Exit(EXIT_FAILED)
        return
    console = Console()
    table = Table(title="DEERIn doctor")
    for col in ("component", "status", "detail"):
        table.add_column(col, overflow="fold")
    failed_required = False
    for check in run_checks(os.environ):
        mark = "[green]ok[/]" if check.ok else ("[red]missing[/]" if check.required
                                                 else "[yellow]off[/]")
        table.add_row(escape(check.name), mark, escape(check.detail))
        failed_required |= check.required and not check.ok
    console.print(table)
    if failed_required:
        raise typer.Exit(EXIT_FAILED)


def demo(
    folder: Annotated[Path | None, typer.Option(
        "--folder", help="Where to write the demo footage (default: a temp folder).")] = None,
    db: DbOption = None,
    question: Annotated[str, typer.Option("--question", "-q", help="The question to ask.")] =
        "What did the narrator say about the lighthouse?",
    llm: LlmOption = None,
) -> None:
    """Make a small demo collection, index it and answer a question with a cited clip."""
    import tempfile

    from assistant.llm import LLMUsageError, parse_llm_spec
    from deerin.cli.index import index
    from deerin.cli.query import ask
    from deerin.demo import make_demo_collection

    console = err()
    try:
        parse_llm_spec(llm)  # before minutes of making and indexing footage
    except LLMUsageError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    root = folder or Path(tempfile.mkdtemp(prefix="deerin-demo-"))
    console.print(f"[bold]1/3[/] making demo footage in {root}")
    files = make_demo_collection(root)
    for f in files:
        console.print(f"  {f.name}")
    dbdir = db or root / "index"
    console.print(f"[bold]2/3[/] indexing → {dbdir}")
    try:
        index([root], db=dbdir)
    except typer.Exit as exc:
        if exc.exit_code not in (EXIT_OK, None):
            raise
    console.print(f"[bold]3/3[/] asking: {question}")
    ask(question, db=dbdir, llm=llm)
    console.print(f"\nTry: deerin search \"lighthouse\" --db {dbdir}\n"
                  f"     deerin chat --db {dbdir}")


def config_show(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Print every setting's effective value and where it came from: default, a deerin.toml
    file, or the environment (secrets are masked)."""
    cfg = command_config(db)
    if json_out:
        print(json.dumps({
            "files": [str(f) for f in cfg.files],
            "settings": [{"key": v.setting.key, "env": v.setting.env, "value": v.shown(),
                          "source": v.source} for v in cfg]}, indent=2, ensure_ascii=False))
        return
    table = Table(title="DEERIn settings")
    for col in ("setting", "environment variable", "value", "from"):
        table.add_column(col, overflow="fold")
    for v in cfg:
        table.add_row(v.setting.key, v.setting.env, escape(v.shown()), escape(v.source))
    Console().print(table)
    read = ", ".join(str(f) for f in cfg.files) or "none"
    err().print(f"files read: {escape(read)}")
