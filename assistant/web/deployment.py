"""The collections of one ``deerin serve`` deployment: who may see which, and what serves each.

A :class:`Deployment` reads the ``[collections.NAME]`` tables of the configuration file again
whenever the file changes, so a collection added with ``deerin collections add`` while serving
appears without a restart and one removed disappears. Each collection gets, on first use, its own
:class:`~assistant.web.chat_service.ChatService` (its index, retriever and starters) and its own
small FastAPI app with every route a collection has (media, keyframes, the HTTP API, IIIF, the
map, montages: :func:`assistant.web.server.serve_collection`). The loaded LLM and the queue of
answers are shared, so three collections cost one model, not three.

Access: a user sees a collection when one of their groups is among the collection's groups;
members of :data:`~assistant.web.users.ADMIN_GROUP` see every collection. A user's groups come
from a proxy's header, else the users file, else (an OAuth login, :mod:`assistant.web.oauth`)
the allowed e-mail domain they log in from. Without accounts
(a loopback-only deployment) everyone sees everything. :mod:`assistant.web.routing` applies this
to every request before any collection route runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.web.auth import AuthConfig
from assistant.web.chat_service import ChatService
from assistant.web.line import AnswerLine
from assistant.web.oauth import OAuthLogin, map_identity, oauth_email
from assistant.web.settings import WebSettings
from assistant.web.users import ADMIN_GROUP, UserBook, file_stamp
from config import ConfigError
from config.collections import Collection, read_collections

if TYPE_CHECKING:
    from fastapi import FastAPI

    from assistant.llm import LLMCache
    from assistant.web.api_ask import AskGate
    from assistant.web.extensions import ChatExtension

log = logging.getLogger("deerin.serve")

# How long an index's state (opens or not, and why) is trusted before it is looked at again.
STATUS_SECONDS = 5.0

ExtensionsOf = Callable[[str], Sequence["ChatExtension"]]


def may_pick_llm(spec: str, *, admin: bool) -> bool:
    """Whether a participant may switch their chat to the LLM ``spec``. Anyone may pick a
    shipped tier or a model of the configured Ollama server; a GGUF file on the server's disk
    (``llamacpp:PATH``) only an ``admin``: it loads gigabytes into the process every
    participant shares. Raises ``LLMUsageError`` for a spec that names nothing."""
    from assistant.llm import parse_llm_spec
    from weights import tier

    parsed = parse_llm_spec(spec)
    return admin or parsed.backend != "llamacpp" or tier(parsed.target or "") is not None


@dataclass(frozen=True, slots=True)
class HeaderLogin:
    """Single sign-on by a reverse proxy: the header naming the user and, optionally, the one
    listing their groups (comma-separated)."""

    user_header: str
    groups_header: str = ""

    def read(self, headers: Mapping[str, str]) -> tuple[str | None, tuple[str, ...] | None]:
        """The user and groups (``None``: the header is not configured) ``headers`` name."""
        user = (headers.get(self.user_header) or "").strip() or None
        if not self.groups_header:
            return user, None
        raw = headers.get(self.groups_header) or ""
        return user, tuple(g.strip() for g in raw.split(",") if g.strip())


@dataclass(frozen=True, slots=True)
class Profile:
    """A collection as a user's picker shows it: ``problem`` says why it is unavailable."""

    name: str
    description: str
    problem: str | None = None


@dataclass
class _Entry:
    collection: Collection
    service: ChatService
    app: FastAPI
    checked: float = 0.0
    problem: str | None = None


