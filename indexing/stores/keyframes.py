"""Keyframe images of an object-store index: pushed under ``<uri>/keyframes/``, copied back.

Stages write keyframes as local files (ffmpeg and the image models want paths), into the index's
local ``keyframes/`` folder. For a remote index that folder is only this machine's copy: the
writer pushes each file's keyframes to the object store before it marks the file complete, and
a reader (the chat app, which serves images from files) copies the missing ones back when it
opens the index. Shots record the writer's local path; readers find a keyframe by its file name
in their own folder (the folder is flat and names are content ids). A local index needs none
of this: its folder is the index.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from indexing.stores.location import IndexLocation

FOLDER = "keyframes"


def push_keyframes(db: Path | IndexLocation, files: Iterable[Path | str | None]) -> int:
    """Upload ``files`` (keyframes in the local folder) to a remote index; return how many.

    A no-op for a local index. Names already uploaded are written again (same bytes): a
    re-indexed file may have new frames under old names.
    """
    location = IndexLocation.parse(db)
    if not location.remote:
        return 0
    count = 0
    for file in {Path(f) for f in files if f}:
        if file.is_file():
            location.write_bytes(f"{FOLDER}/{file.name}", file.read_bytes())
            count += 1
    return count


def pull_keyframes(db: Path | IndexLocation) -> int:
    """Copy the remote index's keyframes missing from this machine's folder; return how many.

    A no-op for a local index.
    """
    location = IndexLocation.parse(db)
    if not location.remote:
        return 0
    local = location.local_dir / FOLDER
    local.mkdir(parents=True, exist_ok=True)
    have = {p.name for p in local.iterdir()}
    count = 0
    for name in location.list(FOLDER):
        if name in have:
            continue
        data = location.read_bytes(f"{FOLDER}/{name}")
        if data is not None:
            tmp = local / f".{name}.part"
            tmp.write_bytes(data)
            tmp.replace(local / name)
            count += 1
    return count
