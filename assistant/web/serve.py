"""``deerin serve``: one deployment, several collections, each seen only by its own groups.

The app is the chat (Chainlit, mounted at ``/``, with a picker of the collections the user may
see: Chainlit's chat profiles) behind :class:`~assistant.web.routing.CollectionRouting`, which
sends every collection route to that collection's own app after checking the user's right to it.
Accounts come from the users file (:mod:`assistant.web.users`), a reverse proxy's headers, or
Chainlit's OAuth providers where their environment variables are set (:mod:`assistant.web.oauth`);
without any the deployment is open, which only a loopback address allows.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from assistant.web.api_ask import AskGate
from assistant.web.auth import SECRET_ENV, AuthConfig, is_loopback
from assistant.web.deployment import Deployment, ExtensionsOf, HeaderLogin
from assistant.web.oauth import OAuthLogin, WithOAuth, configured_providers, parse_domains
from assistant.web.routing import CollectionRouting
from assistant.web.server import (
    CHAT_MODULE,
    WAITING_PER_SLOT,
    default_app_root,
    point_chainlit_at,
    prepare_app_root,
)
from assistant.web.settings import WebSettings
from assistant.web.state import put_directory
from assistant.web.users import UserBook, UsersFileError

if TYPE_CHECKING:
    from assistant.llm import LLMCache


def create_serve_app(
    config_file: Path,
    users_file: Path | None,
    llm_spec: str | None = None,
    *,
    k: int | None = None,
    max_tokens: int | None = None,
    extensions: ExtensionsOf = lambda _name: (),
    web: WebSettings | None = None,
    cache: LLMCache | None = None,
    app_root: Path | None = None,
    warm_up: bool = True,
    database_url: str | None = None,
    header: HeaderLogin | None = None,
    oauth: OAuthLogin | None = None,
) -> FastAPI:
    """The multi-collection app over the collections of ``config_file``, with the accounts of
    ``users_file`` (``None`` or a missing file: no login), keeping conversations, answers and
    verdicts in ``database_url`` (its tables are created; ``None``: nothing kept); ``header``
    trusts a reverse proxy's single sign-on headers; ``oauth`` logs users in by Chainlit's OAuth
    providers (those configured). Raises
    :class:`ValueError` (one line) for a bad configuration, users file or database. Only one
    app per process: Chainlit is a singleton."""
    from assistant.llm import LLMCache
    from assistant.settings import AssistantSettings
    from config import ConfigError

    web = web if web is not None else WebSettings.from_env()
    book: UserBook | None = None
    if users_file is not None and users_file.is_file():
        try:
            book = UserBook(users_file)
        except UsersFileError as exc:
            raise ValueError(str(exc)) from exc
    root = prepare_app_root(app_root or default_app_root())
    point_chainlit_at(root)
    ephemeral = False
    signed = book is not None or header is not None or oauth is not None
    if signed and not os.environ.get(SECRET_ENV):
        # Chainlit signs sessions with this key; made here, sessions end with the process.
        os.environ[SECRET_ENV] = secrets.token_urlsafe(48)
        ephemeral = True
    auth = AuthConfig(jwt_secret=os.environ.get(SECRET_ENV) if signed else None,
                      accounts=WithOAuth(book, oauth) if book is not None and oauth is not None
                      else book, ephemeral_secret=ephemeral)
    parallel = AssistantSettings.from_env().parallel
    if database_url:
        import asyncio

        from assistant.web.history import create_schema, shown_url

        try:
            asyncio.run(create_schema(database_url))
        except Exception as exc:  # a bad URL or an unreachable server: say which, masked
            raise ValueError(f"cannot use the database {shown_url(database_url)}: "
                             f"{str(exc).splitlines()[0] if str(exc) else exc}") from exc
    try:
        deployment = Deployment(config_file, auth, book=book,
                                gate=AskGate(parallel, WAITING_PER_SLOT * parallel),
                                cache=cache if cache is not None else LLMCache(),
                                llm_spec=llm_spec, k=k, max_tokens=max_tokens,
                                extensions=extensions, web=web, warm_up=warm_up,
                                database_url=database_url, header=header, oauth=oauth)
    except ConfigError as exc:
        raise ValueError(str(exc)) from exc

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if warm_up:  # open every collection now: the first participant does not wait
            threading.Thread(target=_open_all, args=(deployment,), daemon=True,
                             name="deerin-open-collections").start()
        yield

    app = FastAPI(title="DEERIn", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    put_directory(app.state, deployment)

    from chainlit.server import app as chainlit_app
    from chainlit.utils import mount_chainlit

    put_directory(chainlit_app.state, deployment)
    mount_chainlit(app=app, target=str(CHAT_MODULE), path="/")
    app.add_middleware(CollectionRouting, deployment=deployment)
    return app


def _open_all(deployment: Deployment) -> None:
    for collection in deployment.collections():
        deployment.problem_of(collection.name)


def run_serve(
    config_file: Path,
    users_file: Path | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    llm: str | None = None,
    *,
    k: int | None = None,
    max_tokens: int | None = None,
    extensions: ExtensionsOf = lambda _name: (),
) -> None:
    """Serve the deployment with uvicorn until interrupted (the ``deerin serve`` command).

    Raises :class:`ValueError` for a bad file, or for a non-loopback ``host`` without accounts
    (several archives' footage must never be open to whoever reaches the address)."""
    from assistant.llm import default_llm_spec
    from config import Config

    config = Config.from_env()
    header_name = str(config["serve.user_header"]).strip()
    header = HeaderLogin(header_name, str(config["serve.groups_header"]).strip()) \
        if header_name else None
    # Chainlit reads its OAuth providers' variables (and its app root's .env) when imported:
    # point it at DEERIn's app root first, as create_serve_app does.
    point_chainlit_at(prepare_app_root(default_app_root()))
    providers = configured_providers()
    oauth = OAuthLogin(parse_domains(str(config["serve.oauth_domains"]))) if providers else None
    has_users = users_file is not None and users_file.is_file()
    if not has_users and header is None and oauth is None and not is_loopback(host):
        raise ValueError(f"serving on {host} needs accounts: add one with `deerin users add "
                         f"NAME --groups G` (the users file {users_file} does not exist)")
    from assistant.web.history import database_url, shown_url

    spec = llm or default_llm_spec()
    url = database_url()
    app = create_serve_app(config_file, users_file, spec, k=k, max_tokens=max_tokens,
                           extensions=extensions, database_url=url, header=header, oauth=oauth)
    shown = f"[{host}]" if ":" in host else host
    print(f"DEERIn serve on http://{shown}:{port}  (collections of {config_file}, LLM {spec}"
          f"{', accounts of ' + str(users_file) if has_users else ''}"
          f"{', single sign-on by ' + header.user_header if header else ''}"
          f"{', OAuth by ' + ', '.join(providers) if oauth else ''}"
          f"{'' if has_users or header or oauth else ', no login'}; kept in "
          f"{shown_url(url)})",
          file=sys.stderr, flush=True)

    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
