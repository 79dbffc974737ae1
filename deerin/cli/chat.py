"""``deerin chat``: the chat app, with what the layers above the assistant add to it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from deerin.cli.options import (
    EXIT_USAGE,
    DbOption,
    KOption,
    LlmOption,
    MaxTokensOption,
    PortOption,
    command_config,
    fail,
)

if TYPE_CHECKING:
    from assistant.web.extensions import ChatExtension


def chat(
    db: DbOption = None,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on. Anything but loopback needs the setting chat.auth "
        "(DEERIN_AUTH).")] = "127.0.0.1",
    port: PortOption = 8000,
    llm: LlmOption = None,
    k: KOption = None,
    max_tokens: MaxTokensOption = None,
) -> None:
    """Chat with the footage in a browser: answers cite clips that play at the cited second.

    Accounts come from the setting chat.auth (DEERIN_AUTH="user:password[,user2:password2]");
    llm.parallel sets how many sessions the embedded model answers at once (default 4) and
    llm.rerank_contexts how many rerank at once (default 2). See `deerin config show`.
    """
    from assistant.llm import LLMUsageError, parse_llm_spec
    from assistant.web.server import run_chat

    command_config(db)  # the chat server reads the settings from this process's environment
    try:
        parse_llm_spec(llm)  # a typo in --llm is a usage error before the server starts
    except LLMUsageError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    try:
        run_chat(db, host=host, port=port, llm=llm, k=k, max_tokens=max_tokens,
                 extensions=chat_extensions())
    except ValueError as exc:  # a malformed DEERIN_AUTH or Chainlit configuration
        raise fail(str(exc), EXIT_USAGE) from exc


def chat_extensions(collection: str | None = None) -> list[ChatExtension]:
    """What ``deerin chat`` serves besides the chat and its API: the collection's ``/map``, the
    ``/montage`` command (:mod:`interaction.chat`), the IIIF manifests under ``/iiif``
    (:mod:`interaction.iiif_web`) and ``/compare`` (:mod:`assistant.web.compare`).

    ``collection`` (``deerin serve``) gives the montages a cache folder of its own, so the
    montage route of one collection never serves another's."""
    from assistant.web.compare import CompareCommand
    from assistant.web.extensions import ChatExtension
    from exploration.web import map_router
    from interaction.chat import MontageCommand, default_cache
    from interaction.iiif_web import iiif_router

    montage_command = MontageCommand(default_cache() / "collections" / collection
                                     if collection else None)
    return [ChatExtension(routes=(map_router, montage_command.router, iiif_router),
                          commands=(montage_command,)),
            ChatExtension(commands=(CompareCommand(),))]
