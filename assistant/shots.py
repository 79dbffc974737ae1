"""Text → shot search (CLIP) as its own ranked list, fused with the text retrieval's list.

The text list (speech, subtitles, on-screen text, captions) is ordered by semantic similarity
(:mod:`assistant.retrieval`); the shot list by CLIP similarity between the query and each shot's
best frame. The two scales are different models' cosines, so the lists are merged by weighted
reciprocal rank fusion (the fusion the store already uses for its own lists) and each hit keeps
its own score. A shot hit is a :class:`~indexing.types.Clip` of kind ``shot`` spanning the shot,
with its best frame as keyframe, so search results and chat show the picture and play the shot.

:data:`SHOT_WEIGHT` and the score mapping are not calibrated: calibrating them needs real CLIP
weights, which cannot be fetched here (README, "Picture search").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from indexing.fusion import rrf_score
from indexing.types import Clip, ClipKind, Hit, media_title

log = logging.getLogger(__name__)

SHOT_WEIGHT = 0.5  # the shot list's RRF weight against the text list's 1.0 (uncalibrated)
SHOT_DEPTH = 20  # shots fetched per query
# Cosines of matching text-image pairs under OpenAI-style CLIP models mostly fall between
# these; mapped to [0, 1] so a shot's score reads like the text hits' similarity scores.
SIM_FLOOR, SIM_CEIL = 0.15, 0.35


class ShotSearch:
    """Picture search over one index's ``shot_vectors`` table, with the configured CLIP model
    loaded on first use. Off (``problem`` says why) when no model is configured, it cannot be
    built, or the index holds no vectors of it."""

    def __init__(self, db_dir: Path, settings: Any, embedder: Any = None) -> None:
        self.db_dir = Path(db_dir)
        self.settings = settings
        self._embedder = embedder
        self._problem: str | None = None
        self._vectors: Any = None  # the ShotVectors table, connected on first search

    @property
    def problem(self) -> str | None:
        """Why picture search gives nothing, or None when it is on (loads nothing)."""
        if self._problem is not None:
            return self._problem
        if self._embedder is None:
            from indexing.backends.open_clip import clip_status

            ok, message = clip_status(getattr(self.settings, "clip_model", ""))
            if not ok:
                return message
        return None

    def embedder(self) -> Any:
        """The CLIP embedder (built on first use), or None when picture search is off."""
        if self._embedder is None and self._problem is None:
            from indexing.backends.open_clip import ClipSpecError, clip_from_settings

            try:
                self._embedder = clip_from_settings(self.settings)
            except ClipSpecError as exc:
                self._problem = f"shot search disabled: {exc}"
        return self._embedder

    def search(self, query: str, k: int = SHOT_DEPTH) -> list[Hit]:
        """The ``k`` shots that look most like ``query``, best first, as ``shot`` hits."""
        from indexing.stores.shot_vectors import ShotVectors

        clip = self.embedder()
        if clip is None or self._problem is not None:  # off, or its weights failed to load
            return []
        if self._vectors is None:
            self._vectors = ShotVectors(self.db_dir, pinned=True)
        table = self._vectors
        if not table.count(clip.model_id):
            return []
        try:
            vector = clip.embed_texts([query])[0]
        except Exception as exc:  # weights that cannot be loaded (offline tag, bad file)
            self._problem = f"shot search disabled: {type(exc).__name__}: {exc}".splitlines()[0]
            log.warning("%s", self._problem)
            return []
        return [shot_hit(m) for m in table.search(clip.model_id, vector, k)]


def shot_hit(match: Any) -> Hit:
    """A :class:`~indexing.stores.shot_vectors.ShotMatch` as a ``shot`` hit."""
    title = media_title(match.media_path)
    clip = Clip(media_id=match.media_id, media_path=match.media_path, kind=ClipKind.SHOT,
                start=match.start, end=match.end,
                text=f"Shot {match.shot_index + 1} of {title} (found by its picture)",
                seq=match.shot_index, shot_index=match.shot_index,
                keyframe=match.keyframe or match.frame)
    score = min(max((match.similarity - SIM_FLOOR) / (SIM_CEIL - SIM_FLOOR), 0.0), 1.0)
    return Hit(clip=clip, score=score, sources=("shot",), clip_id=clip.clip_id,
               similarity=match.similarity)


def fuse_shots(text_hits: Sequence[Hit], shot_hits: Sequence[Hit],
               weight: float = SHOT_WEIGHT) -> list[Hit]:
    """One list from the text and shot lists by weighted reciprocal rank fusion.

    A shot that a text hit of the same file already covers (a caption or OCR clip of that
    shot) adds its rank to that hit instead of appearing twice; the hit then lists ``shot``
    among its sources.
    """
    if not shot_hits:
        return list(text_hits)
    # Keyed by place in ``entries``: a shot merged into a text hit adds to that hit's score.
    fused = {rank: rrf_score(rank) for rank in range(len(text_hits))}
    entries: list[Hit] = list(text_hits)
    for rank, s in enumerate(shot_hits):
        gain = rrf_score(rank, weight)
        same = next((i for i, h in enumerate(entries[:len(text_hits)])
                     if _covers(h.clip, s.clip)), None)
        if same is not None:
            h = entries[same]
            if "shot" not in h.sources:
                entries[same] = replace(h, sources=(*h.sources, "shot"))
                fused[same] += gain
            continue
        entries.append(s)
        fused[len(entries) - 1] = gain
    order = sorted(range(len(entries)), key=lambda i: (-fused[i], i))
    return [entries[i] for i in order]


def _covers(text: Clip, shot: Clip) -> bool:
    """Whether a text clip stands for the same shot (a caption or on-screen text of it)."""
    return (text.media_path == shot.media_path and text.shot_index is not None
            and text.shot_index == shot.shot_index
            and text.kind in (ClipKind.CAPTION, ClipKind.OCR))
