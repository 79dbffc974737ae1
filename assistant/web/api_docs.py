"""The OpenAPI document of the HTTP API (``/api/openapi.json``) and its browsable page
(``/api/docs``).

The app's other routes (the chat, media, IIIF, the map) are not in it: the document is built
from the API's own routers only. It names both ways in when the server has accounts (HTTP
Basic, or a bearer token from ``POST /api/token``). Neither route shows anything of the
collection, so both are open, for clients to find out how to log in.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from typing import Any

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from starlette.responses import HTMLResponse, JSONResponse

OPENAPI_PATH = "/api/openapi.json"
DOCS_PATH = "/api/docs"
DESCRIPTION = """Search and ask DEERIn's index of footage; every answer cites clips that play
at the cited second. Errors are JSON: `{"error": {"status", "type", "message"}}`.

When the server has accounts (setting `chat.auth`), every route needs HTTP Basic credentials
of an account or a bearer token (`POST /api/token`)."""


def openapi_document(routers: Sequence[APIRouter], accounts: bool) -> dict[str, Any]:
    """The OpenAPI document of ``routers``; with ``accounts``, every operation requires Basic
    or bearer credentials."""
    try:
        version = metadata.version("deerin")
    except metadata.PackageNotFoundError:
        version = "0"
    routes = [route for router in routers for route in router.routes]
    doc = get_openapi(title="DEERIn API", version=version, description=DESCRIPTION,
                      routes=routes)
    if accounts:
        doc.setdefault("components", {})["securitySchemes"] = {
            "basic": {"type": "http", "scheme": "basic",
                      "description": "An account of the setting chat.auth."},
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                       "description": "A token from POST /api/token."},
        }
        doc["security"] = [{"basic": []}, {"bearer": []}]
    return doc


def docs_router(routers: Sequence[APIRouter], accounts: bool) -> APIRouter:
    """``GET /api/openapi.json`` and ``GET /api/docs`` (Swagger UI; its script and style come
    from a CDN, so the page needs the browser to reach one; the JSON needs nothing)."""
    router = APIRouter()
    cache: dict[str, Any] = {}

    @router.get(OPENAPI_PATH, include_in_schema=False)
    def openapi() -> JSONResponse:
        if "doc" not in cache:  # built on first request: every router is complete by then
            cache["doc"] = openapi_document(routers, accounts)
        return JSONResponse(cache["doc"])

    @router.get(DOCS_PATH, include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=OPENAPI_PATH, title="DEERIn API")

    return router
