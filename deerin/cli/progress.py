"""Rich progress display for ``deerin index``: one bar for the run, one for the current file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from indexing.types import Failure, FileResult


class RichProgress:
    """Implements :class:`indexing.pipeline.Progress` on a rich console (stderr)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stage]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._run: TaskID | None = None
        self._file: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def start(self, files: Sequence[Path]) -> None:
        self._run = self._bar.add_task("files", total=len(files), stage="")

    def file_started(self, path: Path, duration: float) -> None:
        if self._file is not None:
            self._bar.remove_task(self._file)
        name = path.name if len(path.name) <= 40 else path.name[:37] + "..."
        self._file = self._bar.add_task(name, total=100, stage="")

    def stage(self, name: str, fraction: float | None = None) -> None:
        if self._file is None:
            return
        update: dict[str, object] = {"stage": name}
        if fraction is not None:
            update["completed"] = int(fraction * 100)
        self._bar.update(self._file, **update)  # type: ignore[arg-type]

    def _advance(self) -> None:
        if self._file is not None:
            self._bar.remove_task(self._file)
            self._file = None
        if self._run is not None:
            self._bar.advance(self._run)

    def file_done(self, result: FileResult) -> None:
        self._advance()
        if result.status == "indexed":
            self.console.print(
                f"[green]indexed[/] {result.path.name}: {result.clips} clips, {result.shots} "
                f"shots, {result.duration:.0f} s of media in {result.seconds:.1f} s"
            )
            for w in result.warnings:
                self.console.print(f"  [yellow]warning:[/] {w}")

    def file_failed(self, failure: Failure) -> None:
        if self._run is not None and failure.stage != "discover":
            self._advance()
        self.console.print(f"[red]failed[/] {failure.path}: {failure.reason}", highlight=False)
