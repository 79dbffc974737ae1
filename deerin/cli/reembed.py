"""``deerin reembed``: copy an index under another text embedder (see :mod:`indexing.reembed`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deerin.cli.options import EXIT_USAGE, DbOption, err, fail, open_store


def reembed(
    out: Annotated[Path, typer.Argument(help="Directory of the new index.")],
    embed_model: Annotated[str, typer.Option(
        "--embed-model", help="Embedder of the new index: default, minilm, e5, a "
        "sentence-transformers name, or several joined by '+' (e.g. minilm+e5).")] = "default",
    db: DbOption = None,
) -> None:
    """Copy the index with another text embedder, without transcribing again."""
    from indexing.reembed import reembed as run
    from indexing.stages.embed import make_embedder
    from indexing.stores.base import StoreError

    store = open_store(db)
    try:
        embedder = make_embedder(embed_model)
    except ValueError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc

    def on_file(path: str, done: int, total: int) -> None:
        err().print(f"[{done + 1}/{total}] {path}", highlight=False)

    try:
        result = run(store, out, embedder, on_file)
    except StoreError as exc:
        raise fail(str(exc)) from exc
    err().print(f"{result.files} files ({result.clips} clips) embedded with "
                 f"{embedder.model_id} into {out}; {result.skipped} already there", highlight=False)

