"""What the chat says and shows about picture search: whether it is on, and the shots it
found (kept apart from the Chainlit handlers so it can be tested without Chainlit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from indexing.types import ClipKind, Hit

SHOTS_SHOWN = 3  # shot players under an answer, besides its citations


def picture_search_note(settings: Any) -> str | None:
    """One plain sentence when shot search is off (no CLIP weights, or unusable ones)."""
    from indexing.backends.open_clip import clip_status

    ok, message = clip_status(getattr(settings, "clip_model", ""))
    return None if ok else message[:1].upper() + message[1:] + "."


def found_shots(hits: Sequence[Hit], cited: Sequence[Any] = (),
                limit: int = SHOTS_SHOWN) -> list[Hit]:
    """The shots picture search found among ``hits`` that no citation already plays."""
    playing = {(c.clip.media_path, c.clip.start, c.clip.end) for c in cited}
    return [h for h in hits if h.clip.kind is ClipKind.SHOT
            and (h.clip.media_path, h.clip.start, h.clip.end) not in playing][:limit]
