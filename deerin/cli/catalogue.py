"""The catalogue commands of ``deerin``: ``manifest load``/``set``, ``catalogue``, ``export
catalogue`` and ``eval-ocr``.

Exit codes follow the main CLI: 0 success, 1 nothing could be done, 2 usage error, 3 partial
(some rows or files failed, the others were done).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from deerin.cli.options import (
    EXIT_FAILED,
    EXIT_PARTIAL,
    EXIT_USAGE,
    DbOption,
    JsonOption,
    LlmOption,
    WaitOption,
    err,
    fail,
    open_store,
    settings_of,
)

if TYPE_CHECKING:
    from indexing.file_meta_index import ManifestLoad

def manifest_load(
    csv_file: Annotated[Path, typer.Argument(help="The manifest CSV (see "
                                             "eval/templates/manifest.csv).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Store a manifest's rows as file metadata; titles and descriptions become searchable."""
    from deerin.api import load_manifest
    from indexing.manifest import ManifestError
    from indexing.stores.base import StoreError

    store = open_store(db)
    try:
        report = load_manifest(store, settings_of(db), csv_file)
    except ManifestError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    except StoreError as exc:
        raise fail(str(exc)) from exc
    print_manifest_load(report, json_out)
    if report.problems:
        raise typer.Exit(EXIT_PARTIAL if report.loaded else EXIT_FAILED)


def manifest_set(
    file: Annotated[str, typer.Argument(help="An indexed file (path or file name).")],
    values: Annotated[list[str], typer.Argument(help="FIELD=VALUE pairs; FIELD= removes it.")],
    db: DbOption = None,
) -> None:
    """Correct a file's record by hand: these fields win over the manifest's and the LLM's."""
    from indexing.file_meta_index import set_user_fields
    from indexing.stages.embed import embedder_from_settings
    from indexing.stores.base import StoreError

    pairs: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise fail(f"not FIELD=VALUE: {item!r}", EXIT_USAGE)
        pairs[key.strip().lower()] = value.strip()
    store = open_store(db)
    real = str(Path(file).resolve())
    found = [m for m in store.media() if m.path in (file, real) or Path(m.path).name == file]
    if len(found) != 1:
        raise fail(f"not indexed: {file}" if not found else
                   f"{file} is ambiguous: give its path")
    built = store.embedder()
    try:
        fields = set_user_fields(store, found[0], pairs, lambda: embedder_from_settings(
            settings_of(db), built[0] if built else None))
    except StoreError as exc:
        raise fail(str(exc)) from exc
    err().print(f"{escape(found[0].name)}: {json.dumps(fields, ensure_ascii=False)}")


def print_manifest_load(report: ManifestLoad, json_out: bool = False) -> None:
    """Say what loading a manifest did (also after ``deerin index --manifest``)."""
    if json_out:
        print(json.dumps({
            "loaded": [{"row": r, "file": str(p), "indexed": i} for r, p, i in report.loaded],
            "problems": [{"row": p.row, "reason": p.reason} for p in report.problems],
        }, indent=2, ensure_ascii=False))
    console = err()
    for p in report.problems:
        console.print(f"[yellow]row {p.row}:[/] {escape(p.reason)}")
    waiting = sum(1 for *_, indexed in report.loaded if not indexed)
    console.print(f"[bold]{len(report.loaded)} rows loaded[/], {len(report.problems)} refused"
                  + (f"; {waiting} describe files not indexed yet (searchable once "
                     "`deerin index` reaches them)" if waiting else ""))


def catalogue(
    files: Annotated[list[str] | None, typer.Option(
        "--files", help="Only these indexed files (path or file name); repeatable.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Write records again even where the inputs are unchanged.")] = False,
    llm: LlmOption = None,
    db: DbOption = None,
    wait: WaitOption = 0.0,
    json_out: JsonOption = False,
) -> None:
    """Write each file's catalogue record (title, summary, subjects, people, places, dates,
    language) with the LLM; files catalogued from the same inputs are skipped."""
    from assistant.llm import LLMError, LLMUsageError, load_llm, parse_llm_spec
    from indexing.enrich.catalogue import catalogue as run_catalogue
    from indexing.stores.base import StoreError

    try:
        spec = parse_llm_spec(llm)
    except LLMUsageError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    store = open_store(db)
    media = store.media()
    if files:
        wanted = []
        for f in files:
            real = str(Path(f).resolve())
            found = [m for m in media if m.path in (f, real) or Path(m.path).name == f]
            if not found:
                raise fail(f"not indexed: {f}")
            wanted += found
        media = list({m.media_id: m for m in wanted}.values())
    console = err()
    try:
        # One writer at a time: records and their meta clips are written as files are done.
        with store.writing(wait), console.status("cataloguing…") as spinner:
            say = spinner.update if console.is_terminal else console.print
            outcomes = run_catalogue(
                store, lambda: load_llm(llm), f"{spec.backend}:{spec.target}", files=media,
                force=force, progress=lambda i, n, name: say(f"file {i}/{n}: {name}"))
    except (LLMError, StoreError) as exc:
        raise fail(str(exc)) from exc
    if json_out:
        print(json.dumps([{"file": o.path, "status": o.status, "record": o.record,
                           "reason": o.reason, "seconds": round(o.seconds, 1)}
                          for o in outcomes], indent=2, ensure_ascii=False))
    else:
        table = Table(title="catalogue")
        for col in ("file", "status", "title / reason"):
            table.add_column(col, overflow="fold")
        for o in outcomes:
            table.add_row(Path(o.path).name, o.status,
                          o.reason or str((o.record or {}).get("title", "")))
        Console().print(table)
    failed = [o for o in outcomes if o.status == "failed"]
    for o in failed:
        console.print(f"[red]failed[/] {escape(o.path)}: {escape(o.reason)}")
    if failed:
        raise typer.Exit(EXIT_PARTIAL if len(failed) < len(outcomes) else EXIT_FAILED)


