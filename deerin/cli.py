"""The ``deerin`` command line: a thin layer over indexing/, assistant/ and eval/.

Exit codes (documented in the README):
  0  success
  1  failure: nothing could be done (every file failed, no index, bad model, ...)
  2  usage error (bad option or argument)
  3  partial failure: some files failed, all others were indexed
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from deerin.catalogue_cli import register as register_catalogue
from deerin.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    DbOption,
    JsonOption,
    err,
    open_store,
    settings_of,
)
from deerin.enrich_cli import register as register_enrich
from deerin.eval_cli import register as register_eval
from deerin.experiment_cli import chat_extensions as experiment_extensions
from deerin.experiment_cli import register as register_experiment
from deerin.graph_cli import app as graph_app
from deerin.interaction_cli import chat_extensions
from deerin.interaction_cli import register as register_interaction
from deerin.reembed_cli import register as register_reembed
from indexing.fmt import fmt_time

app = typer.Typer(
    add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
    help="DEERIn: talk to your footage. Index a folder of video/audio, then search and ask.",
)

app.add_typer(graph_app, name="graph")

@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (searched recursively).")],
    db: DbOption = None,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Drop indexed files that are gone.")] = False,
    asr_model: Annotated[str | None, typer.Option(
        "--asr-model", help="faster-whisper model name or path; 'base' = the shipped multilingual "
        "Whisper base (default: shipped tiny.en, other languages re-checked with base).")
    ] = None,
    language: Annotated[str | None, typer.Option(
        "--language", help="Spoken language code; default: detect.")] = None,
    no_shots: Annotated[bool, typer.Option("--no-shots", help="Skip shot detection.")] = False,
    no_ocr: Annotated[bool, typer.Option(
        "--no-ocr", help="Do not read on-screen text (RapidOCR) from video.")] = False,
    no_faces: Annotated[bool, typer.Option(
        "--no-faces", help="Do not count faces on shot keyframes.")] = False,
    json_out: JsonOption = False,
    wait: Annotated[float, typer.Option(
        "--wait", min=0, help="Seconds to wait for another writer of this index (default: none).")
    ] = 0.0,
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
    """Index footage: speech, subtitles and shots, into a searchable, timestamped index."""
    from deerin.graph_cli import sync_graph
    from deerin.progress import RichProgress
    from indexing.engines import EngineError, check_engine, make_indexer
    from indexing.stores.base import StoreError
    from indexing.stores.lance import LanceStore, erase_index
    from indexing.stores.lease import writer_lock

    if manifest is not None and not manifest.is_file():  # before minutes of indexing
        err().print(f"[red]error:[/] manifest not found: {manifest}", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    settings = settings_of(db, asr_model=asr_model, asr_language=language,
                         shots=False if no_shots else None, full_hash=full_hash or None,
                         ocr=False if no_ocr else None, faces=False if no_faces else None)
    console = err()
    try:
        check_engine(engine, address, workers)  # before --rebuild erases anything
        # Locked before the store opens, so --rebuild never erases an index being written.
        with writer_lock(settings.db_dir, wait) as lock:
            if rebuild:
                erase_index(settings.db_dir)
            store = LanceStore(settings.db_dir, writer=lock)
            with RichProgress(console) as progress:
                indexer = make_indexer(engine, store, settings, progress=progress,
                                       address=address, workers=workers)
                report = indexer.index(paths, prune=prune)
            graph = sync_graph(store)  # the graph is derived from the clips: after them
            if manifest is not None:
                from deerin.catalogue_cli import apply_manifest

                bad_rows = apply_manifest(store, settings, manifest).problems
    except EngineError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE if exc.usage else EXIT_FAILED) from exc
    except StoreError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_FAILED) from exc
    total = len(report.results) + len(report.failures)
    if json_out:
        print(json.dumps({
            "indexed": [str(r.path) for r in report.results if r.status == "indexed"],
            "unchanged": [str(r.path) for r in report.results if r.status == "unchanged"],
            "failed": [{"path": str(f.path), "reason": f.reason, "stage": f.stage}
                       for f in report.failures],
            "pruned": list(report.pruned),
        }, indent=2))
    console.print(
        f"[bold]{report.indexed} indexed, {report.unchanged} unchanged, "
        f"{len(report.failures)} failed[/]"
        + (f", {len(report.pruned)} pruned" if report.pruned else "")
        + f" → {store.location}"
    )
    if total == 0:
        console.print("[red]error:[/] no media files found under the given paths")
        raise typer.Exit(EXIT_FAILED)
    if isinstance(graph, str):  # the clips are indexed; only the graph failed
        console.print(f"[red]error:[/] {graph}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED)
    if report.failures:
        raise typer.Exit(EXIT_FAILED if not report.results else EXIT_PARTIAL)
    if manifest is not None and bad_rows:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def remove(
    paths: Annotated[list[Path], typer.Argument(help="Indexed files to drop from the index.")],
    db: DbOption = None,
    wait: Annotated[float, typer.Option(
        "--wait", min=0, help="Seconds to wait for another writer of this index (default: none).")
    ] = 0.0,
) -> None:
    """Remove files from the index (the media itself is not touched)."""
    from indexing.discover import canonical
    from indexing.stores.base import StoreError

    store = open_store(db)
    missing = 0
    try:
        with store.writing(wait):
            known = {m.path for m in store.media()}
            for p in paths:
                # The key the indexer stored: symlinks and `..` resolved, as discover does.
                key = str(canonical(p))
                if key in known:
                    store.remove_media(key)
                    err().print(f"removed {key}", highlight=False)
                else:
                    missing += 1
                    err().print(f"[yellow]not indexed:[/] {key}", highlight=False)
            store.finalize()
    except StoreError as exc:
        err().print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_FAILED) from exc
    if missing:
        raise typer.Exit(EXIT_PARTIAL if missing < len(paths) else EXIT_FAILED)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    db: DbOption = None,
    k: Annotated[int, typer.Option("-k", help="How many clips.")] = 10,
    with_people: Annotated[bool, typer.Option(
        "--with-people", help="Only clips whose shot shows a face.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Find the clips that best match a text (hybrid full-text + vector search)."""
    from assistant.calibration import CANDIDATES
    from assistant.people import with_people as people_only
    from assistant.retrieval import Retriever
    from assistant.settings import AssistantSettings

    if not query.strip():
        err().print("[red]error:[/] the search text is empty")
        raise typer.Exit(EXIT_USAGE)
    store = open_store(db)
    rerank = AssistantSettings.from_env().rerank
    retriever = Retriever(store, settings_of(db), reranker=rerank)
    if with_people:  # filtered after ranking, so rank a wider pool first
        hits = people_only(store, retriever.search(query, k=max(k, CANDIDATES)))[:k]
    else:
        hits = retriever.search(query, k=k)
    from indexing.file_meta_index import catalogue_view

    titles = {mid: v.title for mid, v in catalogue_view(store).items() if v.title}
    if json_out:
        print(json.dumps([
            {"media": h.clip.media_path, "title": titles.get(h.clip.media_id, ""),
             "start": round(h.clip.start, 2),
             "end": round(h.clip.end, 2), "text": h.clip.text, "kind": h.clip.kind.value,
             "score": round(h.score, 4), "found_by": list(h.sources)}
            | ({"box": list(h.clip.box)} if h.clip.box else {})
            | ({"keyframe": h.clip.keyframe} if h.clip.kind.value == "shot" else {})
            for h in hits], indent=2, ensure_ascii=False))
        return
    if retriever.shots.problem and any(m.has_video for m in store.media()):
        err().print(f"[dim]{retriever.shots.problem}[/]")
    if not hits:
        print("no matching clips")
        return
    table = Table(show_lines=False)
    for col in ("#", "clip", "kind", "score", "text"):
        table.add_column(col, overflow="fold")
    for i, h in enumerate(hits, 1):
        c = h.clip
        # A shot found by its picture shows the picture: its keyframe file.
        text = f"keyframe {c.keyframe}" if c.kind.value == "shot" and c.keyframe else c.text
        title = f"{titles[c.media_id]} — " if c.media_id in titles else ""
        table.add_row(str(i), f"{title}{Path(c.media_path).name} @ "
                      f"{fmt_time(c.start)}–{fmt_time(c.end)}",
                      c.kind.value, f"{h.score:.3f}", text)
    Console().print(table)


