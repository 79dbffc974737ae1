"""Cross-origin reads of IIIF documents, media and keyframes, for viewers hosted elsewhere.

A IIIF viewer (Universal Viewer, Ramp, Aviary) on another site fetches a manifest with
``fetch()`` and plays the media it names, possibly with ``crossorigin``: the browser lets the
page read them only when the answers carry CORS headers for its origin. Only ``GET``/``HEAD``
(and their preflight ``OPTIONS``) under the given path prefixes get them; the chat, the API and
every write stay same-origin.

The policy (setting ``chat.cors_origins``):

- ``*`` without accounts: ``Access-Control-Allow-Origin: *``; the content is open anyway.
- ``*`` with accounts: still ``*``, which browsers never combine with credentials: a page on
  another site cannot ride on the user's chat cookie, only send a token or Basic credentials
  it was given (``Authorization`` is allowed in the preflight).
- listed origins: echoed back, and with accounts ``Access-Control-Allow-Credentials: true``,
  so a viewer the archive trusts may use the user's logged-in session.

Preflights are answered here, before authentication: browsers send them without credentials.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.web.settings import ANY_ORIGIN

READ_METHODS = ("GET", "HEAD")
# What a viewer may send: its token or Basic credentials, byte ranges, revalidation.
ALLOWED_HEADERS = ("authorization", "range", "if-none-match", "if-modified-since")
# What a viewer's script may read besides the CORS-safelisted response headers.
EXPOSED_HEADERS = "Content-Range, Accept-Ranges, Content-Length, ETag, WWW-Authenticate"
PREFLIGHT_MAX_AGE = "600"


@dataclass(frozen=True)
class CorsPolicy:
    """Which origins may read, and whether the app has accounts (credentials then matter)."""

    origins: tuple[str, ...]
    accounts: bool = False

    @property
    def any_origin(self) -> bool:
        return ANY_ORIGIN in self.origins

    def allow(self, origin: str) -> dict[str, str]:
        """The headers that let ``origin`` read an answer, or ``{}`` when it may not."""
        if origin in self.origins:
            headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
            if self.accounts:
                headers["Access-Control-Allow-Credentials"] = "true"
            return headers
        if self.any_origin:
            return {"Access-Control-Allow-Origin": "*"}
        return {}


class PathCors:
    """ASGI middleware applying ``policy`` to ``GET``/``HEAD``/preflight requests whose path
    starts with one of ``prefixes``; every other request passes untouched."""

    def __init__(self, app: ASGIApp, policy: CorsPolicy, prefixes: Sequence[str]) -> None:
        self.app = app
        self.policy = policy
        self.prefixes = tuple(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        method = scope["method"]
        if method == "OPTIONS" and origin and "access-control-request-method" in headers:
            await self._preflight(origin, headers, send)
            return
        if origin is None or method not in READ_METHODS:
            await self.app(scope, receive, send)
            return
        allowed = self.policy.allow(origin)

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in allowed.items():
                    if name == "Vary":
                        out.add_vary_header(value)
                    else:
                        out[name] = value
                if allowed:
                    out["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _preflight(self, origin: str, headers: Headers, send: Send) -> None:
        wanted = headers["access-control-request-method"].upper()
        asked = [h.strip().lower() for h in headers.get("access-control-request-headers", "")
                 .split(",") if h.strip()]
        allowed = self.policy.allow(origin)
        refused = not allowed or wanted not in READ_METHODS or any(
            h not in ALLOWED_HEADERS for h in asked)
        out = [(b"vary", b"Origin")]
        if refused:
            status, body = 403, b"cross-origin request not allowed"
            out.append((b"content-type", b"text/plain; charset=utf-8"))
        else:
            status, body = 204, b""
            out += [(name.lower().encode(), value.encode()) for name, value in allowed.items()
                    if name != "Vary"]
            out += [(b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
                    (b"access-control-allow-headers", ", ".join(ALLOWED_HEADERS).encode()),
                    (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode())]
        out.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})
