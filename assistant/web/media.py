"""HTTP routes that stream indexed media and keyframes to the chat's players.

The routes serve only what a resolver hands them: the app builds the resolver from the index,
so an id that was never indexed has nowhere to point. Every answer honours HTTP Range requests
(Starlette's :class:`~starlette.responses.FileResponse` does the byte ranges, 416s and
streaming in 64 KiB chunks), so a ``<video src=".../media/<id>#t=9,17">`` element can seek
straight to the cited second without downloading the file first.

Paths are checked at request time, not only when indexed: the file's real path (after every
symlink is resolved) must be the very path the index recorded. A symlink dropped where an
indexed file used to be, or a symlinked directory above it, is refused with 403. The index
should therefore record resolved paths (``Path.resolve()``).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.responses import FileResponse, Response

from assistant.web.auth import AuthCheck

# Content hashes (file hashes are 24 hex digits, clip ids 20); anything else is not an id.
_MEDIA_ID = re.compile(r"[0-9a-f]{8,128}")
# Keyframe names come from the indexer (e.g. ``<media_id>_0007``): no separators, no dot-dot.
_KEYFRAME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")

_VIDEO_TYPES: dict[str, str] = {
    ".webm": "video/webm",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mkv": "video/x-matroska",
    ".mov": "video/quicktime",
    ".ogv": "video/ogg",
    ".avi": "video/x-msvideo",
    ".ts": "video/mp2t",
    ".mpg": "video/mpeg",
    ".mpeg": "video/mpeg",
}
_AUDIO_TYPES: dict[str, str] = {
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".flac": "audio/flac",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".mka": "audio/x-matroska",
    ".weba": "audio/webm",
}
# Containers that hold either kind: what to call them when the index knows there is no picture
# (or, for .ogg, that there is one). Browsers pick an <audio> or <video> pipeline from this.
_AS_AUDIO: dict[str, str] = {
    "video/webm": "audio/webm",
    "video/mp4": "audio/mp4",
    "video/x-matroska": "audio/x-matroska",
    "video/ogg": "audio/ogg",
}
_AS_VIDEO: dict[str, str] = {"audio/ogg": "video/ogg"}

# Media ids are content hashes, so the bytes behind one rarely change; an hour of private
# caching saves re-fetching while seeking, and the ETag catches a re-encoded file after that.
DEFAULT_CACHE_MAX_AGE = 3600


@dataclass(frozen=True, slots=True)
class MediaFile:
    """What a resolver may return instead of a bare path, to say more about the file.

    ``audio_only`` is ``True`` for files without a picture (so ``.webm`` is sent as
    ``audio/webm``), ``False`` for files with one, ``None`` when unknown (decided by extension).
    ``media_type`` overrides the Content-Type outright.
    """

    path: Path
    audio_only: bool | None = None
    media_type: str | None = None


MediaResolver = Callable[[str], Path | MediaFile | None]
KeyframeResolver = Callable[[str], Path | None]


def content_type(path: Path, audio_only: bool | None = None) -> str:
    """The Content-Type to send for ``path``, by extension, adjusted by ``audio_only``."""
    suffix = path.suffix.lower()
    guessed = _VIDEO_TYPES.get(suffix) or _AUDIO_TYPES.get(suffix)
    if guessed is None:
        return "image/jpeg" if suffix in (".jpg", ".jpeg") else "application/octet-stream"
    if audio_only is True:
        return _AS_AUDIO.get(guessed, guessed)
    if audio_only is False:
        return _AS_VIDEO.get(guessed, guessed)
    return guessed


def media_url(
    media_id: str,
    filename: str | None = None,
    *,
    start: float | None = None,
    end: float | None = None,
    prefix: str = "",
) -> str:
    """The URL a player should load for ``media_id``, with a ``#t=start,end`` fragment.

    ``filename`` only makes the URL readable and names downloads; ``prefix`` is where the
    router is mounted.
    """
    url = f"{prefix.rstrip('/')}/media/{media_id}"
    if filename:
        url += "/" + quote(filename, safe="")
    if start is not None:
        url += f"#t={_seconds(start)}"
        if end is not None and end > start:
            url += f",{_seconds(end)}"
    return url


def keyframe_url(name: str, *, prefix: str = "") -> str:
    """The URL of the keyframe image called ``name`` (without ``.jpg``)."""
    return f"{prefix.rstrip('/')}/keyframes/{quote(name, safe='')}.jpg"


def media_router(
    resolve: MediaResolver,
    auth: AuthCheck | None = None,
    *,
    resolve_keyframe: KeyframeResolver | None = None,
    cache_max_age: int = DEFAULT_CACHE_MAX_AGE,
) -> APIRouter:
    """Routes ``GET``/``HEAD`` ``/media/{media_id}[/{filename}]`` and ``/keyframes/{name}.jpg``.

    ``resolve`` maps the id of an indexed file to its recorded path (or a :class:`MediaFile`),
    and returns ``None`` for anything else; ``resolve_keyframe`` does the same for keyframe
    names (the keyframe route exists only when it is given). ``auth``, when given, must accept
    every request before anything is looked up, so unauthenticated callers learn nothing about
    which ids exist. Unknown ids give 404, files whose real path is not the recorded one 403.
    """
    dependencies = [Depends(auth_dependency(auth))] if auth is not None else []
    router = APIRouter(dependencies=dependencies)
    cache_control = f"private, max-age={max(0, cache_max_age)}"

    def serve_media(media_id: str, filename: str | None, request: Request) -> Response:
        if not _MEDIA_ID.fullmatch(media_id):
            raise HTTPException(status_code=404)
        found = resolve(media_id)
        if found is None:
            raise HTTPException(status_code=404)
        entry = found if isinstance(found, MediaFile) else MediaFile(path=found)
        real, st = _verified(entry.path)
        media_type = entry.media_type or content_type(real, entry.audio_only)
        # The pretty name only labels downloads; "." / ".." would make a useless one.
        shown = filename if filename and filename.strip(".") else real.name
        return _file_response(request, real, st, media_type, shown, cache_control)

    # Plain `def` endpoints: FastAPI runs them in its thread pool, where the resolver's index
    # lookup and the stat/realpath calls can block without stalling the event loop.
    @router.api_route("/media/{media_id}", methods=["GET", "HEAD"], include_in_schema=False)
    def get_media(media_id: str, request: Request) -> Response:
        return serve_media(media_id, None, request)

    @router.api_route(
        "/media/{media_id}/{filename}", methods=["GET", "HEAD"], include_in_schema=False
    )
    def get_media_named(media_id: str, filename: str, request: Request) -> Response:
        return serve_media(media_id, filename, request)

    if resolve_keyframe is not None:
        find_keyframe = resolve_keyframe

        @router.api_route("/keyframes/{name}.jpg", methods=["GET", "HEAD"],
                          include_in_schema=False)
        def get_keyframe(name: str, request: Request) -> Response:
            if not _KEYFRAME_NAME.fullmatch(name) or ".." in name:
                raise HTTPException(status_code=404)
            path = find_keyframe(name)
            if path is None:
                raise HTTPException(status_code=404)
            real, st = _verified(path)
            return _file_response(request, real, st, "image/jpeg", f"{name}.jpg",
                                  cache_control)

    return router


def auth_dependency(auth: AuthCheck) -> Callable[[Request], None]:
    """A FastAPI dependency answering 401 (with the login challenge) unless ``auth`` accepts
    the request; the media routes and extension routes use the same one."""
    def require_auth(request: Request) -> None:
        if not auth.check_request(request):
            challenge = auth.challenge()
            headers = {"WWW-Authenticate": challenge} if challenge else None
            raise HTTPException(status_code=401, detail="authentication required",
                                headers=headers)

    return require_auth


def _verified(recorded: Path) -> tuple[Path, os.stat_result]:
    """The recorded path and its stat, if it still is the indexed regular file itself.

    404 when nothing is there (or not a file), 403 when resolving symlinks leads anywhere else:
    a symlink swapped in for an indexed file, or a symlinked directory above it.
    """
    expected = os.path.normpath(os.path.abspath(recorded))
    try:
        real = os.path.realpath(expected, strict=True)
        st = os.stat(real)
    except (OSError, ValueError):
        # ValueError: an embedded NUL byte, which no real file name has.
        raise HTTPException(status_code=404) from None
    if real != expected:
        raise HTTPException(status_code=403)
    if not stat.S_ISREG(st.st_mode):
        raise HTTPException(status_code=404)
    return Path(real), st


def _file_response(
    request: Request,
    path: Path,
    st: os.stat_result,
    media_type: str,
    filename: str,
    cache_control: str,
) -> Response:
    response = FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        stat_result=st,
        # inline: a download link still saves the file, but a tab opened on it plays it.
        content_disposition_type="inline",
        headers={"Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"},
    )
    if _not_modified(request, response.headers["etag"], st):
        # FileResponse answers Range but not conditional requests; a 304 here saves the body.
        kept = ("etag", "last-modified", "cache-control", "accept-ranges")
        return Response(status_code=304,
                        headers={k: response.headers[k] for k in kept if k in response.headers})
    return response


def _not_modified(request: Request, etag: str, st: os.stat_result) -> bool:
    # RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only counts without it.
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        wanted = _opaque(etag)
        tags = [tag.strip() for tag in if_none_match.split(",")]
        return any(tag == "*" or _opaque(tag) == wanted for tag in tags)
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        return False
    # HTTP dates have whole-second precision; compare at that precision.
    return int(st.st_mtime) <= int(since.timestamp())


def _opaque(tag: str) -> str:
    # Weak comparison: W/"x" and "x" name the same representation for a GET.
    return tag[2:] if tag.startswith("W/") else tag


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}".rstrip("0").rstrip(".")
