"""What every ``deerin`` command shares: exit codes, the common options, the error console, and
the configuration a command runs with.

Exit codes: 0 success, 1 nothing (or not everything) could be done, 2 usage error (also a bad
setting), 3 partial (some files failed, the rest were done; or the clips were indexed and the
knowledge graph was not).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="The index: a folder or s3://BUCKET/PREFIX (default: the setting "
                 "index.db, DEERIN_DB, else ./deerin-index)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
LlmOption = Annotated[
    str | None,
    typer.Option("--llm", help="The LLM: tiny | fast | default (shipped GGUF tiers), "
                 "llamacpp:PATH.gguf or ollama[:MODEL] (default: the setting models.llm, "
                 "DEERIN_LLM, else the answering tier)."),
]
PortOption = Annotated[int, typer.Option("--port", help="Port to listen on.")]
KOption = Annotated[int | None, typer.Option(
    "--k", min=1, help="Clips per answer (default: the assistant's).")]
MaxTokensOption = Annotated[int | None, typer.Option(
    "--max-tokens", min=1, help="Longest answer in tokens (default: the assistant's).")]
WaitOption = Annotated[
    float,
    typer.Option("--wait", min=0, help="Seconds to wait for another writer of this index "
                 "(default: none)."),
]


def err() -> Console:
    """The console for progress, notes and errors (stderr; stdout stays for results)."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    """Print ``message`` as one error line and return the exit to raise."""
    err().print(f"[red]error:[/] {escape(message)}")
    return typer.Exit(code)


def command_config(db: Path | None = None) -> Config:
    """The settings a command runs with: defaults, the user's ``deerin.toml``, the index's own
    (of ``--db``, else the configured index), the environment. Values from files are put into
    the process environment too, so what the command starts (the chat server, Ray workers,
    experiment steps) sees them (a later call sees them as the environment). A bad setting exits
    2 with one line."""
    from indexing.settings import local_dir

    try:
        user = load_config()
        target = db if db is not None else user["index.db"]
        cfg = load_config(index_dir=local_dir(target))
    except ConfigError as exc:
        raise config_error(exc) from exc
    os.environ.update(cfg.file_environ())
    return cfg


def settings_of(db: Path | None, **overrides: object) -> Settings:
    """Indexing settings of the command's configuration, with ``--db`` and other non-None
    overrides (command-line flags win)."""
    from indexing.settings import Settings

    return Settings.from_config(command_config(db), db_dir=db, **overrides)


def open_store(db: Path | None) -> LanceStore:
    """The existing index ``--db`` names; exit 1 with one line when there is none."""
    from deerin.api import open_index
    from indexing.stores.base import StoreError

    try:
        return open_index(db, config=command_config(db))
    except StoreError as exc:
        raise fail(str(exc)) from exc


def config_error(exc: ConfigError) -> typer.Exit:
    """A bad setting: one line, exit 2."""
    return fail(str(exc), EXIT_USAGE)