class Deployment:
    """The collections of ``config_file`` and their services. Thread-safe."""

    def __init__(self, config_file: Path, auth: AuthConfig, *, book: UserBook | None,
                 gate: AskGate, cache: LLMCache, llm_spec: str | None = None,
                 k: int | None = None, max_tokens: int | None = None,
                 extensions: ExtensionsOf = lambda _name: (), web: WebSettings | None = None,
                 warm_up: bool = True, database_url: str | None = None,
                 header: HeaderLogin | None = None, oauth: OAuthLogin | None = None) -> None:
        self.config_file = config_file
        self.header = header
        self.oauth = oauth
        # Groups a proxy's header gave each user, as last seen (replaced on every request).
        self._header_groups: dict[str, tuple[str, ...]] = {}
        self.database_url = database_url
        self.line = AnswerLine(gate.answering)
        self.auth = auth
        self.book = book
        self.gate = gate
        self.cache = cache
        self.llm_spec = llm_spec
        self.k = k
        self.max_tokens = max_tokens
        self.extensions = extensions
        self.web = web if web is not None else WebSettings()
        self.warm_up = warm_up
        self.problem: str | None = None  # why the configuration file was last refused
        self._lock = threading.RLock()
        self._stamp: tuple[int, int] | None = None
        self._collections: tuple[Collection, ...] = ()
        self._entries: dict[str, _Entry] = {}
        self.collections()  # a bad file at start-up is an error: raise it now

    @property
    def login_required(self) -> bool:
        """Whether users must be identified (a users file, a proxy's header, or OAuth)."""
        return self.auth.has_accounts or self.header is not None or self.oauth is not None

    def from_headers(self, headers: Mapping[str, str]) -> str | None:
        """The user a trusted proxy's headers name (remembering their groups), else ``None``."""
        if self.header is None:
            return None
        user, groups = self.header.read(headers)
        if user is not None and groups is not None:
            with self._lock:
                self._header_groups[user] = groups
        return user

    def from_oauth(self, provider: str, raw: Mapping[str, Any], identifier: str) -> str | None:
        """The user an OAuth provider's identity is (see :func:`~assistant.web.oauth.
        map_identity`), else ``None``: refused (or OAuth is off)."""
        if self.oauth is None:
            return None
        accounts = self.book.accounts() if self.book is not None else {}
        found = map_identity(oauth_email(provider, raw, identifier), accounts,
                             self.oauth.domains)
        if found is None:
            log.info("OAuth login by %s refused: not in the users file or an allowed domain",
                     provider)
            return None
        return found[0]

    # -- the configuration ---------------------------------------------------------------------
    def collections(self) -> tuple[Collection, ...]:
        """The collections as the configuration file declares them now. A file that turns bad
        while serving keeps the last good list (see :attr:`problem`)."""
        stamp = file_stamp(self.config_file)
        with self._lock:
            if stamp == self._stamp:
                return self._collections
            first = self._stamp is None and not self._collections
            try:
                found = read_collections(self.config_file)
            except ConfigError as exc:
                if first:
                    raise
                self.problem = str(exc)
                log.error("keeping the collections served so far: %s", exc)
                self._stamp = stamp
                return self._collections
            self.problem = None
            self._stamp, self._collections = stamp, found
            known = {c.name: c for c in found}
            for name in list(self._entries):  # gone, or moved to another index
                if known.get(name) != self._entries[name].collection:
                    del self._entries[name]
            return found

    def collection(self, name: str) -> Collection | None:
        """The collection called ``name``, if the configuration declares one."""
        return next((c for c in self.collections() if c.name == name), None)

    # -- access --------------------------------------------------------------------------------
    def groups_of(self, user: str | None) -> tuple[str, ...]:
        """The groups of ``user``."""
        if user is None:
            return ()
        with self._lock:
            given = self._header_groups.get(user)
        if given is not None:
            return given
        if self.book is not None and self.book.exists(user):
            return self.book.groups(user)
        if self.oauth is not None:
            return self.oauth.domain_groups(user) or ()
        return ()

    def can_see(self, user: str | None, collection: Collection) -> bool:
        """Whether ``user`` may see ``collection`` (anyone may when there are no accounts)."""
        if not self.login_required:
            return True
        if user is None:
            return False
        groups = self.groups_of(user)
        return ADMIN_GROUP in groups or bool(set(groups) & set(collection.groups))

    def may_pick_llm(self, user: str | None, spec: str) -> bool:
        """Whether ``user`` may switch their chat to the LLM ``spec`` (see
        :func:`may_pick_llm`; anyone may when there are no accounts)."""
        return may_pick_llm(spec, admin=not self.login_required
                            or ADMIN_GROUP in self.groups_of(user))

    def visible(self, user: str | None) -> list[Collection]:
        """The collections ``user`` may see, in the file's order."""
        return [c for c in self.collections() if self.can_see(user, c)]

    def profiles(self, user: str | None) -> list[Profile]:
        """What ``user``'s picker lists: their collections, each with its state."""
        return [Profile(c.name, c.description, self.problem_of(c.name))
                for c in self.visible(user)]

    # -- what serves a collection --------------------------------------------------------------
    def entry(self, name: str) -> _Entry | None:
        """The service and app of the collection ``name`` (built on first use)."""
        collection = self.collection(name)
        if collection is None:
            return None
        with self._lock:
            found = self._entries.get(name)
            if found is None:
                found = self._build(collection)
                self._entries[name] = found
            return found

    def service_for(self, user: str | None, name: str | None) -> ChatService:
        """The service of the collection ``name`` for ``user``; ``None`` picks the first one
        they see. Raises :class:`LookupError` (one line for the user) when there is none they
        may see, or it is unavailable."""
        visible = self.visible(user)
        chosen = next((c for c in visible if c.name == name), None) if name else (
            visible[0] if visible else None)
        if chosen is None:
            raise LookupError("no collection of that name for you" if name
                              else "no collection is open to you: ask the organisers")
        problem = self.problem_of(chosen.name)
        if problem:
            raise LookupError(f"the collection {chosen.name} is unavailable: {problem}")
        entry = self.entry(chosen.name)
        assert entry is not None
        return entry.service

    def problem_of(self, name: str) -> str | None:
        """Why the collection ``name`` cannot be served now (``None``: it can). Looked at
        again after :data:`STATUS_SECONDS`."""
        entry = self.entry(name)
        if entry is None:
            return "no such collection"
        now = time.monotonic()
        if now - entry.checked < STATUS_SECONDS:
            return entry.problem
        problem: str | None = None
        try:
            reader = entry.service.open_reader()
            next(iter(reader.media()), None)
        except Exception as exc:  # a missing, half-written or corrupted index: say why
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if problem is None and entry.problem is not None:
            log.info("collection %s is available again", name)
        elif problem is not None and problem != entry.problem:
            log.warning("collection %s is unavailable: %s", name, problem)
        entry.checked, entry.problem = now, problem
        return problem

    def _build(self, collection: Collection) -> _Entry:
        from fastapi import FastAPI

        from assistant.web.server import serve_collection
        from indexing.settings import Settings

        web = replace(self.web, collection=collection.name)
        extensions = self.extensions(collection.name)
        service = ChatService(Settings.from_env(db_dir=Path(collection.path)), self.llm_spec,
                              k=self.k, auth=self.auth, cache=self.cache,
                              max_tokens=self.max_tokens, web=web,
                              commands=[c for e in extensions for c in e.commands])
        app = FastAPI(title=f"DEERIn: {collection.name}", docs_url=None, redoc_url=None,
                      openapi_url=None)
        serve_collection(app, service, self.auth, extensions, self.gate)
        if self.warm_up:
            threading.Thread(target=service.warm_up, name=f"deerin-warm-up-{collection.name}",
                             daemon=True).start()
        return _Entry(collection, service, app)