@app.command()
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


@app.command()
def doctor(json_out: JsonOption = False) -> None:
    """Say which backends, models and LLM tiers are usable here, and what a missing one
    disables."""
    from rich.markup import escape

    from deerin.doctor import doctor_json, run_checks

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


@app.command()
def demo(
    folder: Annotated[Path | None, typer.Option(
        "--folder", help="Where to write the demo footage (default: a temp folder).")] = None,
    db: DbOption = None,
    question: Annotated[str, typer.Option("--question", "-q")] =
        "What did the narrator say about the lighthouse?",
    llm: Annotated[str | None, typer.Option("--llm", help="LLM spec, see `deerin ask`.")] = None,
) -> None:
    """Make a small demo collection, index it and answer a question with a cited clip."""
    import tempfile

    from assistant.llm import LLMUsageError, parse_llm_spec
    from deerin.demo import make_demo_collection

    console = err()
    try:
        parse_llm_spec(llm)  # before minutes of making and indexing footage
    except LLMUsageError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from exc
    root = folder or Path(tempfile.mkdtemp(prefix="deerin-demo-"))
    console.print(f"[bold]1/3[/] making demo footage in {root}")
    files = make_demo_collection(root)
    for f in files:
        console.print(f"  {f.name}")
    dbdir = db or root / "index"
    console.print(f"[bold]2/3[/] indexing → {dbdir}")
    try:
        index([root], db=dbdir, prune=False, asr_model=None, language=None, no_shots=False,
              no_ocr=False, no_faces=False, json_out=False)
    except typer.Exit as exc:
        if exc.exit_code not in (EXIT_OK, None):
            raise
    console.print(f"[bold]3/3[/] asking: {question}")
    ask(question, db=dbdir, llm=llm, k=None, json_out=False)
    console.print(f"\nTry: deerin search \"lighthouse\" --db {dbdir}\n"
                  f"     deerin chat --db {dbdir}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question in plain language.")],
    db: DbOption = None,
    llm: Annotated[str | None, typer.Option(
        "--llm", help="tiny | fast | default (shipped GGUF tiers), llamacpp:PATH.gguf, "
        "ollama[:MODEL]; default $DEERIN_LLM, else the answering tier.")
    ] = None,
    k: Annotated[int | None, typer.Option("-k", help="How many clips to give the LLM.")] = None,
    mode: Annotated[str, typer.Option(
        "--mode", help="naive (hybrid retrieval), local (the knowledge graph's entities), "
        "hybrid (both fused), global (collection-wide, from community reports), auto.")
    ] = "naive",
    json_out: JsonOption = False,
) -> None:
    """Answer a question from the indexed footage, citing timestamped clips."""
    from assistant.answer import QuestionError
    from assistant.graph.modes import check_mode
    from assistant.graph.service import entities_used, with_mode
    from assistant.graph.service import stream as graph_stream
    from assistant.llm import LLMError, LLMUsageError
    from assistant.service import build_assistant
    from indexing.graph.store import GraphError
    from indexing.stores.base import StoreError

    console = err()
    try:
        mode = check_mode(mode)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from exc
    try:
        assistant = with_mode(build_assistant(settings_of(db), llm, k=k), mode)
        stream = graph_stream(assistant, question)
        answer = None
        with console.status("retrieving…") as spinner:
            for ev in stream:
                if ev.kind == "retrieved":
                    spinner.update(f"answering from {len(ev.hits)} clips…")
                elif ev.kind == "answer":
                    answer = ev.answer
    except (QuestionError, StoreError, LLMError, GraphError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        usage = isinstance(exc, QuestionError | LLMUsageError)
        raise typer.Exit(EXIT_USAGE if usage else EXIT_FAILED) from exc
    assert answer is not None
    used = entities_used(assistant, [c.clip.clip_id for c in answer.citations])
    if json_out:
        extra = {} if mode == "naive" else {
            "mode": getattr(assistant.retriever, "last_mode", mode),
            "entities": [{"name": e.name, "label": e.label, "clips": e.clips} for e in used]}
        print(json.dumps(answer.to_json() | extra, indent=2, ensure_ascii=False))
        return
    out = Console()
    out.print(answer.text, highlight=False)
    for c in answer.citations:
        out.print(f"  [{c.n}] {c.label}  [dim]{c.clip.text[:90]}[/]", highlight=False)
    if used:
        out.print("  [dim]entities: " + ", ".join(e.name for e in used) + "[/]",
                  highlight=False)


@app.command()
def chat(
    db: DbOption = None,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on. Anything but loopback needs DEERIN_AUTH.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    llm: Annotated[str | None, typer.Option(
        "--llm", help="tiny | fast | default (shipped GGUF tiers), llamacpp:PATH.gguf, "
        "ollama[:MODEL]; default $DEERIN_LLM, else the answering tier.")
    ] = None,
    k: Annotated[int | None, typer.Option(
        "--k", min=1, help="Clips per answer (default: the assistant's).")] = None,
    max_tokens: Annotated[int | None, typer.Option(
        "--max-tokens", min=1, help="Longest answer in tokens (default: the assistant's).")
    ] = None,
) -> None:
    """Chat with the footage in a browser: answers cite clips that play at the cited second.

    Set DEERIN_AUTH="user:password[,user2:password2]" to require a login, and
    DEERIN_LLM_PARALLEL=N to have the embedded model answer N sessions at once (default 4),
    and DEERIN_RERANK_CONTEXTS=N to let N sessions rerank at once (default 2).
    """
    from assistant.llm import LLMUsageError, parse_llm_spec
    from assistant.web.server import run_chat

    try:
        parse_llm_spec(llm)  # a typo in --llm is a usage error before the server starts
    except LLMUsageError as exc:
        err().print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from exc
    try:
        run_chat(db, host=host, port=port, llm=llm, k=k, max_tokens=max_tokens,
                 extensions=[*chat_extensions(), *experiment_extensions()])
    except ValueError as exc:  # a malformed DEERIN_AUTH or Chainlit configuration
        err().print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from exc


register_interaction(app)  # map, montage, ngrams, export, cut (deerin/interaction_cli.py)
register_reembed(app)  # reembed (deerin/reembed_cli.py)
register_enrich(app)  # enrich --captions (deerin/enrich_cli.py)
register_catalogue(app)  # manifest, catalogue, export catalogue, eval-ocr (deerin/catalogue_cli.py)
register_experiment(app)  # experiment, questions convert (deerin/experiment_cli.py)
register_eval(app)  # eval (deerin/eval_cli.py)


def main() -> None:
    """Console-script entry point."""
    # Model loaders draw their own tqdm bars, which would tear through rich's progress display.
    os.environ.setdefault("TQDM_DISABLE", "1")
    # Idle OpenMP workers (llama.cpp, torch) must sleep, not spin: with spinning, a thread per
    # core stalls whenever anything else runs (see assistant.llm.llamacpp). Torch's runtime
    # reads it too, so it is set here as well, before any runtime starts.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # OpenCV's FFmpeg prints every decoder complaint of a damaged video (hundreds of lines) to
    # stderr, through the progress display; the pipeline reports such a file in one line.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        app()
    except KeyboardInterrupt:
        err().print("interrupted")
        sys.exit(130)
