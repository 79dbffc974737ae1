"""``/map`` in the chat app: the collection's map, with players that stream from the app.

The page is the one ``deerin map`` writes, except that media load from the app's media route
(HTTP Range, so a click plays at once at its second) and thumbnails from its keyframe route. A
map is built on first request (UMAP needs some seconds, more the first time in a process) and
kept until the index changes; ``?by=shots|files`` and ``?method=tsne`` choose another map.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter
from starlette.responses import HTMLResponse

from assistant.web.media import media_url
from exploration.build import EmptyMap, build_map
from exploration.html import Links
from exploration.points import LEVELS
from exploration.project import METHODS

if TYPE_CHECKING:
    from assistant.web.extensions import ChatHost


def map_router(service: ChatHost) -> APIRouter:
    """The ``GET /map`` route over ``service``'s index."""
    router = APIRouter()
    cache: dict[tuple[object, ...], str] = {}
    lock = threading.Lock()
    links = Links(media=lambda p: media_url(p.media_id, Path(p.media_path).name),
                  thumbnail=lambda p: service.keyframe_url_of(p.keyframe))

    # A plain `def`: FastAPI runs it in its thread pool, so building never blocks the chat.
    @router.get("/map", include_in_schema=False)
    def show_map(by: str = "clips", method: str = "umap") -> HTMLResponse:
        if by not in LEVELS or method not in METHODS:
            return _message(400, f"by must be one of {', '.join(LEVELS)} and method one of "
                                 f"{', '.join(METHODS)}")
        snapshot = service.snapshot()
        if not snapshot.exists:
            return _message(404, f"No DEERIn index at {service.db_dir} yet.")
        key = (snapshot.signature, by, method)
        with lock:  # one build at a time; later requests find it made
            page = cache.get(key)
            if page is None:
                try:
                    page = build_map(service.open_reader(), links, by=by,
                                     method=method, threads=service.settings.threads,
                                     title=f"DEERIn map ({by})").html
                except EmptyMap as exc:
                    return _message(404, str(exc))
                cache.clear()  # only the current index's maps are worth keeping
                cache[key] = page
        return HTMLResponse(page)

    return router


def _message(status: int, text: str) -> HTMLResponse:
    return HTMLResponse(f"<!DOCTYPE html><title>DEERIn map</title><p>{html.escape(text)}</p>",
                        status_code=status)
