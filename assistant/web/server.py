"""The chat server: DEERIn's own FastAPI app, with the media routes and Chainlit mounted on it.

Chainlit's server ends in a catch-all ``GET /{path}`` that answers every unknown URL with its
HTML page, so routes added from a Chainlit module are shadowed. The app built here registers
the media and keyframe routes first and mounts Chainlit last (``mount_chainlit``), so
``/media/...`` reaches our Range-capable file responses and everything else reaches Chainlit.

What the chat sessions share lives in one :class:`~assistant.web.chat_service.ChatService`
(the index, the retriever, the loaded models and the authentication configuration). The
Chainlit module (:mod:`assistant.web.chainlit_app`) is loaded by Chainlit from its file path, so
it cannot be handed arguments; :func:`create_app` puts the service on the state of Chainlit's
own FastAPI app before mounting, and the module reads it back, both through the leaf
:mod:`assistant.web.state`. This module names the Chainlit module by its path only and never
imports it. Chainlit's app is a process-wide singleton in Chainlit itself, so nothing is added to
the process that was not there already.

Chainlit decides where it reads ``chainlit.md`` and ``.chainlit/config.toml`` from — and where
it writes uploads (``.files/``) — once, when ``chainlit.config`` is first imported: from
``CHAINLIT_APP_ROOT``, else the working directory. :func:`create_app` therefore prepares a
DEERIn-owned app root (default ``$XDG_CACHE_HOME/deerin/chainlit``), copies the packaged welcome
page and config into it, and points Chainlit at it before importing Chainlit. The chat thus
works the same from any directory and never writes into the one it was started from.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request

from assistant.web.api import api_router
from assistant.web.api_ask import AskGate
from assistant.web.api_docs import docs_router
from assistant.web.auth import (
    SECRET_ENV,
    AuthConfig,
    ensure_chainlit_secret,
    warn_if_exposed,
)
from assistant.web.chat_service import ChatService
from assistant.web.cors import CorsPolicy, PathCors
from assistant.web.errors import install_json_errors
from assistant.web.extensions import ChatExtension
from assistant.web.media import auth_dependency, media_router
from assistant.web.openai_compat import openai_router
from assistant.web.settings import WebSettings
from assistant.web.state import put_service

if TYPE_CHECKING:
    from assistant.llm import LLMCache
    from indexing.settings import Settings

# The Chainlit module, found next to this one so the installed copy is used from any cwd.
CHAT_MODULE = Path(__file__).resolve().with_name("chainlit_app.py")
APP_ROOT_ENV = "CHAINLIT_APP_ROOT"
ENV_FILE_ENV = "CHAINLIT_ENV_FILE"
# Where errors are JSON, and where other sites may read (IIIF viewers: documents and media).
JSON_PREFIXES = ("/api/", "/v1/", "/iiif/")
CORS_PREFIXES = ("/iiif/", "/media/", "/keyframes/")
# Answers waiting for a turn, per answer the embedded model decodes at once; more get a 429.
WAITING_PER_SLOT = 4


# --------------------------------------------------------------------------------------------
# The app


def default_app_root(env: dict[str, str] | None = None) -> Path:
    """Chainlit's working folder for DEERIn: ``$XDG_CACHE_HOME/deerin/chainlit``."""
    source = os.environ if env is None else env
    cache = source.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "deerin" / "chainlit"


def prepare_app_root(root: Path) -> Path:
    """Create ``root`` and put DEERIn's ``chainlit.md`` and ``.chainlit/config.toml`` in it.

    Both are copied from the ``deerin`` package on every start, so an upgrade brings its welcome
    page and settings along; edit the packaged files, not the copies.
    """
    root = Path(root).expanduser().resolve()
    packaged = resources.files("deerin")
    _write_if_changed(root / "chainlit.md", packaged.joinpath("chainlit.md").read_text("utf-8"))
    _write_if_changed(root / ".chainlit" / "config.toml",
                      packaged.joinpath(".chainlit", "config.toml").read_text("utf-8"))
    return root


def _write_if_changed(path: Path, text: str) -> None:
    try:
        if path.read_text("utf-8") == text:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Atomic: two servers starting at once never see half a file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def point_chainlit_at(root: Path) -> None:
    """Make Chainlit read its config from ``root``; must run before Chainlit is imported."""
    loaded = sys.modules.get("chainlit.config")
    if loaded is not None:
        current = Path(getattr(loaded, "APP_ROOT", "")).resolve()
        if current != root:
            raise RuntimeError(
                f"Chainlit was imported before the chat app was built and uses {current} as "
                f"its app root instead of {root}; build the app before importing chainlit"
            )
        return
    os.environ[APP_ROOT_ENV] = str(root)
    # Chainlit loads a .env from the working directory at import; only DEERIn's own root counts,
    # so the chat behaves the same wherever it is started.
    os.environ.setdefault(ENV_FILE_ENV, str(root / ".env"))


