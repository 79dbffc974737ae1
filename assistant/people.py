"""The "shots with people" filter: keep the hits whose shot shows at least one face.

Faces are counted per shot keyframe at indexing time (:mod:`indexing.stages.faces`). A clip
counts as showing people when any shot it overlaps has a face; clips of audio files, and of
indexes made before faces were counted (count unknown), do not.
"""

from __future__ import annotations

from collections.abc import Sequence

from indexing.stores.base import ClipReader
from indexing.types import Clip, Hit, Shot


def shows_people(clip: Clip, shots: Sequence[Shot]) -> bool:
    """Whether a shot that ``clip`` overlaps has at least one face counted."""
    return any((s.faces or 0) > 0 and s.start < clip.end and s.end > clip.start for s in shots)


def with_people(store: ClipReader, hits: Sequence[Hit]) -> list[Hit]:
    """The ``hits`` (order kept) whose clip overlaps a shot with faces."""
    shots: dict[str, list[Shot]] = {}
    kept = []
    for h in hits:
        media_id = h.clip.media_id
        if media_id not in shots:
            shots[media_id] = store.shots_of(media_id)
        if shows_people(h.clip, shots[media_id]):
            kept.append(h)
    return kept
