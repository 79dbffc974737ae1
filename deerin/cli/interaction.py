"""The exploration and interaction commands of ``deerin``: map, montage, ngrams, cut.

Exit codes follow the main CLI: 0 success, 1 nothing could be done (no index, phrase found
nowhere, unwritable output), 2 usage error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from deerin.cli.cuts import (
    ExportOption,
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
    err,
    fail,
    settings_of,
)
from interaction.montage import AUDIO_FORMATS, VIDEO_FORMATS

if TYPE_CHECKING:
    from interaction.collection import Collection

# -- montage --------------------------------------------------------------------------------------
def montage(
    phrase: Annotated[str, typer.Argument(help="The words to find, as said.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Montage file: .mp4/.mkv/.mov "
                                      "(video), or .m4a/.mp3/.wav/.flac/.ogg/.opus (audio).")],
    db: DbOption = None,
    fuzzy: Annotated[bool, typer.Option("--fuzzy", help="Match word stems, not exact words.")
                     ] = False,
    semantic: Annotated[bool, typer.Option(
        "--semantic", help="Find sentences that mean the phrase (embeddings).")] = False,
    pad: Annotated[float, typer.Option("--pad", min=0.0, max=10.0,
                                       help="Seconds kept before and after each moment.")] = 0.3,
    max_cuts: Annotated[int, typer.Option("--max", min=1,
                                          help="At most this many cuts (the first ones).")] = 50,
    audio_only: Annotated[bool, typer.Option("--audio-only", help="No picture, even for video "
                                             "sources.")] = False,
    export: ExportOption = None,
    json_out: JsonOption = False,
) -> None:
    """Cut every moment a phrase is said into one montage (word times; subtitle cues where there
    is no speech recognition), padded, merged when overlapping, frame-accurate."""
    from interaction.cuts import plan_cuts
    from interaction.montage import MontageError, output_kind, render
    from interaction.phrases import PhraseError, phrase_words

    if fuzzy and semantic:
        raise fail("choose --fuzzy or --semantic, not both", EXIT_USAGE)
    try:
        phrase_words(phrase)
    except PhraseError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    exports = list(export or [])
    if out.suffix.lower() not in VIDEO_FORMATS | set(AUDIO_FORMATS):
        raise fail(f"cannot write a montage as {out.name}: use one of "
                    f"{', '.join(sorted(VIDEO_FORMATS | set(AUDIO_FORMATS)))}", EXIT_USAGE)
    check_outputs([out], exports)
    collection = open_collection(db)
    mode = "semantic" if semantic else "fuzzy" if fuzzy else "exact"
    moments = _moments(collection, phrase, mode, db, max_cuts)
    if not moments:
        raise fail(f"{phrase!r} is said nowhere in the collection ({len(collection.media)} "
                    f"files searched{', ' + mode if mode != 'exact' else ''}); nothing written")
    present = skip_missing(collection, [m.media_id for m in moments])
    plan = plan_cuts(moments, present, pad=pad, max_cuts=max_cuts)
    if not plan.cuts:
        raise fail(f"every file that says {phrase!r} is missing; nothing written")
    if plan.dropped:
        err().print(f"[yellow]note:[/] {plan.found} cuts found; the first {len(plan.cuts)} are "
                     f"kept (--max {max_cuts}), {plan.dropped} left out")
    try:
        video = False if audio_only else output_kind(out, plan.cuts)
        with err().status("rendering…") as spinner:
            result = render(plan.cuts, out, video=video,
                            progress=lambda i, n: spinner.update(f"rendering cut {i}/{n}…"))
    except MontageError as exc:
        raise fail(str(exc)) from exc
    refused = write_exports(plan.cuts, exports, f"montage: {phrase}")
    if json_out:
        from interaction.exports import citation

        print(json.dumps({"out": str(out), "video": result.video,
                          "duration": round(result.duration, 3), "cuts": [
                              citation(c) for c in plan.cuts]}, indent=2, ensure_ascii=False))
    else:
        print_cuts(plan.cuts, f"{phrase!r}: {len(plan.cuts)} cuts")
        err().print(f"wrote {out} ({'video' if result.video else 'audio'}, "
                    f"{result.duration:.2f} s)")
    exit_if_refused(refused)


def _moments(collection: Collection, phrase: str, mode: str, db: Path | None,
             limit: int) -> list:  # list[Occurrence]
    from interaction.collection import find_moments

    retriever = None
    if mode == "semantic":
        from assistant.retrieval import Retriever
        from assistant.settings import RERANK_OFF

        retriever = Retriever(collection.store, settings_of(db), reranker=RERANK_OFF)
    return find_moments(collection, phrase, mode, retriever=retriever, limit=limit)


# -- ngrams ---------------------------------------------------------------------------------------
def ngrams(
    db: DbOption = None,
    n: Annotated[str, typer.Option("--n", help="Phrase length in words: 3, or a range 2..4.")
                 ] = "2..4",
    top: Annotated[int, typer.Option("--top", min=1, help="How many phrases.")] = 30,
    min_count: Annotated[int, typer.Option("--min-count", min=1)] = 2,
    json_out: JsonOption = False,
) -> None:
    """List the commonest phrases said in the collection (a phrase only ever said inside a
    longer listed one is shown as that one)."""
    from interaction.ngrams import ngrams as count
    from interaction.ngrams import parse_range

    try:
        sizes = parse_range(n)
    except ValueError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    found = count(open_collection(db).transcripts(), sizes, top=top, min_count=min_count)
    if json_out:
        print(json.dumps([{"phrase": g.text, "count": g.count, "files": g.files}
                          for g in found], indent=2, ensure_ascii=False))
        return
    if not found:
        print("no phrase is said twice")
        return
    table = Table(title=f"commonest phrases ({sizes[0]}..{sizes[1]} words)")
    for col in ("count", "files", "phrase"):
        table.add_column(col)
    for g in found:
        table.add_row(str(g.count), str(g.files), g.text)
    Console().print(table)


# -- map ------------------------------------------------------------------------------------------
def map_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML page to write.")
                   ] = Path("map.html"),
    by: Annotated[str, typer.Option("--by", help="clips, shots (of videos) or files.")
                  ] = "clips",
    method: Annotated[str, typer.Option("--method", help="umap or tsne.")] = "umap",
    db: DbOption = None,
) -> None:
    """Draw a map of the collection: an offline HTML page of clips (or shots, or files) laid
    out by meaning, clustered and labelled; hover to read, click to play at the second."""
    from exploration.build import EmptyMap, build_map, disk_links
    from exploration.points import LEVELS
    from exploration.project import METHODS

    if by not in LEVELS:
        raise fail(f"--by must be one of {', '.join(LEVELS)}", EXIT_USAGE)
    if method not in METHODS:
        raise fail(f"--method must be one of {', '.join(METHODS)}", EXIT_USAGE)
    check_outputs([out])
    collection = open_collection(db)
    try:
        with err().status(f"laying out the {by} ({method})…"):
            result = build_map(collection.store, disk_links(), by=by, method=method,
                               threads=settings_of(db).threads)
    except EmptyMap as exc:
        raise fail(str(exc)) from exc
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(result.html, encoding="utf-8")
    partial.replace(out)
    err().print(f"wrote {out}: {result.points} {by}, {result.clusters} clusters, "
                f"{len(result.html) / 1e6:.1f} MB, {result.seconds['total_s']:.1f} s")


# -- rough cut ------------------------------------------------------------------------------------
def cut(
    brief: Annotated[str, typer.Argument(help="What the piece is, e.g. \"a 60-second piece "
                                         "about the Columbia crew\".")],
    out: Annotated[list[Path] | None, typer.Option(
        "--out", "-o", help="Write the cut here; the suffix picks the format (.edl, .otio, "
        ".xml, .m3u, .json, .vtt, .srt). Repeatable.")] = None,
    preview: Annotated[Path | None, typer.Option(
        "--preview", help="Also render the cut to this video or audio file.")] = None,
    seconds: Annotated[float | None, typer.Option(
        "--seconds", min=1.0, help="Length of the cut (default: from the brief, else 60).")
    ] = None,
    llm: LlmOption = None,
    db: DbOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the cut as JSON.")] = False,
) -> None:
    """Make a rough cut from a brief: retrieval finds the moments, the LLM picks and orders
    them within the length; every clip cites its source."""
    from assistant.llm import LLMUnavailable, LLMUsageError, load_llm, parse_llm_spec
    from assistant.retrieval import Retriever
    from assistant.settings import AssistantSettings
    from interaction.montage import MontageError, render
    from interaction.roughcut import rough_cut

    if not brief.strip():
        raise fail("the brief is empty", EXIT_USAGE)
    try:
        parse_llm_spec(llm)
    except LLMUsageError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    exports = list(out or [])
    if preview is not None and preview.suffix.lower() not in VIDEO_FORMATS | set(AUDIO_FORMATS):
        raise fail(f"cannot render a preview as {preview.name}", EXIT_USAGE)
    check_outputs([preview] if preview else [], exports)
    collection = open_collection(db)
    settings = settings_of(db)
    retriever = Retriever(collection.store, settings,
                          reranker=AssistantSettings.from_env().rerank)
    try:
        model = load_llm(llm, threads=settings.threads)
    except LLMUnavailable as exc:
        err().print(f"[yellow]note:[/] LLM unavailable ({exc}); the cut keeps retrieval order")
        model = None
    with err().status("choosing clips…"):
        result = rough_cut(brief, retriever, model, collection.present(), seconds=seconds)
    if not result.cuts:
        raise fail(f"no clip for {brief!r}: {result.note or 'nothing fits'}; nothing written")
    if result.note:
        err().print(f"[yellow]note:[/] {result.note}")
    refused = write_exports(result.cuts, exports, f"rough cut: {brief}")
    if preview is not None:
        try:
            rendered = render(result.cuts, preview)
        except MontageError as exc:
            raise fail(str(exc)) from exc
        err().print(f"wrote {preview} ({rendered.duration:.1f} s)")
    if json_out:
        from interaction.exports import citation

        print(json.dumps({"brief": brief, "seconds": result.seconds,
                          "duration": round(result.duration, 3), "chosen_by": result.chosen_by,
                          "note": result.note, "llm_reply": result.llm_reply,
                          "cuts": [citation(c) for c in result.cuts]}, indent=2,
                         ensure_ascii=False))
    else:
        print_cuts(result.cuts, f"rough cut: {len(result.cuts)} clips, {result.duration:.1f} s "
                                f"of {result.seconds:g} s (chosen by {result.chosen_by})")
    exit_if_refused(refused)
