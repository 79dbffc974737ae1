"""Finding the media files under the paths a user names."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from indexing.settings import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS
from indexing.types import Failure

MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS


def is_media_name(path: Path) -> bool:
    """Whether the file name has a known audio/video extension."""
    return path.suffix.lower() in MEDIA_EXTENSIONS


def canonical(path: Path) -> Path:
    """The key a file is stored under: ``~`` expanded, absolute, symlinks and ``..`` resolved.

    Everything that looks a file up by the path a user typed (``deerin remove``) must use this,
    so a symlinked or relative path finds the file the indexer recorded.
    """
    return Path(path).expanduser().resolve()


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Failure]]:
    """Expand files and folders (recursively) into a sorted list of media files.

    A file named explicitly is always returned (the probe decides whether it is media); inside
    folders only known media extensions are taken, hidden entries are skipped, and symlinked
    folders are followed once: a symlink loop is reported, not walked forever. Paths are made
    resolved (symlinks followed), so each file is recorded at its real location: the media server
    only serves a path whose real location still matches what was indexed.
    """
    found: dict[Path, None] = {}
    failures: list[Failure] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            failures.append(Failure(p, "no such file or folder", "discover"))
        elif p.is_dir():
            _walk(canonical(p), found, failures, set())
        else:
            found[canonical(p)] = None
    return sorted(found), failures


def _walk(folder: Path, found: dict[Path, None], failures: list[Failure],
          seen: set[tuple[int, int]]) -> None:
    try:
        st = folder.stat()
    except OSError as exc:
        failures.append(Failure(folder, f"cannot read folder: {exc.strerror}", "discover"))
        return
    key = (st.st_dev, st.st_ino)
    if key in seen:
        failures.append(Failure(folder, "symlink loop: folder already visited, skipped",
                                "discover"))
        return
    seen = seen | {key}  # per branch: catches loops, yet a folder linked twice is walked twice
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        failures.append(Failure(folder, f"cannot list folder: {exc.strerror}", "discover"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=True):
                _walk(path, found, failures, seen)
            elif entry.is_file(follow_symlinks=True) and is_media_name(path):
                found[canonical(path)] = None
        except OSError as exc:  # dangling symlink, permission denied
            failures.append(Failure(path, f"cannot read: {exc.strerror}", "discover"))
