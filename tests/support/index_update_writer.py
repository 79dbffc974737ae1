"""A writer for tests/indexing/stores/test_index_updates.py, run in its own process: it indexes
synthetic files into a LanceDB index the way the pipeline writes a file (remove the old rows,
clips with their windows, shots, then the media record last), under the writer lock, finalizing
every few files.

    python tests/support/index_update_writer.py DB PAUSE FIRST:COUNT:REVISION ...

Each run (one process: importing LanceDB is what costs time) writes files ``FIRST`` ..
``FIRST + COUNT`` at ``REVISION``; a later revision rewrites a file with new content (new media
id, more clips), as re-indexing a changed file does. ``PAUSE`` seconds pass between files (the
time a real file's decoding and transcription takes), so readers see the run in the middle.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from indexing.stores.base import MediaRecord
from indexing.stores.lance import LanceStore
from indexing.types import Clip, ClipKind, Shot

DIM = 16
WORDS = "pendulum energy shuttle columbia crew joules wrecking ball isaiah crown jewels".split()


def file_rows(i: int, revision: int) -> tuple[MediaRecord, list[Clip], np.ndarray, list[Shot]]:
    """File ``i`` at ``revision``: its record, clips (8 + revision * 3), vectors and shots."""
    rng = np.random.default_rng(1000 * revision + i)
    media_id = f"file{i:03d}rev{revision}"
    path = f"/archive/file{i:03d}.mp4"
    n = 8 + 3 * revision
    clips = [Clip(media_id=media_id, media_path=path, kind=ClipKind.SPEECH, start=5.0 * j,
                  end=5.0 * j + 5, text=f"{WORDS[(i + j) % len(WORDS)]} said in file {i} "
                  f"revision {revision} part {j}", seq=j) for j in range(n)]
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    shots = [Shot(index=j, start=10.0 * j, end=10.0 * j + 10) for j in range(n // 2)]
    record = MediaRecord(media_id=media_id, path=path, duration=5.0 * n, size=1000 + i,
                         mtime_ns=revision, has_audio=True, has_video=True, clips=n,
                         shots=len(shots), indexed_at=time.time())
    return record, clips, vectors, shots


def write(db: Path, first: int, count: int, revision: int, pause: float = 0.0) -> None:
    store = LanceStore(db)
    store.ensure_embedder("test-vectors", DIM)
    with store.writing(wait=60):
        for i in range(first, first + count):
            record, clips, vectors, shots = file_rows(i, revision)
            store.remove_media(record.path)
            store.add_clips(clips, vectors, [(j, v) for j, v in enumerate(vectors)])
            store.add_shots(record.media_id, record.path, shots)
            store.put_media(record)
            if i % 3 == 2:
                store.finalize()
            time.sleep(pause)
        store.finalize()


if __name__ == "__main__":
    for run in sys.argv[3:]:
        first, count, revision = (int(x) for x in run.split(":"))
        write(Path(sys.argv[1]), first, count, revision, pause=float(sys.argv[2]))
