"""Copy an index under another embedder, without transcribing or cutting anything again.

Changing the text embedder changes every vector, and a store holds vectors of one embedder only.
Transcription is by far the dearest stage, so ``deerin reembed`` reads the clips, shots and file
records an index already holds and writes them, with new vectors, into a new index. The source
is only read. Like indexing, the copy is resumable: a file's record is written last, so a killed
run redoes at most the file it was on, and a file already copied is skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from indexing.protocols import Embedder
from indexing.stages.embed import clip_vectors
from indexing.stores.base import ClipReader, StoreError
from indexing.stores.lance import LanceStore
from indexing.stores.shot_vectors import ShotVector, ShotVectors
from indexing.types import Clip, Shot

KEYFRAMES = "keyframes"


@dataclass(frozen=True)
class ReembedResult:
    """What one run copied."""

    files: int  # files copied in this run
    skipped: int  # files the destination already held (an earlier, interrupted run)
    clips: int  # clips written in this run


def reembed(src: ClipReader, dst_dir: Path, embedder: Embedder,
            on_file: Callable[[str, int, int], None] | None = None) -> ReembedResult:
    """Write every file of ``src`` into the index at ``dst_dir`` with ``embedder``'s vectors.

    ``on_file(path, done, total)`` is called before each file. Raises
    :class:`~indexing.stores.base.StoreError` when ``dst_dir`` is ``src``'s own directory or an
    index built with another embedder.
    """
    dst_dir = Path(dst_dir)
    if dst_dir.resolve() == src.db_dir.resolve():
        raise StoreError("reembed writes a new index: give another directory than the source")
    dst = LanceStore(dst_dir)
    records = src.media()
    files = skipped = clips_written = 0
    # Picture-search vectors are CLIP's, not the text embedder's: copied as they are.
    src_vectors, dst_vectors = ShotVectors(src.db_dir), ShotVectors(dst_dir)
    with dst.writing():
        dst.ensure_embedder(embedder.model_id, embedder.dim)
        scheme = src.id_scheme()
        if scheme:
            dst.ensure_id_scheme(scheme)
        for done, record in enumerate(records):
            if on_file is not None:
                on_file(record.path, done, len(records))
            have = dst.media_by_path(record.path)
            if have is not None and have.media_id == record.media_id:
                skipped += 1
                continue
            clips = [_moved_clip(c, src.db_dir, dst_dir) for c in src.clips_of(record.media_id)]
            shots = [_moved_shot(s, src.db_dir, dst_dir) for s in src.shots_of(record.media_id)]
            dst.remove_media(record.path)  # rows of a file a killed run left half-written
            if clips:
                vectors, windows = clip_vectors(embedder, clips)
                dst.add_clips(clips, vectors, windows)
            dst.add_shots(record.media_id, record.path, shots)
            _copy_shot_vectors(src_vectors, dst_vectors, record.media_id, src.db_dir, dst_dir)
            dst.put_media(record)  # last: marks the file complete
            files += 1
            clips_written += len(clips)
        for failure in src.failures():
            dst.record_failure(failure.path, failure.reason, failure.stage)
        dst.finalize()
    return ReembedResult(files=files, skipped=skipped, clips=clips_written)


def _moved(path: str | Path | None, src_dir: Path, dst_dir: Path) -> str | None:
    """A keyframe of the source index, copied into the destination's keyframe folder."""
    if not path:
        return None
    p = Path(path)
    try:
        rel = p.resolve().relative_to((src_dir / KEYFRAMES).resolve())
    except ValueError:
        return str(p)  # kept outside the index: shared, not copied
    target = dst_dir / KEYFRAMES / rel
    if p.exists() and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, target)
    return str(target)


def _copy_shot_vectors(src: ShotVectors, dst: ShotVectors, media_id: str,
                       src_dir: Path, dst_dir: Path) -> None:
    by_model: dict[str, list[ShotVector]] = {}
    for model, row in src.of_media(media_id):
        by_model.setdefault(model, []).append(replace(
            row, frame=_moved(row.frame, src_dir, dst_dir) or "",
            keyframe=_moved(row.keyframe, src_dir, dst_dir) or ""))
    for model, rows in by_model.items():
        dst.add(model, rows)


def _moved_clip(clip: Clip, src_dir: Path, dst_dir: Path) -> Clip:
    return replace(clip, keyframe=_moved(clip.keyframe, src_dir, dst_dir))


def _moved_shot(shot: Shot, src_dir: Path, dst_dir: Path) -> Shot:
    moved = _moved(shot.keyframe, src_dir, dst_dir)
    return replace(shot, keyframe=Path(moved) if moved else None)
