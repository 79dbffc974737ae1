"""What the commands that write cuts share (``montage``, ``cut``, ``export``): opening the
collection, checking outputs before any work, writing sequence exports, printing cuts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from deerin.cli.options import EXIT_PARTIAL, EXIT_USAGE, err, fail, open_store

if TYPE_CHECKING:
    from interaction.collection import Collection
    from interaction.cuts import Cut, MediaInfo

ExportOption = Annotated[
    list[Path] | None,
    typer.Option("--export", help="Also write the cuts here; the suffix picks the format: .edl "
                 "(CMX 3600), .otio, .xml (FCP 7 XML), .m3u, .json, .vtt/.srt (captions of the "
                 "sequence); timelines cite each source's frames from its start timecode. "
                 "Repeatable.")]


def open_collection(db: Path | None) -> Collection:
    """The collection of the index ``--db`` names (exit 1 when there is none)."""
    from interaction.collection import Collection

    return Collection.open(open_store(db))


def check_outputs(files: Sequence[Path], sequences: Sequence[Path] = ()) -> None:
    """Exit before any work when an output cannot be written (1) or a sequence export has no
    known format (2). ``files`` and ``sequences`` must all be writable."""
    from interaction.exports import ExportError, sequence_format
    from interaction.montage import MontageError, check_writable

    for p in sequences:
        try:
            sequence_format(p)
        except ExportError as exc:
            raise fail(str(exc), EXIT_USAGE) from exc
    for p in [*files, *sequences]:
        try:
            check_writable(p)
        except MontageError as exc:
            raise fail(str(exc)) from exc


def write_exports(cuts: Sequence[Cut], exports: Sequence[Path], name: str) -> list[Path]:
    """Write ``cuts`` as each sequence file in ``exports`` (the suffix picks the format), the
    timelines at their sources' exact rates and start timecodes. Returns the exports left
    unwritten: an EDL or FCP XML when a source's frames cannot be counted in timecode (each
    reason said on one line; the other exports are written all the same)."""
    from interaction.collection import cut_timing
    from interaction.exports import sequence_format, write_sequence
    from interaction.timeline import FRAME_FORMATS

    if not exports:
        return []
    timing, problems = cut_timing(cuts)
    console = err()
    for problem in problems:
        console.print(f"[yellow]timecode:[/] {escape(problem)}")
    refused: list[Path] = []
    for path in exports:
        if problems and sequence_format(path) in FRAME_FORMATS:
            console.print(f"[red]not written:[/] {escape(str(path))}: it counts every source "
                          "in timecode frames, and the sources above have none")
            refused.append(path)
            continue
        write_sequence(cuts, path, name=name, timing=timing)
        console.print(f"wrote {escape(str(path))}"
                      + (f" ({timing.name} fps)" if sequence_format(path) in (
                          "otio_json", "cmx_3600", "fcp_xml") else ""))
    return refused


def exit_if_refused(refused: Sequence[Path]) -> None:
    """Exit 3 (partial) when some export was left unwritten."""
    if refused:
        raise typer.Exit(EXIT_PARTIAL)


def print_cuts(cuts: Sequence[Cut], title: str) -> None:
    """A table of ``cuts``: where each falls in the sequence, its source, what is said."""
    from indexing.fmt import fmt_time
    from interaction.cuts import sequence_offsets

    table = Table(title=title)
    for col in ("#", "at", "source", "said"):
        table.add_column(col, overflow="fold")
    for i, (c, at) in enumerate(zip(cuts, sequence_offsets(cuts), strict=True), 1):
        table.add_row(str(i), fmt_time(at), c.label, c.text)
    Console().print(table)


def skip_missing(collection: Collection, media_ids: Sequence[str]) -> dict[str, MediaInfo]:
    """The files of ``media_ids`` still on disk; a note for each that is gone."""
    present = collection.present(media_ids)
    for path in collection.missing(media_ids):
        err().print(f"[yellow]skipped:[/] {path} is missing since it was indexed")
    return present
