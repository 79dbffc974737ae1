"""How layers above the assistant add pages and chat commands to ``deerin chat``.

The chat app lives in the assistant layer, which never imports the layers above it
(exploration, interaction). They hand the server a :class:`ChatExtension` instead: routes to
mount (behind the chat's login when there is one) and slash commands the chat offers. Both are
given the chat's :class:`ChatHost`: what they may ask of the running chat. A leaf module: the
server, the service and the Chainlit module all import it, and it imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fastapi import APIRouter

    from assistant.answer import Assistant
    from assistant.retrieval import Retriever
    from assistant.web.settings import WebSettings
    from assistant.web.snapshot import IndexSnapshot
    from indexing.settings import Settings
    from indexing.stores.base import ClipReader
    from indexing.types import Clip


@dataclass(frozen=True, slots=True)
class Player:
    """A player a command's reply shows: ``url`` is served by the chat app (never a file
    path), ``audio`` picks an audio player, ``poster`` is an optional image URL."""

    name: str
    url: str
    audio: bool = False
    poster: str | None = None


@dataclass(frozen=True, slots=True)
class CommandReply:
    """What a chat command answers: Markdown text and players."""

    text: str
    players: tuple[Player, ...] = ()
    # A comparison (`/compare`): the question and each side's configuration, which a
    # workshop keeps with the preference participants give.
    question: str = ""
    sides: tuple[str, ...] = ()


class ChatHost(Protocol):
    """What the running chat offers its commands and routes (the chat service implements it):
    the index it serves, the URLs its players load, and its assistants."""

    settings: Settings
    web: WebSettings  # the collection's name in URLs, the public address, CORS origins

    @property
    def db_dir(self) -> Path:
        """Where the index lives."""
        ...

    def snapshot(self) -> IndexSnapshot:
        """The collection as it is now (read afresh)."""
        ...

    def open_reader(self) -> ClipReader:
        """A reader of the index as it is now, opened afresh; raise
        :class:`~indexing.stores.base.StoreError` when there is no index."""
        ...

    def reader(self) -> ClipReader:
        """The shared reader of the current index (cheap: not reopened); raise
        :class:`~indexing.stores.base.StoreError` when there is no index."""
        ...

    def retriever(self) -> Retriever:
        """The shared retriever over the current index (loads the embedder once); raise
        :class:`~indexing.stores.base.StoreError` when there is no index."""
        ...

    def media_url(self, clip: Clip, *, start: float | None = None,
                  end: float | None = None) -> str:
        """Where a player loads ``clip`` (``start``/``end`` narrow its span)."""
        ...

    def keyframe_url_of(self, keyframe: str | None) -> str | None:
        """The URL of a keyframe file recorded in the index, if the chat serves it."""
        ...

    def is_audio_only(self, clip: Clip) -> bool:
        """Whether ``clip`` comes from a file without a picture."""
        ...

    def assistant(self, llm_spec: str | None = None) -> tuple[Assistant, str | None]:
        """The shared assistant for ``llm_spec`` and, when its LLM cannot be used, why."""
        ...


class ChatCommand(Protocol):
    """A slash command of the chat: ``/name argument``."""

    name: str
    description: str

    def run(self, service: ChatHost, argument: str) -> CommandReply:
        """Answer ``argument`` (blocking: the chat calls it in a worker thread)."""
        ...


@dataclass(frozen=True)
class ChatExtension:
    """Routes (each built from the shared service) and commands added to the chat app."""

    routes: Sequence[Callable[[ChatHost], APIRouter]] = ()
    commands: Sequence[ChatCommand] = field(default_factory=tuple)
