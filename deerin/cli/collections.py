"""``deerin collections``: the indexes one ``deerin serve`` deployment offers, each with the groups
that may see it, kept as ``[collections.NAME]`` tables of the user's ``deerin.toml``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from config import ConfigError, user_file
from config.collections import (
    Collection,
    add_collection,
    check_name,
    read_collections,
    remove_collection,
)
from deerin.cli.options import EXIT_USAGE, JsonOption, err, fail


def add(
    name: Annotated[str, typer.Argument(help="The collection's name in URLs and the chat's "
                                        "picker: letters, digits, - and _.")],
    path: Annotated[str, typer.Argument(help="Its index: a folder or s3://BUCKET/PREFIX.")],
    groups: Annotated[str, typer.Option(
        "--groups", help="Comma-separated groups whose members may see it (admins see all).")
    ] = "",
    description: Annotated[str, typer.Option(
        "--description", help="One line the chat's picker shows.")] = "",
    replace: Annotated[bool, typer.Option(
        "--replace", help="Overwrite a collection of the same name.")] = False,
) -> None:
    """Add a collection to the configuration file; a running `deerin serve` offers it at once."""
    file = user_file()
    where = path if path.startswith("s3://") else str(Path(path).expanduser().resolve())
    try:
        check_name(name)
        chosen = tuple(g.strip() for g in groups.split(",") if g.strip())
        add_collection(file, Collection(name, where, description.strip(), chosen),
                       replace=replace)
    except ConfigError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    if not chosen:
        err().print(f"note: {escape(name)} has no groups: only admins will see it")
    if not where.startswith("s3://") and not Path(where).is_dir():
        err().print(f"note: no index at {escape(where)} yet: it is listed as unavailable "
                    "until `deerin index` writes one")
    err().print(f"added {escape(name)} to {escape(str(file))}")


def list_cmd(json_out: JsonOption = False) -> None:
    """List the collections with their index, groups and whether the index can be opened."""
    try:
        found = read_collections(user_file())
    except ConfigError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    rows = [{**c.as_dict(), **status_of(c.path)} for c in found]
    if json_out:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        err().print(f"no collections in {escape(str(user_file()))} (add one with `deerin "
                    "collections add NAME PATH --groups G`)")
        return
    table = Table("name", "index", "groups", "state", "description", show_lines=False)
    for row in rows:
        state = f"{row['files']} files" if row["available"] else f"unavailable: {row['reason']}"
        table.add_row(*(escape(str(v)) for v in (row["name"], row["path"],
                                                 ", ".join(row["groups"]) or "(admins)",
                                                 state, row["description"])))
    Console(soft_wrap=True).print(table)


def remove(
    name: Annotated[str, typer.Argument(help="The collection to stop serving.")],
) -> None:
    """Take a collection out of the configuration file (its index is left as it is)."""
    file = user_file()
    try:
        gone = remove_collection(file, name)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    err().print(f"removed {escape(name)} from {escape(str(file))} (its index at "
                f"{escape(gone.path)} is untouched)")


def status_of(path: str) -> dict[str, object]:
    """Whether the index at ``path`` opens, with its number of files or the reason it does not."""
    from indexing.stores.base import StoreError
    from indexing.stores.lance import open_reader

    try:
        files = sum(1 for _ in open_reader(path).media())
    except StoreError as exc:
        return {"available": False, "reason": str(exc), "files": 0}
    except Exception as exc:  # a damaged index: say so, as a status, not a crash of the list
        return {"available": False, "reason": f"{type(exc).__name__}: {exc}", "files": 0}
    return {"available": True, "reason": "", "files": files}
