"""What every ``deerin`` command module shares: exit codes, the ``--db``/``--json`` options,
the error console, and opening the index named by ``--db``.

Exit codes: 0 success, 1 nothing (or not everything) could be done, 2 usage error, 3 partial
(some files failed, the rest were done).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3

DbOption = Annotated[
    Path | None,
    typer.Option("--db", help="Index directory (default: $DEERIN_DB or ./deerin-index)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def err() -> Console:
    """The console for progress, notes and errors (stderr; stdout stays for results)."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_FAILED) -> typer.Exit:
    """Print ``message`` as one error line and return the exit to raise."""
    err().print(f"[red]error:[/] {escape(message)}")
    return typer.Exit(code)


def settings_of(db: Path | None, **overrides: object) -> Settings:
    """Indexing settings from the environment, with ``--db`` and other non-None overrides."""
    from indexing.settings import Settings

    return Settings.from_env(db_dir=db, **overrides)


def open_store(db: Path | None) -> LanceStore:
    """The existing index ``--db`` names; exit 1 with one line when there is none."""
    from indexing.stores.base import StoreError
    from indexing.stores.lance import LanceStore

    try:
        return LanceStore(settings_of(db).db_dir, create=False)
    except StoreError as exc:
        raise fail(str(exc)) from exc
