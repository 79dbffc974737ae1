"""``deerin enrich``: slow, optional passes over an existing index (keyframe captions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from deerin.cli.options import (
    EXIT_FAILED,
    EXIT_PARTIAL,
    EXIT_USAGE,
    DbOption,
    JsonOption,
    WaitOption,
    command_config,
    err,
    fail,
    open_store,
    settings_of,
)


def enrich(
    db: DbOption = None,
    captions: Annotated[bool, typer.Option(
        "--captions", help="Caption shot keyframes with DEERIN_CAPTION_MODEL (a transformers "
        "image-to-text model: Hugging Face name or local folder).")] = False,
    budget_seconds: Annotated[float | None, typer.Option(
        "--budget-seconds", min=0, help="Start no new captioning after this many seconds; "
        "run again to go on where it stopped.")] = None,
    only_retrieved: Annotated[bool, typer.Option(
        "--only-retrieved", help="Caption only the shots under the top hits of the questions "
        "in --questions.")] = False,
    questions: Annotated[Path | None, typer.Option(
        "--questions", help="Questions for --only-retrieved: a text file (one a line) or a "
        "JSONL set with question/query fields.")] = None,
    k: Annotated[int, typer.Option("-k", min=1, help="Hits per question for --only-retrieved.")
                 ] = 5,
    wait: WaitOption = 0.0,
    json_out: JsonOption = False,
) -> None:
    """Add slow, optional enrichments to an index: keyframe captions as searchable clips.

    Resumable: a shot with a caption is never captioned again, and captions are cached by
    keyframe content, so an interrupted or budget-stopped run continues where it stopped.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from eval.gold import read_questions
    from indexing.backends.transformers import CaptionerError, HFCaptioner
    from indexing.enrich.captions import caption_targets, enrich_captions
    from indexing.graph.settings import GraphSettings
    from indexing.graph.sync import sync_graph
    from indexing.stages.embed import embedder_from_settings
    from indexing.stores.base import StoreError

    if not captions:
        raise fail("nothing to do: say what to add (--captions)", EXIT_USAGE)
    if only_retrieved and questions is None:
        raise fail("--only-retrieved needs --questions FILE (the questions whose retrieved "
                   "shots to caption)", EXIT_USAGE)
    settings = settings_of(db)
    try:
        captioner = HFCaptioner(settings.caption_model)
        asked = read_questions(questions) if only_retrieved and questions else None
    except (CaptionerError, ValueError, OSError) as exc:
        raise fail(str(exc), EXIT_FAILED if isinstance(exc, CaptionerError) else EXIT_USAGE) \
            from exc
    store = open_store(db)
    console = err()
    try:
        with store.writing(wait):
            only = None
            if asked is not None:
                from assistant.retrieval import retrieved_shots

                with console.status(f"retrieving for {len(asked)} questions…"):
                    only = retrieved_shots(store, settings, asked, k)
            targets, already, missing = caption_targets(store, only)
            built_with = store.embedder()
            embedder = embedder_from_settings(settings, built_with[0] if built_with else None)
            bar = Progress(TextColumn("[bold]captions"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                           console=console, transient=True)
            with bar:
                task = bar.add_task("captions", total=len(targets))
                report = enrich_captions(
                    store, captioner, embedder, targets, budget_seconds=budget_seconds,
                    already=already, no_keyframe=missing,
                    progress=lambda done, total: bar.update(task, completed=done))
            graph = sync_graph(store, GraphSettings.from_config(command_config(db)),
                               refresh=report.files)
    except StoreError as exc:
        raise fail(str(exc)) from exc
    except (OSError, ValueError) as exc:  # a model folder transformers cannot read
        raise fail(f"captioning model {settings.caption_model}: {exc}") from exc
    if json_out:
        print(json.dumps({
            "model": captioner.model_id, "total": report.total, "captioned": report.captioned,
            "cached": report.cached, "clips": report.clips, "already": report.already,
            "no_keyframe": report.no_keyframe, "remaining": report.remaining,
            "budget_stopped": report.budget_stopped, "seconds": round(report.seconds, 2),
            "warnings": list(report.warnings)}, indent=2))
    console.print(
        f"[bold]{report.captioned} captioned, {report.cached} from cache, "
        f"{report.clips} caption clips added[/]; {report.already} shots had captions"
        + (f", {report.no_keyframe} have no keyframe" if report.no_keyframe else "")
        + (f"; budget reached: {report.remaining} left (run again to continue)"
           if report.budget_stopped else ""))
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    if graph.failed:  # the captions stand; only the graph is behind
        console.print(f"[red]error:[/] {graph.problem}", highlight=False)
        raise typer.Exit(EXIT_PARTIAL)

