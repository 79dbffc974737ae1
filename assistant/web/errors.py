"""JSON errors for the API and IIIF routes: every refusal a client can read, never a page.

Under the given path prefixes, an error answers ``{"error": {"status", "type", "message"}}``
(the shape OpenAI clients read, so ``/v1`` speaks it too): malformed JSON is a 400, a body or
query that does not fit the schema a 422 naming the field, unknown things a 404, and an
unexpected failure a 500 that says only to look in the server log (the trace goes there, not
to the client). The media routes and the chat keep their own behaviour.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response

log = logging.getLogger("deerin.api")

_TYPES = {400: "invalid_request", 401: "authentication_required", 403: "forbidden",
          404: "not_found", 405: "method_not_allowed", 409: "conflict", 413: "too_large",
          422: "invalid_request", 429: "too_many_requests", 503: "unavailable"}


def error_body(status: int, message: str) -> dict[str, Any]:
    """The JSON body of an error answer."""
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request")
    return {"error": {"status": status, "type": kind, "message": message}}


def error_response(status: int, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """An error answer: ``status`` with :func:`error_body`."""
    return JSONResponse(error_body(status, message), status_code=status, headers=headers)


def describe_validation(errors: Sequence[Any]) -> str:
    """One line naming what is wrong with a request, e.g. ``query.k: Input should be less than
    or equal to 10``."""
    parts = []
    for e in list(errors)[:3]:
        where = ".".join(str(p) for p in e.get("loc", ()))
        parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg")))
    more = len(errors) - 3
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def install_json_errors(app: FastAPI, prefixes: Sequence[str]) -> None:
    """Answer errors of paths under ``prefixes`` as JSON; others as FastAPI does."""
    scoped = tuple(prefixes)

    def ours(request: Request) -> bool:
        return request.url.path.startswith(scoped)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if not ours(request):
            return await http_exception_handler(request, exc)
        message = exc.detail if isinstance(exc.detail, str) else _default_message(exc)
        return error_response(exc.status_code, message, dict(exc.headers or {}) or None)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if not ours(request):
            return await request_validation_exception_handler(request, exc)
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "the body is not valid JSON")
        return error_response(422, describe_validation(errors))

    async def on_crash(request: Request, exc: Exception) -> Response:
        # Reached for bugs only: every expected failure is an HTTPException above.
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        if not ours(request):
            return PlainTextResponse("Internal Server Error", status_code=500)
        return error_response(500, "the server failed to answer; its log has the details")

    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(Exception, on_crash)


def _default_message(exc: HTTPException) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(exc.status_code).phrase.lower()
    except ValueError:
        return "error"
