"""``deerin export``: transcripts, IIIF manifests, search results and answers as files.

Sequences (search results, an answer's citations) go out in the format their file name's suffix
names (.edl, .otio, .xml, .m3u, .json, .vtt, .srt); a file's own transcript as VTT, SRT or JSON;
a file's IIIF Presentation 3 manifest as JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from deerin.common import EXIT_USAGE, DbOption, err, fail, settings_of
from deerin.interaction_cli import (
    check_outputs,
    open_collection,
    print_cuts,
    skip_missing,
    write_exports,
)

app = typer.Typer(no_args_is_help=True, help="Write transcripts, IIIF manifests, search "
                  "results and answers in formats editors and viewers open.")

FilesArgument = Annotated[list[str] | None, typer.Argument(
    help="Indexed files (path or file name); none = every indexed file.")]


def _pick(collection, wanted: list[str] | None):  # -> list[MediaInfo]
    """The indexed files named by path or name; exit 1 naming any that is not indexed."""
    infos = sorted(collection.media.values(), key=lambda m: m.path)
    if not wanted:
        return infos
    out, unknown = [], []
    for w in wanted:
        real = str(Path(w).resolve())
        found = [m for m in infos if m.path in (w, real) or Path(m.path).name == w]
        (out.extend(found) if found else unknown.append(w))
    if unknown:
        raise fail(f"not indexed: {', '.join(unknown)}")
    return list(dict.fromkeys(out))


@app.command()
def transcript(
    files: FilesArgument = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write into.")] = Path("."),
    fmt: Annotated[str, typer.Option("--format", "-f", help="vtt, srt or json.")] = "vtt",
    db: DbOption = None,
) -> None:
    """Write each file's transcript (speech, and subtitles apart) as WebVTT, SRT or JSON:
    ``<name>.speech.vtt``, ``<name>.subtitle.vtt``."""
    from interaction.exports import TRANSCRIPT_FORMATS, write_transcript

    if fmt not in TRANSCRIPT_FORMATS:
        raise fail(f"--format must be one of {', '.join(TRANSCRIPT_FORMATS)}", EXIT_USAGE)
    if not out.is_dir():
        raise fail(f"{out} is not a folder")
    check_outputs([out / ".deerin-export"])
    collection = open_collection(db)
    chosen = {m.media_id for m in _pick(collection, files)}
    written = 0
    for tr in collection.transcripts():
        if tr.media_id in chosen:
            path = out / f"{Path(tr.media_path).stem}.{tr.kind.value}.{fmt}"
            write_transcript(tr, path, fmt)
            err().print(f"wrote {path}")
            written += 1
    if not written:
        err().print("no transcript: the chosen files have no speech or subtitles")


@app.command()
def iiif(
    files: FilesArgument = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write into.")] = Path("."),
    base_url: Annotated[str, typer.Option(
        "--base-url", help="Where the chat app serves the media (ids are made under it).")
    ] = "http://127.0.0.1:8000",
    entities: Annotated[bool, typer.Option(
        "--entities/--no-entities",
        help="Add the named entities of the knowledge graph (`deerin graph`).")] = True,
    db: DbOption = None,
) -> None:
    """Write a IIIF Presentation 3 manifest per file (``<name>.manifest.json``): an AV canvas
    with the transcript, shots and named entities as annotations, shots as a table of
    contents."""
    from deerin.graph_cli import load_current_graph
    from indexing.media import MediaError, probe
    from interaction.entities import file_entities
    from interaction.iiif import FileFacts, manifest, validate

    if not base_url.startswith(("http://", "https://")):
        raise fail("--base-url must be an http(s) URL", EXIT_USAGE)
    if not out.is_dir():
        raise fail(f"{out} is not a folder")
    check_outputs([out / ".deerin-export"])
    collection = open_collection(db)
    chosen = _pick(collection, files)
    graph = None
    if entities:
        try:
            graph = load_current_graph(collection.store)
        except typer.Exit:
            err().print("[yellow]note:[/] no knowledge graph; writing manifests without entities")
    from assistant.web.media import content_type

    present = skip_missing(collection, [m.media_id for m in chosen])
    for info in chosen:
        if info.media_id not in present:
            continue
        try:
            probed = probe(Path(info.path), media_id=info.media_id)
        except (MediaError, OSError) as exc:
            err().print(f"[yellow]skipped:[/] {info.path}: {exc}")
            continue
        clips = collection.store.clips_of(info.media_id)
        trs = [t for t in collection.transcripts() if t.media_id == info.media_id]
        facts = FileFacts(info.media_id, info.path, info.duration, info.has_video,
                          probed.width, probed.height,
                          content_type(Path(info.path), not info.has_video))
        data = manifest(facts, trs, collection.store.shots_of(info.media_id), clips,
                        file_entities(graph, info.media_id) if graph is not None else (),
                        base_url=base_url)
        validate(data)
        path = out / f"{Path(info.path).stem}.manifest.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        err().print(f"wrote {path}")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    out: Annotated[list[Path], typer.Option("--out", "-o", help="Output file(s); the suffix "
                                            "picks the format (.edl .otio .xml .m3u .json "
                                            ".vtt .srt).")],
    k: Annotated[int, typer.Option("-k", min=1, help="How many clips.")] = 10,
    db: DbOption = None,
) -> None:
    """Write the clips a search finds, best first, as an EDL, timeline or playlist."""
    from assistant.retrieval import Retriever
    from assistant.settings import AssistantSettings
    from interaction.collection import cuts_of_hits

    if not query.strip():
        raise fail("the search text is empty", EXIT_USAGE)
    check_outputs([], out)
    collection = open_collection(db)
    hits = Retriever(collection.store, settings_of(db),
                     reranker=AssistantSettings.from_env().rerank).search(query, k=k)
    present = skip_missing(collection, [h.clip.media_id for h in hits])
    cuts = cuts_of_hits(hits, present)
    if not cuts:
        raise fail(f"no clip matches {query!r}; nothing written")
    write_exports(cuts, out, f"search: {query}")
    print_cuts(cuts, f"{query!r}: {len(cuts)} clips")


@app.command()
def answer(
    question: Annotated[str, typer.Argument(help="A question in plain language.")],
    out: Annotated[list[Path], typer.Option("--out", "-o", help="Output file(s), as for "
                                            "`deerin export search`.")],
    llm: Annotated[str | None, typer.Option("--llm", help="LLM spec, see `deerin ask`.")
                   ] = None,
    db: DbOption = None,
) -> None:
    """Answer a question and write the clips its answer cites (the cited seconds)."""
    from assistant.answer import QuestionError
    from assistant.llm import LLMError, LLMUsageError
    from assistant.service import build_assistant
    from indexing.stores.base import StoreError
    from interaction.collection import cut_of

    check_outputs([], out)
    try:
        result = build_assistant(settings_of(db), llm).ask(question)
    except (QuestionError, LLMUsageError) as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    except (StoreError, LLMError) as exc:
        raise fail(str(exc)) from exc
    print(result.text)
    if not result.citations:
        raise fail("the answer cites no clip; nothing written")
    collection = open_collection(db)
    present = skip_missing(collection, [c.clip.media_id for c in result.citations])
    cuts = [cut for c in result.citations
            if (cut := cut_of(c.clip, present, c.start, c.end)) is not None]
    if not cuts:
        raise fail("every cited file is missing; nothing written")
    write_exports(cuts, out, f"answer: {question}")
    print_cuts(cuts, "cited clips")
