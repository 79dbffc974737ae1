"""``deerin index``, ``remove`` and ``status``: what goes into the index, and what is in it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

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
)
from indexing.fmt import fmt_time


def index(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (searched recursively).")],
    db: DbOption = None,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Drop indexed files that are gone.")] = False,
    asr_model: Annotated[str | None, typer.Option(
        "--asr-model", help="faster-whisper model name or path; 'base' = the shipped multilingual "
        "Whisper base (default: the setting models.asr: shipped tiny.en, other languages "
        "re-checked with base).")] = None,
    language: Annotated[str | None, typer.Option(
        "--language", help="Spoken language code (default: the setting index.language, else "
        "detect).")] = None,
    no_shots: Annotated[bool, typer.Option("--no-shots", help="Skip shot detection.")] = False,
    no_ocr: Annotated[bool, typer.Option(
        "--no-ocr", help="Do not read on-screen text (RapidOCR) from video.")] = False,
    no_faces: Annotated[bool, typer.Option(
        "--no-faces", help="Do not count faces on shot keyframes.")] = False,
    no_proxies: Annotated[bool, typer.Option(
        "--no-proxies", help="Make no browser-playable copies of files a browser cannot play "
        "(MXF, ProRes, DV...; the setting index.proxies).")] = False,
    json_out: JsonOption = False,
    wait: WaitOption = 0.0,
    full_hash: Annotated[bool, typer.Option(
        "--full-hash", help="Identify files by a hash of every byte, not a sample of files over "
        "12 MiB (a new index only: an index keeps the scheme it was built with).")] = False,
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Erase the index (also one of an older format) and index PATHS anew.")
    ] = False,
    manifest: Annotated[Path | None, typer.Option(
        "--manifest", help="Then load this collection manifest CSV (see `deerin manifest load`)."
    )] = None,
    engine: Annotated[str, typer.Option(
        "--engine", help="Where the model work runs: 'local' (this process) or 'ray' (actors on "
        "a Ray cluster; the index is written here).")] = "local",
    address: Annotated[str | None, typer.Option(
        "--address", help="Ray cluster: 'auto' (started with `ray start` on this machine) or "
        "ray://HOST:PORT (default: a local Ray instance for this run).")] = None,
    workers: Annotated[int | None, typer.Option(
        "--workers", min=1, help="Ray actors (default: one per two CPUs of the cluster).")
    ] = None,
) -> None:
    """Index footage: speech, subtitles and shots, into a searchable, timestamped index.

    Exit 0 when every file is indexed (also when the folders hold no media at all), 3 when some
    files failed or the knowledge graph could not be updated, 1 when nothing could be done.
    """
    import deerin
    from deerin.cli.progress import RichProgress
    from indexing.engines import EngineError
    from indexing.manifest import ManifestError
    from indexing.stores.base import StoreError

    if manifest is not None and not manifest.is_file():  # before minutes of indexing
        raise fail(f"manifest not found: {manifest}", EXIT_USAGE)
    console = err()
    try:
        with RichProgress(console) as progress:
            run = deerin.index(
                paths, db, prune=prune, rebuild=rebuild, wait=wait, engine=engine,
                address=address, workers=workers, manifest=manifest, progress=progress,
                config=command_config(db), asr_model=asr_model, asr_language=language,
                shots=False if no_shots else None, full_hash=full_hash or None,
                ocr=False if no_ocr else None, faces=False if no_faces else None,
                proxies=False if no_proxies else None)
    except EngineError as exc:
        raise fail(str(exc), EXIT_USAGE if exc.usage else EXIT_FAILED) from exc
    except ManifestError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    except StoreError as exc:
        raise fail(str(exc)) from exc
    report = run.report
    if json_out:
        print(json.dumps({
            "indexed": [str(r.path) for r in report.results if r.status == "indexed"],
            "unchanged": [str(r.path) for r in report.results if r.status == "unchanged"],
            "failed": [{"path": str(f.path), "reason": f.reason, "stage": f.stage}
                       for f in report.failures],
            "pruned": list(report.pruned),
            "graph": {"updated": run.graph.report is not None, "problem": run.graph.problem},
        }, indent=2))
    if run.manifest is not None:
        from deerin.cli.catalogue import print_manifest_load

        print_manifest_load(run.manifest, json_out=False)
    console.print(
        f"[bold]{report.indexed} indexed, {report.unchanged} unchanged, "
        f"{len(report.failures)} failed[/]"
        + (f", {len(report.pruned)} pruned" if report.pruned else "")
        + f" → {run.location}"
    )
    if not report.results and not report.failures:
        # Not an error: a watched folder may be empty yet (a compose index job on first start).
        console.print("[yellow]note:[/] no media files found under the given paths")
    if run.graph.failed:  # the clips are indexed; only the graph is behind
        console.print(f"[red]error:[/] {run.graph.problem}", highlight=False, soft_wrap=True)
    if report.failures and not report.results:
        raise typer.Exit(EXIT_FAILED)
    if report.failures or run.graph.failed or (run.manifest and run.manifest.problems):
        raise typer.Exit(EXIT_PARTIAL)


def remove(
    paths: Annotated[list[Path], typer.Argument(help="Indexed files to drop from the index.")],
    db: DbOption = None,
    wait: WaitOption = 0.0,
    json_out: JsonOption = False,
) -> None:
    """Remove files from the index (the media itself is not touched)."""
    from indexing.discover import canonical
    from indexing.stores.base import StoreError

    store = open_store(db)
    removed: list[str] = []
    missing: list[str] = []
    try:
        with store.writing(wait):
            known = {m.path for m in store.media()}
            for p in paths:
                # The key the indexer stored: symlinks and `..` resolved, as discover does.
                key = str(canonical(p))
                if key in known:
                    store.remove_media(key)
                    removed.append(key)
                    err().print(f"removed {key}", highlight=False)
                else:
                    missing.append(key)
                    err().print(f"[yellow]not indexed:[/] {key}", highlight=False)
            store.finalize()
    except StoreError as exc:
        raise fail(str(exc)) from exc
    if json_out:
        print(json.dumps({"removed": removed, "not_indexed": missing}, indent=2))
    if missing:
        raise typer.Exit(EXIT_PARTIAL if removed else EXIT_FAILED)


def status(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Show what is indexed: files, durations, clips and failures."""
    from indexing.file_meta_index import catalogue_view

    store = open_store(db)
    media = store.media()
    failures = store.failures()
    emb = store.embedder()
    if json_out:
        records = catalogue_view(store)
        print(json.dumps({
            "db": str(store.location),
            "embedder": emb[0] if emb else None,
            "files": [{"path": m.path, "kind": m.kind, "duration": m.duration, "clips": m.clips,
                       "shots": m.shots, "language": m.language, "warnings": m.warnings}
                      | ({"catalogue": records[m.media_id].fields,
                          "catalogue_sources": records[m.media_id].sources}
                         if m.media_id in records else {})
                      for m in media],
            "total_duration": sum(m.duration for m in media),
            "clips": store.count_clips(),
            "failures": [{"path": f.path, "reason": f.reason, "stage": f.stage}
                         for f in failures],
            "machines": store.meta.machines(),
        }, indent=2, ensure_ascii=False))
        return
    console = Console()
    table = Table(title=f"DEERIn index {store.location}")
    for col in ("file", "kind", "duration", "clips", "shots", "lang"):
        table.add_column(col)
    for m in media:
        table.add_row(m.name, m.kind, fmt_time(m.duration), str(m.clips), str(m.shots),
                      m.language)
    console.print(table)
    console.print(f"{len(media)} files, {fmt_time(sum(m.duration for m in media))} of media, "
                  f"{store.count_clips()} clips; embedder {emb[0] if emb else '-'}")
    for f in failures:
        console.print(f"[red]failed[/] {f.path}: {f.reason}", highlight=False)
