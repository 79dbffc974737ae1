"""``deerin export``: transcripts, IIIF manifests, search results and answers as files.

Sequences (search results, an answer's citations) go out in the format their file name's suffix
names (.edl, .otio, .xml, .m3u, .json, .vtt, .srt); a file's own transcript as VTT, SRT or JSON;
a file's IIIF Presentation 3 manifest as JSON.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deerin.cli.cuts import (
    check_outputs,
    exit_if_refused,
    open_collection,
    print_cuts,
    skip_missing,
    write_exports,
)
from deerin.cli.options import (
    EXIT_USAGE,
    DbOption,
    JsonOption,
    LlmOption,
    command_config,
    err,
    fail,
)

if TYPE_CHECKING:
    from interaction.cuts import Cut

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


def transcript(
    files: FilesArgument = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write into.")] = Path("."),
    fmt: Annotated[str, typer.Option("--format", "-f", help="vtt, srt or json.")] = "vtt",
    db: DbOption = None,
    json_out: JsonOption = False,
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
    written: list[Path] = []
    for tr in collection.transcripts():
        if tr.media_id in chosen:
            path = out / f"{Path(tr.media_path).stem}.{tr.kind.value}.{fmt}"
            write_transcript(tr, path, fmt)
            err().print(f"wrote {path}")
            written.append(path)
    if not written:
        err().print("no transcript: the chosen files have no speech or subtitles")
    print_written(written, json_out)


def iiif(
    files: FilesArgument = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write into.")] = Path("."),
    base_url: Annotated[str | None, typer.Option(
        "--base-url", help="Where the chat app is reached (ids are made under it; default: "
        "the setting chat.public_url, else http://127.0.0.1:8000).")] = None,
    entities: Annotated[bool, typer.Option(
        "--entities/--no-entities",
        help="Add the named entities of the knowledge graph (`deerin graph`).")] = True,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write a IIIF Presentation 3 manifest per file (``<name>.manifest.json``): an AV canvas
    with the transcript, shots, named entities and on-screen text as annotations, shots as a
    table of contents. Its ids are those ``deerin chat`` serves the manifest under
    (``/iiif/COLLECTION/MEDIA_ID/manifest.json``, the setting chat.collection)."""
    from assistant.web.settings import WebSettings
    from deerin.cli.graph import current_graph
    from indexing.media import MediaError, probe
    from indexing.proxies import proxy_of
    from interaction.entities import file_entities
    from interaction.iiif import DEFAULT_BASE, FileFacts, manifest, validate

    try:
        web = WebSettings.from_config(command_config(db))
    except ValueError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    base_url = base_url or web.public_url or DEFAULT_BASE
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
            graph = current_graph(collection.store)
        except typer.Exit:
            err().print("[yellow]note:[/] no knowledge graph; writing manifests without entities")
    from assistant.web.media import content_type

    present = skip_missing(collection, [m.media_id for m in chosen])
    written: list[Path] = []
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
        kind = content_type(Path(info.path), not info.has_video)
        # A master no browser plays is served as its access copy: say what the route sends.
        proxy = proxy_of(collection.store.db_dir, info.media_id)
        if proxy is not None:
            kind = "video/mp4" if info.has_video else "audio/mp4"
            with contextlib.suppress(MediaError, OSError):
                probed = probe(proxy, media_id=info.media_id)
        facts = FileFacts(info.media_id, info.path, info.duration, info.has_video,
                          probed.width, probed.height, kind)
        data = manifest(facts, trs, collection.store.shots_of(info.media_id), clips,
                        file_entities(graph, info.media_id) if graph is not None else (),
                        base_url=base_url, collection=web.collection)
        validate(data)
        path = out / f"{Path(info.path).stem}.manifest.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        err().print(f"wrote {path}")
        written.append(path)
    print_written(written, json_out)


def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    out: Annotated[list[Path], typer.Option("--out", "-o", help="Output file(s); the suffix "
                                            "picks the format (.edl .otio .xml .m3u .json "
                                            ".vtt .srt).")],
    k: Annotated[int, typer.Option("-k", min=1, help="How many clips.")] = 10,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write the clips a search finds, best first, as an EDL, timeline or playlist."""
    import deerin
    from interaction.collection import cuts_of_hits

    if not query.strip():
        raise fail("the search text is empty", EXIT_USAGE)
    check_outputs([], out)
    collection = open_collection(db)
    hits = deerin.search(query, db, k=k, config=command_config(db))
    present = skip_missing(collection, [h.clip.media_id for h in hits])
    cuts = cuts_of_hits(hits, present)
    if not cuts:
        raise fail(f"no clip matches {query!r}; nothing written")
    refused = write_exports(cuts, out, f"search: {query}")
    if json_out:
        print_written([p for p in out if p not in refused], True, cuts)
    else:
        print_cuts(cuts, f"{query!r}: {len(cuts)} clips")
    exit_if_refused(refused)


def answer(
    question: Annotated[str, typer.Argument(help="A question in plain language.")],
    out: Annotated[list[Path], typer.Option("--out", "-o", help="Output file(s), as for "
                                            "`deerin export search`.")],
    llm: LlmOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Answer a question and write the clips its answer cites (the cited seconds)."""
    import deerin
    from assistant.answer import QuestionError
    from assistant.llm import LLMError, LLMUsageError
    from indexing.stores.base import StoreError
    from interaction.collection import cut_of

    check_outputs([], out)
    try:
        result = deerin.ask(question, db, llm=llm, config=command_config(db)).answer
    except (QuestionError, LLMUsageError) as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    except (StoreError, LLMError) as exc:
        raise fail(str(exc)) from exc
    if not json_out:
        print(result.text)
    if not result.citations:
        raise fail("the answer cites no clip; nothing written")
    collection = open_collection(db)
    present = skip_missing(collection, [c.clip.media_id for c in result.citations])
    cuts = [cut for c in result.citations
            if (cut := cut_of(c.clip, present, c.start, c.end)) is not None]
    if not cuts:
        raise fail("every cited file is missing; nothing written")
    refused = write_exports(cuts, out, f"answer: {question}")
    if json_out:
        print_written([p for p in out if p not in refused], True, cuts, answer=result.text)
    else:
        print_cuts(cuts, "cited clips")
    exit_if_refused(refused)


def print_written(paths: Sequence[Path], json_out: bool, cuts: Sequence[Cut] = (),
                  **extra: str) -> None:
    """With ``--json``, print the files written (and the cuts they hold) as JSON."""
    if not json_out:
        return
    from interaction.exports import citation

    print(json.dumps({"written": [str(p) for p in paths], **extra}
                     | ({"cuts": [citation(c) for c in cuts]} if cuts else {}),
                     indent=2, ensure_ascii=False))
