"""``deerin reembed``: copy an index under another text embedder (see :mod:`indexing.reembed`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

EXIT_FAILED, EXIT_USAGE = 1, 2


def _err() -> Console:
    return Console(stderr=True)


def reembed(
    out: Annotated[Path, typer.Argument(help="Directory of the new index.")],
    embed_model: Annotated[str, typer.Option(
        "--embed-model", help="Embedder of the new index: default, minilm, e5, a "
        "sentence-transformers name, or several joined by '+' (e.g. minilm+e5).")] = "default",
    db: Annotated[Path | None, typer.Option(
        "--db", help="Index to copy (default: $DEERIN_DB or ./deerin-index).")] = None,
) -> None:
    """Copy the index with another text embedder, without transcribing again."""
    from indexing.reembed import reembed as run
    from indexing.settings import Settings
    from indexing.stages.embed import make_embedder
    from indexing.stores.base import StoreError
    from indexing.stores.lance import LanceStore

    try:
        store = LanceStore(Settings.from_env(db_dir=db).db_dir, create=False)
    except StoreError as exc:
        _err().print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FAILED) from exc
    try:
        embedder = make_embedder(embed_model)
    except ValueError as exc:
        _err().print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from exc

    def on_file(path: str, done: int, total: int) -> None:
        _err().print(f"[{done + 1}/{total}] {path}", highlight=False)

    try:
        result = run(store, out, embedder, on_file)
    except StoreError as exc:
        _err().print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FAILED) from exc
    _err().print(f"{result.files} files ({result.clips} clips) embedded with "
                 f"{embedder.model_id} into {out}; {result.skipped} already there", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``reembed`` to ``app``."""
    app.command()(reembed)
