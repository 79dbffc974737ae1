"""Where the chat's shared service is kept between the server and the Chainlit module.

Chainlit loads the chat module from a file path, so the server cannot hand it arguments; the
server puts the :class:`~assistant.web.chat_service.ChatService` on the state of Chainlit's own
FastAPI app and the module reads it back from there. Both sides import this leaf module and
nothing of each other, so neither import order nor a second load of either can form a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from assistant.web.auth import AuthConfig
    from assistant.web.chat_service import ChatService
    from assistant.web.line import AnswerLine

STATE_KEY = "deerin"
DIRECTORY_KEY = "deerin_collections"


class ProfileView(Protocol):
    """A collection as the chat's picker lists it."""

    name: str
    description: str
    problem: str | None


class ServiceDirectory(Protocol):
    """What ``deerin serve`` puts on the state instead of one service: the collections, each a
    service of its own, and who may see which (see :mod:`assistant.web.deployment`)."""

    auth: AuthConfig
    database_url: str | None  # where threads, answers and verdicts are kept
    line: AnswerLine  # the line for the model, shared by every collection

    @property
    def login_required(self) -> bool:
        """Whether users log in."""
        ...

    def from_headers(self, headers: Any) -> str | None:
        """The user a trusted proxy's headers name (single sign-on), else ``None``."""
        ...

    def from_oauth(self, provider: str, raw: Any, identifier: str) -> str | None:
        """The user an OAuth provider's identity is, else ``None`` (refused)."""
        ...

    def profiles(self, user: str | None) -> list[Any]:
        """The collections ``user`` may pick (:class:`ProfileView` each)."""
        ...

    def service_for(self, user: str | None, name: str | None) -> ChatService:
        """The service of the collection ``name`` for ``user``; raise :class:`LookupError`
        with a line for the user when there is none they may use."""
        ...

    def may_pick_llm(self, user: str | None, spec: str) -> bool:
        """Whether ``user`` may switch their chat to the LLM ``spec``."""
        ...


def put_service(app_state: Any, service: ChatService) -> None:
    """Keep ``service`` on ``app_state`` (a Starlette ``app.state``) for the chat module."""
    setattr(app_state, STATE_KEY, service)


def service_from(app_state: Any) -> ChatService:
    """The service the server put on ``app_state``.

    Raises :class:`RuntimeError` when there is none: the chat module was started some other way
    than ``deerin chat`` (``chainlit run``), which serves no media routes for its players.
    """
    from assistant.web.chat_service import ChatService

    service = getattr(app_state, STATE_KEY, None)
    if not isinstance(service, ChatService):
        raise RuntimeError("start the chat with `deerin chat`, not `chainlit run`: the media "
                           "routes the players need are served by DEERIn's own app")
    return service


def put_directory(app_state: Any, directory: ServiceDirectory) -> None:
    """Keep the collections of ``deerin serve`` on ``app_state`` for the chat module."""
    setattr(app_state, DIRECTORY_KEY, directory)


def directory_from(app_state: Any) -> ServiceDirectory | None:
    """The collections ``deerin serve`` put on ``app_state``; ``None`` under ``deerin chat``."""
    return getattr(app_state, DIRECTORY_KEY, None)
