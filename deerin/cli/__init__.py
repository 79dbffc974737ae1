"""The ``deerin`` command line: a thin layer over the public API (:mod:`deerin.api`) and the
layers below it. One module per command group; every command is registered below, in one place,
in the order ``deerin --help`` lists them.

Exit codes: 0 success, 1 failure (nothing could be done), 2 usage error or bad setting, 3 partial
failure (some files failed, or the clips were indexed and the knowledge graph was not).
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer

from config import BY_KEY, ConfigError, load_config, user_file
from config.collections import read_collections
from deerin.cli import (
    catalogue,
    chat,
    collections,
    enrich,
    eval,
    experiment,
    export,
    feedback,
    graph,
    index,
    interaction,
    query,
    reembed,
    serve,
    setup,
)
from deerin.cli.options import EXIT_USAGE, config_error, err, fail

app = typer.Typer(
    no_args_is_help=True, rich_markup_mode="markdown",
    help="DEERIn: talk to your footage. Index a folder of video/audio, then search and ask.",
)


def _version(show: bool) -> None:
    if show:
        try:
            print(f"deerin {version('deerin')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            print("deerin (not installed)")
        raise typer.Exit()


@app.callback()
def _main(
    config_file: Annotated[Path | None, typer.Option(
        "--config", help="Read settings from this deerin.toml instead of the user's "
        "(default: $DEERIN_CONFIG, else ~/.config/deerin/deerin.toml). See `deerin config "
        "show`.")] = None,
    _show_version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """DEERIn: talk to your footage. Index a folder of video/audio, then search and ask."""
    if config_file is not None:
        if not config_file.is_file():
            raise fail(f"configuration file not found: {config_file}", EXIT_USAGE)
        # The same as DEERIN_CONFIG, so the programs this command starts read the same file.
        os.environ[BY_KEY["config.file"].env] = str(config_file.resolve())
    try:  # a bad setting stops every command at once, with one line (exit 2)
        load_config()
        read_collections(user_file())
    except ConfigError as exc:
        raise config_error(exc) from exc


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(no_args_is_help=True, rich_markup_mode="markdown", help=help_text)


# -- every command ------------------------------------------------------------------------------
graph_app = _group("The knowledge graph: entities, where they appear, who appears with whom.")
export_app = _group("Write transcripts, IIIF manifests, search results, answers and catalogue "
                    "records in formats editors, viewers and catalogues open.")
manifest_app = _group("Collection manifests: a CSV of file, title, date, rights, description "
                      "(and any other columns).")
questions_app = _group("Question sheets: CSV an archivist fills, for the eval.")
config_app = _group("The settings: defaults, deerin.toml files and the environment.")
feedback_app = _group("What workshop participants said of the answers: verdicts, right "
                      "moments.")
workshop_app = _group("Workshops run with `deerin serve`: what participants asked and judged.")
users_app = _group("The accounts of `deerin serve`: names, groups, argon2 password hashes.")
collections_app = _group("The collections `deerin serve` offers, each seen by its own groups.")

app.command()(index.index)
app.command()(index.remove)
app.command()(index.status)
app.command()(query.search)
app.command()(query.ask)
app.command()(chat.chat)
app.command()(serve.serve)
app.add_typer(collections_app, name="collections")
collections_app.command()(collections.add)
collections_app.command("list")(collections.list_cmd)
collections_app.command()(collections.remove)
app.add_typer(feedback_app, name="feedback")
feedback_app.command("export")(feedback.export)
app.add_typer(workshop_app, name="workshop")
workshop_app.command("report")(feedback.report)
app.add_typer(users_app, name="users")
users_app.command("add")(serve.users_add)
users_app.command("list")(serve.users_list)
users_app.command("remove")(serve.users_remove)
app.command()(setup.demo)
app.command()(setup.doctor)
app.add_typer(config_app, name="config")
config_app.command("show")(setup.config_show)
app.add_typer(graph_app, name="graph")
graph_app.command()(graph.build)
graph_app.command()(graph.entities)
graph_app.command()(graph.show)
graph_app.command()(graph.export)
graph_app.command()(graph.communities)
app.command("map")(interaction.map_cmd)
app.command()(interaction.montage)
app.command()(interaction.cut)
app.command()(interaction.ngrams)
app.add_typer(export_app, name="export")
export_app.command()(export.transcript)
export_app.command()(export.iiif)
export_app.command()(export.search)
export_app.command()(export.answer)
export_app.command("catalogue")(catalogue.export_catalogue)
app.add_typer(manifest_app, name="manifest")
manifest_app.command("load")(catalogue.manifest_load)
manifest_app.command("set")(catalogue.manifest_set)
app.command()(catalogue.catalogue)
app.command()(enrich.enrich)
app.command()(reembed.reembed)
app.command("eval")(eval.evaluate)
app.command("eval-ocr")(catalogue.eval_ocr)
app.command()(experiment.experiment)
app.add_typer(questions_app, name="questions")
questions_app.command("convert")(experiment.convert)


def run() -> None:
    """Run the command line in this process, which :func:`deerin.console.main` has set up."""
    try:
        app()
    except ConfigError as exc:
        config_error(exc)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:
        err().print("interrupted")
        sys.exit(130)