def create_app(
    settings: Settings,
    llm_spec: str | None = None,
    *,
    k: int | None = None,
    auth: AuthConfig | None = None,
    cache: LLMCache | None = None,
    app_root: Path | None = None,
    max_tokens: int | None = None,
    warm_up: bool = True,
    extensions: Sequence[ChatExtension] = (),
    web: WebSettings | None = None,
) -> FastAPI:
    """DEERIn's chat app: media routes, the HTTP API (``/api``, ``/v1``), then Chainlit
    (:data:`CHAT_MODULE`) mounted at ``/``.

    ``auth`` defaults to :meth:`AuthConfig.from_env` (after a signing key is generated for
    ``DEERIN_AUTH`` if none is set). Chainlit reads its signing key from the process environment
    only, so an ``auth`` with a key puts that key there. ``app_root`` is where Chainlit keeps
    its config (default :func:`default_app_root`). ``warm_up`` loads the models in the
    background at start-up. ``extensions`` add routes (behind the login, when there is one)
    and chat commands (see :mod:`assistant.web.extensions`). ``web`` names the collection in
    URLs and says who may read across origins (default: :meth:`WebSettings.from_env`). Only
    one app per process: Chainlit's server is a singleton.
    """
    web = web if web is not None else WebSettings.from_env()
    root = prepare_app_root(app_root or default_app_root())
    point_chainlit_at(root)
    if auth is None:
        generated = ensure_chainlit_secret(os.environ)
        auth = replace(AuthConfig.from_env(), ephemeral_secret=generated)
    elif auth.jwt_secret:
        os.environ[SECRET_ENV] = auth.jwt_secret
    elif auth.has_accounts:
        raise ValueError("password auth needs a signing key: give the AuthConfig a jwt_secret")

    service = ChatService(settings, llm_spec, k=k, auth=auth, cache=cache, max_tokens=max_tokens,
                          commands=[c for e in extensions for c in e.commands], web=web)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if warm_up:
            threading.Thread(target=service.warm_up, name="deerin-warm-up", daemon=True).start()
        yield

    app = FastAPI(title="DEERIn", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    put_service(app.state, service)  # library users and tests find it on the returned app too
    # Before the mount: Chainlit's catch-all would otherwise answer these paths with its page.
    serve_collection(app, service, auth, extensions,
                     AskGate(service.parallel, WAITING_PER_SLOT * service.parallel))

    from chainlit.server import app as chainlit_app
    from chainlit.utils import mount_chainlit

    put_service(chainlit_app.state, service)
    mount_chainlit(app=app, target=str(CHAT_MODULE), path="/")
    return app


def serve_collection(app: FastAPI, service: ChatService, auth: AuthConfig,
                     extensions: Sequence[ChatExtension], gate: AskGate) -> None:
    """Add to ``app`` every route of ``service``'s collection: media and keyframes, the HTTP
    API and its document, the OpenAI-compatible endpoint and what ``extensions`` add, behind
    ``auth``'s login when the service requires one; JSON errors and CORS on their prefixes.
    ``gate`` bounds the answers made at once (shared by every collection of a deployment)."""
    install_json_errors(app, JSON_PREFIXES)
    app.add_middleware(PathCors, policy=CorsPolicy(service.web.cors_origins,
                                                   service.login_required),
                       prefixes=CORS_PREFIXES)
    guard = auth if service.login_required else None
    app.include_router(media_router(service.resolve_media, guard,
                                    resolve_keyframe=service.resolve_keyframe))
    app.include_router(_nothing_else(guard))
    guarded = [Depends(auth_dependency(guard))] if guard is not None else None
    api = api_router(service, auth, gate)
    v1 = openai_router(service, gate)
    # The document first: the API's catch-all would answer its paths with a 404.
    app.include_router(docs_router([api, v1], service.login_required))
    app.include_router(api, dependencies=guarded)
    app.include_router(v1, dependencies=guarded)
    for extension in extensions:
        for make_router in extension.routes:
            app.include_router(make_router(service), dependencies=guarded)


def _nothing_else(guard: AuthConfig | None) -> APIRouter:
    """404 for every other path under the media prefixes.

    Without it a path the media routes do not match (``/media/a/b/c``, an encoded ``../``)
    would fall through to Chainlit's catch-all and be answered 200 with the chat page.
    """
    router = APIRouter()

    @router.api_route("/media/{rest:path}", methods=["GET", "HEAD"], include_in_schema=False)
    @router.api_route("/keyframes/{rest:path}", methods=["GET", "HEAD"],
                      include_in_schema=False)
    def not_found(rest: str, request: Request) -> None:
        if guard is not None and not guard.check_request(request):
            challenge = guard.challenge()
            raise HTTPException(status_code=401, detail="authentication required",
                                headers={"WWW-Authenticate": challenge} if challenge else None)
        raise HTTPException(status_code=404)

    return router


def run_chat(
    db: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    llm: str | None = None,
    *,
    k: int | None = None,
    max_tokens: int | None = None,
    extensions: Sequence[ChatExtension] = (),
) -> None:
    """Serve the chat with uvicorn until interrupted (the ``deerin chat`` command).

    Raises :class:`ValueError` for a malformed ``DEERIN_AUTH``. Binding to a non-loopback
    ``host`` without accounts prints a loud warning first.
    """
    from assistant.llm import default_llm_spec
    from indexing.settings import Settings
    from indexing.stores.location import shown as shown_index

    web = WebSettings.from_env()  # a bad value stops here, before anything is loaded
    generated = ensure_chainlit_secret(os.environ)
    auth = replace(AuthConfig.from_env(), ephemeral_secret=generated)
    warning = warn_if_exposed(host, bool(auth.users))
    if warning:
        print(warning, file=sys.stderr, flush=True)
    settings = Settings.from_env(db_dir=db)
    spec = llm or default_llm_spec()
    app = create_app(settings, spec, k=k, auth=auth, max_tokens=max_tokens,
                     extensions=extensions, web=web)
    shown = f"[{host}]" if ":" in host else host
    print(f"DEERIn chat on http://{shown}:{port}  (index {shown_index(settings.db_dir)}, LLM {spec}"
          f"{', login required' if auth.users else ''}; API /api/docs)", file=sys.stderr,
          flush=True)

    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
