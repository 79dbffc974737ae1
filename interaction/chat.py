"""``/montage phrase`` in the chat: the montage, playable from the chat app, and its sources.

Montages are rendered into a cache folder (``$XDG_CACHE_HOME/deerin/montages`` by default) under
a name hashed from the index and the cuts, so asking again costs nothing, and are streamed by the
app with HTTP Range like the archive's own files (``/montage/media/<id>/<name>``), never copied
into the chat session.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException

from assistant.web.extensions import CommandReply, Player
from assistant.web.media import MediaFile, media_router, media_url
from indexing.types import content_id
from interaction.collection import Collection, find_moments
from interaction.cuts import Cut, plan_cuts
from interaction.montage import render

if TYPE_CHECKING:
    from assistant.web.extensions import ChatHost

CHAT_MAX_CUTS = 20  # a chat montage stays short enough to watch at once
CHAT_PAD = 0.3
PREFIX = "/montage"


def default_cache(env: dict[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/deerin/montages`` (``~/.cache`` when unset)."""
    source = os.environ if env is None else env
    return Path(source.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "deerin" / "montages"


class MontageCommand:
    """The chat's ``/montage`` command and the route that serves what it renders."""

    name = "montage"
    description = "Every moment a phrase is said, cut into one playable montage"

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = (cache_dir or default_cache()).expanduser().resolve()
        self._lock = threading.Lock()  # one render at a time: two cores, and one cache file

    def run(self, service: ChatHost, argument: str) -> CommandReply:
        """Find ``argument`` (exact words, else word stems), render, and list the sources."""
        from interaction.phrases import PhraseError, phrase_words

        phrase = argument.strip().strip("\"'“”")
        try:
            phrase_words(phrase)
        except PhraseError:
            return CommandReply("Type a phrase after **/montage**, e.g. `/montage ask not`.")
        collection = Collection.open(service.open_reader())
        found = find_moments(collection, phrase)
        how = "said"
        if not found:
            found, how = find_moments(collection, phrase, "fuzzy"), "said (as word stems)"
        if not found:
            return CommandReply(f"*{phrase}* is said nowhere in the collection.")
        present = collection.present([o.media_id for o in found])
        skipped = collection.missing([o.media_id for o in found])
        plan = plan_cuts(found, present, pad=CHAT_PAD, max_cuts=CHAT_MAX_CUTS)
        if not plan.cuts:
            return CommandReply(f"Every file that says *{phrase}* is missing: "
                                + ", ".join(Path(p).name for p in skipped))
        video = any(c.has_video for c in plan.cuts)
        key = content_id(str(service.db_dir), *(f"{c.media_id}:{c.start}:{c.end}"
                                                 for c in plan.cuts), str(video))
        out = self.cache_dir / f"{key}.{'mp4' if video else 'm4a'}"
        with self._lock:
            if not out.exists():
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                render(plan.cuts, out)
        lines = [f"**{len(plan.cuts)} moments** where *{phrase}* is {how}"
                 + (f" (the first {len(plan.cuts)} of {plan.found})" if plan.dropped else "")
                 + ":", ""]
        lines += [_source_line(i, c) for i, c in enumerate(plan.cuts, 1)]
        if skipped:
            lines += ["", "Skipped (missing since indexing): "
                      + ", ".join(Path(p).name for p in skipped)]
        url = media_url(key, f"montage.{out.suffix[1:]}", prefix=PREFIX)
        return CommandReply("\n".join(lines), (Player(f"montage: {phrase}", url,
                                                      audio=not video),))

    def router(self, service: ChatHost) -> APIRouter:
        """``/montage/media/<id>/<name>``: the rendered montages, with HTTP Range."""
        del service  # montages are files of the cache folder, whatever the index

        def resolve(media_id: str) -> MediaFile | None:
            for suffix, audio in ((".mp4", False), (".m4a", True)):
                path = self.cache_dir / f"{media_id}{suffix}"
                if path.is_file():
                    return MediaFile(path, audio_only=audio)
            return None

        router = APIRouter()
        router.include_router(media_router(resolve), prefix=PREFIX)

        @router.api_route(PREFIX + "/{rest:path}", methods=["GET", "HEAD"],
                          include_in_schema=False)
        def not_found(rest: str) -> None:
            raise HTTPException(status_code=404)

        return router


def _source_line(n: int, cut: Cut) -> str:
    link = media_url(cut.media_id, cut.name, start=cut.start, end=cut.end)
    said = " ".join(cut.text.split())
    return f"{n}. [{cut.label}]({link}) — “{said}”"
