"""How layers above the assistant add pages and chat commands to ``deerin chat``.

The chat app lives in the assistant layer, which never imports the layers above it
(exploration, interaction). They hand the server a :class:`ChatExtension` instead: routes to
mount (behind the chat's login when there is one) and slash commands the chat offers. A leaf
module: the server, the service and the Chainlit module all import it, and it imports none of
them at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fastapi import APIRouter

    from assistant.web.chat_service import ChatService


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


class ChatCommand(Protocol):
    """A slash command of the chat: ``/name argument``."""

    name: str
    description: str

    def run(self, service: ChatService, argument: str) -> CommandReply:
        """Answer ``argument`` (blocking: the chat calls it in a worker thread)."""
        ...


@dataclass(frozen=True)
class ChatExtension:
    """Routes (each built from the shared service) and commands added to the chat app."""

    routes: Sequence[Callable[[ChatService], APIRouter]] = ()
    commands: Sequence[ChatCommand] = field(default_factory=tuple)
