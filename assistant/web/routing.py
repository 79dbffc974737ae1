"""Every request of ``deerin serve`` that touches a collection goes through here first.

An ASGI middleware in front of the whole app (the chat included). It decides which collection a
request is about, checks that the user may see it, and hands the request to that collection's
own app (:class:`~assistant.web.deployment.Deployment`); nothing of a collection is reachable any
other way, so no route can forget the check.

- ``/c/NAME/...``: every route of the collection NAME (``/c/NAME/api/search``, ``/c/NAME/map``,
  ``/c/NAME/iiif/NAME/manifest.json``...).
- ``/api/...`` and ``/v1/...`` with ``?collection=NAME`` (without it: the user's only
  collection; a user who sees several must name one), ``/iiif/NAME/...``, ``/map?collection=``.
- ``/media/...``, ``/keyframes/...``, ``/montage/...`` (what the chat's players and the map
  load): looked up in the collections the user may see, and nowhere else.

A collection that does not exist and one the user may not see get the same 404, so ids and names
of other archives' collections cannot be probed. No login: 401 (with a Basic challenge). A
collection the user may see whose index is missing or broken: 503 with the reason.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from assistant.web.auth import VOUCHED

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from assistant.web.deployment import Deployment
    from config.collections import Collection

JSON_PREFIXES = ("/api", "/v1", "/iiif", "/c/")
SHARED_PREFIXES = ("/media/", "/keyframes/", "/montage/")
# Paths of the API that need no collection of their own: any visible one answers them.
_ANY_COLLECTION = ("/api/token", "/api/docs", "/api/openapi.json", "/v1/models")


class CollectionRouting:
    """The middleware: ``app`` is the rest (Chainlit), ``deployment`` the collections."""

    def __init__(self, app: ASGIApp, deployment: Deployment) -> None:
        self.app = app
        self.deployment = deployment

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and self.deployment.header is not None:
            # The chat's socket passes the proxy too: its headers keep the user's groups known
            # (after a restart, a session may come back without logging in again).
            self.deployment.from_headers(Headers(scope=scope))
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        name: str | None
        if path.startswith("/c/"):
            name = path.split("/", 3)[2]
            await self._one(name, scope, receive, send, mount=f"/c/{name}")
        elif _under(path, "/api") or _under(path, "/v1") or path == "/map":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            name = (query.get("collection") or [None])[0]
            await self._one(name, scope, receive, send)
        elif path.startswith("/iiif/"):
            await self._one(path.split("/", 3)[2], scope, receive, send)
        elif path.startswith(SHARED_PREFIXES):
            await self._any(scope, receive, send)
        else:
            if self.deployment.header is not None:
                self.deployment.from_headers(Headers(scope=scope))
            await self.app(scope, receive, send)

    async def _visible(self, scope: Scope, receive: Receive,
                       send: Send) -> list[Collection] | None:
        """The collections the request's user may see; ``None`` once the request has been
        refused for want of a login (401)."""
        ok, user = await self._user(scope)
        if not ok:
            await _refuse(scope, receive, send, 401, "authentication required",
                          self.deployment.auth.challenge())
            return None
        return await asyncio.to_thread(self.deployment.visible, user)

    async def _user(self, scope: Scope) -> tuple[bool, str | None]:
        """Whether the request may go on at all, and whose it is."""
        if not self.deployment.login_required:
            return True, None
        request = Request(scope)
        user = self.deployment.from_headers(request.headers)
        if user is None:
            # A Basic password is an argon2 check (tens of ms): off the event loop.
            user = await asyncio.to_thread(self.deployment.auth.identify, request)
        if user is not None:
            scope[VOUCHED] = user  # the collection's own routes need not check again
        return user is not None, user

    async def _one(self, name: str | None, scope: Scope, receive: Receive, send: Send,
                   mount: str = "") -> None:
        visible = await self._visible(scope, receive, send)
        if visible is None:
            return
        if name is None:
            path = scope["path"]
            if len(visible) == 1 or (visible and path.startswith(_ANY_COLLECTION)):
                name = visible[0].name
            else:
                names = ", ".join(c.name for c in visible) or "none"
                await _refuse(scope, receive, send, 400 if visible else 404,
                              f"name the collection with ?collection=NAME (yours: {names})")
                return
        if name not in {c.name for c in visible}:  # unknown or not yours: the same answer
            await _refuse(scope, receive, send, 404, f"no collection {name!r}")
            return
        problem = await asyncio.to_thread(self.deployment.problem_of, name)
        entry = self.deployment.entry(name)
        if problem is not None or entry is None:
            await _refuse(scope, receive, send, 503,
                          f"the collection {name} is unavailable: {problem}")
            return
        inner = dict(scope)
        if mount:
            inner["root_path"] = scope.get("root_path", "") + mount
        await entry.app(inner, receive, send)

    async def _any(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve from the first collection the user sees that has what the path names."""
        visible = await self._visible(scope, receive, send)
        if visible is None:
            return
        if scope["method"] in ("GET", "HEAD"):
            for collection in visible:
                if await asyncio.to_thread(self.deployment.problem_of, collection.name):
                    continue
                entry = self.deployment.entry(collection.name)
                if entry is not None and await _unless_404(entry.app, scope, receive, send):
                    return
        await _refuse(scope, receive, send, 404, "not found")


async def _unless_404(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> bool:
    """Run ``app``; pass its response on unless it is a 404 (then send nothing and return
    ``False``, so the next collection may answer)."""
    missing = False

    async def relay(message: Message) -> None:
        nonlocal missing
        if message["type"] == "http.response.start" and message["status"] == 404:
            missing = True
        if not missing:
            await send(message)

    sent_body = False

    async def body_once() -> Message:
        nonlocal sent_body
        if not sent_body:  # a GET has no body: each try may read it
            sent_body = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    await app(scope, body_once, relay)
    return not missing


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str,
                  challenge: str | None = None) -> None:
    headers = {"WWW-Authenticate": challenge} if status == 401 and challenge else None
    response: Response
    if scope["path"].startswith(JSON_PREFIXES):
        response = JSONResponse({"detail": detail}, status_code=status, headers=headers)
    else:
        response = PlainTextResponse(detail, status_code=status, headers=headers)
    await response(scope, receive, send)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")