def export_catalogue(
    fmt: Annotated[str, typer.Option("--format", help="json (DEERIn's fields and their "
                                     "sources) | dc (oai_dc XML) | ebucore (EBUCore XML) | "
                                     "pbcore (PBCore 2.1 XML)")] = "json",
    out: Annotated[Path | None, typer.Option(
        "--out", help="json: write this file (default: print). XML: the folder to write one "
        "document per file into (required).")] = None,
    db: DbOption = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="With --out, print what was written as JSON.")] = False,
) -> None:
    """Every indexed file's catalogue record (manifest fields win over the LLM's): as JSON, or
    as oai_dc, EBUCore or PBCore XML documents validated against their published schemas. A
    record that cannot be valid (no title, a date that is no date) is reported and not
    written."""
    from indexing.catalogue_formats import FORMATS, plain_record
    from indexing.catalogue_xml import XML_FORMATS, write_records
    from indexing.file_meta_index import catalogue_view

    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}", EXIT_USAGE)
    if fmt in XML_FORMATS and out is None:
        raise fail(f"--format {fmt} writes one XML document per file: give --out FOLDER",
                   EXIT_USAGE)
    if fmt in XML_FORMATS and out is not None and out.exists() and not out.is_dir():
        raise fail(f"--out {out} is a file; {fmt} needs a folder", EXIT_USAGE)
    store = open_store(db)
    view = catalogue_view(store)
    media = store.media()
    if fmt in XML_FORMATS:
        assert out is not None  # for mypy: checked above
        try:
            written, refused = write_records(
                fmt, [(m, view[m.media_id].fields if m.media_id in view else None)
                      for m in media], out)
        except OSError as exc:
            raise fail(f"cannot write into {out}: {exc.strerror or exc}") from exc
        console = err()
        for r in refused:
            console.print(f"[red]not written:[/] {escape(r.reason)}")
        console.print(f"wrote {len(written)} {fmt} records to {out}"
                      + (f"; {len(refused)} not written" if refused else ""))
        if json_out:
            print(json.dumps({"written": [str(w.out) for w in written],
                              "refused": [{"file": r.media_path, "reason": r.reason}
                                          for r in refused]}, indent=2, ensure_ascii=False))
        if refused:
            raise typer.Exit(EXIT_PARTIAL if written else EXIT_FAILED)
        return
    records = [plain_record(m, view[m.media_id].fields, view[m.media_id].sources)
               for m in media if m.media_id in view]
    text = json.dumps(records, indent=2, ensure_ascii=False)
    if out is None:
        print(text)
        return
    try:
        out.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror}") from exc
    err().print(f"wrote {len(records)} records to {out}")
    if json_out:
        print(json.dumps({"written": [str(out)], "records": len(records)}, indent=2))


def eval_ocr(
    gold: Annotated[Path, typer.Argument(help="Hand-typed on-screen text (JSONL: file, "
                                         "second, text), e.g. eval/sets/ocr.jsonl.")],
    media_dir: Annotated[Path | None, typer.Option(
        "--media", help="Folder the gold's file names are in (default: ../shared/media).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Character error rate of the on-screen text reader against hand-typed frames."""
    from eval.ocr_cer import DEFAULT_MEDIA, evaluate, read_gold

    try:
        items = read_gold(gold)
    except (OSError, ValueError) as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    result = evaluate(items, media_dir or DEFAULT_MEDIA, settings_of(None))
    if json_out:
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
        return
    table = Table(title=f"OCR character error rate: {len(result.frames)} frames")
    for col in ("file", "second", "CER", "expected", "read"):
        table.add_column(col, overflow="fold")
    for f in result.frames:
        table.add_row(f.file, f"{f.second:g}", f"{f.cer:.3f}", f.expected, f.read)
    Console().print(table)
    Console().print(f"overall CER {result.cer:.3f} ({result.errors} edits over "
                    f"{result.chars} characters)")
    if result.missing:
        for m in result.missing:
            err().print(f"[yellow]skipped:[/] {escape(m)}")

