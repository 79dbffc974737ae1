"""Enrichment after indexing: keyframe captions as searchable ``caption`` clips.

Captioning costs seconds per keyframe on a CPU, so it is not part of ``deerin index``: it is a
separate pass (``deerin enrich --captions``) that can stop at a time budget and pick up where it
stopped. A shot is done once it has a caption clip, and every batch is written as soon as it is
captioned, so a killed or budget-stopped run loses at most one batch and a re-run never adds a
second caption for a shot. Captions are cached by model and keyframe content hash
(:mod:`indexing.stores.caption_cache`): a file re-indexed with the same keyframes gets its
captions back without the model. Caption clips are embedded with the index's text embedder and
are read by the knowledge graph like any other clip text.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from indexing.protocols import Captioner, Embedder
from indexing.stores.base import ClipStore
from indexing.types import Clip, ClipKind, Shot


@dataclass(frozen=True, slots=True)
class CaptionTarget:
    """A shot to caption, with its keyframe file."""

    media_id: str
    media_path: str
    shot: Shot
    keyframe: Path


@dataclass(frozen=True)
class CaptionReport:
    """What one captioning pass did."""

    total: int  # shots that needed a caption when the pass started
    captioned: int = 0  # by the model in this pass
    cached: int = 0  # taken from the cache
    clips: int = 0  # caption clips written (empty captions write none)
    already: int = 0  # shots that had a caption before the pass
    no_keyframe: int = 0  # shots without a readable keyframe
    budget_stopped: bool = False
    seconds: float = 0.0
    files: tuple[tuple[str, str], ...] = ()  # (media_id, path) of files that got captions
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def remaining(self) -> int:
        """Shots still without a caption (budget reached or interrupted)."""
        return self.total - self.captioned - self.cached


def _keyframe(recorded: Path | None, db_dir: Path) -> Path | None:
    """The keyframe file, also when the index was built with a relative ``--db`` elsewhere."""
    if recorded is None:
        return None
    for path in (Path(recorded), db_dir / "keyframes" / Path(recorded).name):
        if path.is_file():
            return path
    return None


def caption_targets(store: ClipStore,
                    only: Collection[tuple[str, int]] | None = None
                    ) -> tuple[list[CaptionTarget], int, int]:
    """(shots still without a caption, shots already captioned, shots without a keyframe),
    limited to ``only`` (media id, shot index) pairs when given."""
    targets: list[CaptionTarget] = []
    already = missing = 0
    for m in store.media():
        if not m.has_video:
            continue
        shots = store.shots_of(m.media_id)
        if only is not None:
            shots = [s for s in shots if (m.media_id, s.index) in only]
        if not shots:
            continue
        done = {c.shot_index for c in store.clips_of(m.media_id) if c.kind is ClipKind.CAPTION}
        for s in shots:
            if s.index in done:
                already += 1
                continue
            key = _keyframe(s.keyframe, store.db_dir)
            if key is None:
                missing += 1
                continue
            targets.append(CaptionTarget(m.media_id, m.path, s, key))
    return targets, already, missing


def caption_clip(target: CaptionTarget, text: str) -> Clip:
    """The ``caption`` clip of a shot: the shot's span, its keyframe, the caption."""
    s = target.shot
    return Clip(media_id=target.media_id, media_path=target.media_path, kind=ClipKind.CAPTION,
                start=s.start, end=s.end, text=text, seq=s.index, shot_index=s.index,
                keyframe=str(target.keyframe))


def enrich_captions(store: ClipStore, captioner: Captioner, embedder: Embedder,
                    targets: list[CaptionTarget], *, budget_seconds: float | None = None,
                    batch: int = 4, already: int = 0, no_keyframe: int = 0,
                    progress: Callable[[int, int], None] | None = None) -> CaptionReport:
    """Caption ``targets`` in batches and store each batch as ``caption`` clips at once.

    With ``budget_seconds`` the pass starts no new model batch once that many seconds have
    passed (the batch running then finishes, so it can overrun by one batch; a positive budget
    always allows one batch, so every run makes progress); cached captions are always used.
    The caller holds the store's writer lock.
    """
    from indexing.stages.embed import clip_vectors
    from indexing.stores.caption_cache import CaptionCache, image_hash

    t0 = time.monotonic()
    cache = CaptionCache(store.db_dir)
    store.ensure_embedder(embedder.model_id, embedder.dim)
    captioned = cached = clips = done = 0
    stopped = False
    files: dict[str, str] = {}
    warnings: list[str] = []
    for i in range(0, len(targets), max(batch, 1)):
        chunk = targets[i:i + batch]
        hashes = {}
        for t in chunk:
            try:
                hashes[t] = image_hash(t.keyframe)
            except OSError as exc:
                warnings.append(f"{t.keyframe}: {exc.strerror or exc}")
        known = cache.get(captioner.model_id, hashes.values())
        need = [t for t in hashes if hashes[t] not in known]
        if need and _over(budget_seconds, time.monotonic() - t0, captioned):
            stopped = True
            need = []
        if need:
            try:
                texts = captioner.caption([t.keyframe for t in need])
            except OSError:  # an unreadable keyframe: caption the batch one by one
                texts = []
                for t in need:
                    try:
                        texts += captioner.caption([t.keyframe])
                    except OSError as one:
                        warnings.append(f"{t.keyframe}: cannot caption: {one}")
                        texts.append("")
            fresh = {hashes[t]: text for t, text in zip(need, texts, strict=True)}
            cache.put(captioner.model_id, fresh)  # before the clips: a kill in between redoes
            known.update(fresh)                   # only the embedding, not the model
            captioned += len(need)
        ready = [t for t in hashes if hashes[t] in known]
        cached += sum(1 for t in ready if t not in need)
        new = [caption_clip(t, known[hashes[t]]) for t in ready if known[hashes[t]].strip()]
        if new:
            vectors, windows = clip_vectors(embedder, new)
            clips += store.add_clips(new, vectors, windows)
            files.update({t.media_id: t.media_path for t in ready})
        done += len(ready)
        if progress is not None:
            progress(done, len(targets))
        # Past the budget the loop goes on for cached captions only: they cost no model time.
    store.finalize()
    return CaptionReport(total=len(targets), captioned=captioned, cached=cached, clips=clips,
                         already=already, no_keyframe=no_keyframe, budget_stopped=stopped,
                         seconds=time.monotonic() - t0, files=tuple(sorted(files.items())),
                         warnings=tuple(warnings))


def _over(budget: float | None, elapsed: float, captioned: int) -> bool:
    """Whether the budget forbids starting another model batch."""
    if budget is None:
        return False
    return budget <= 0 or (captioned > 0 and elapsed >= budget)
