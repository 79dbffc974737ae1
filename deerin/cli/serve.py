"""``deerin serve`` and ``deerin users``: the workshop deployment of several collections, and
the accounts that log in to it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from deerin.cli.options import (
    EXIT_USAGE,
    KOption,
    LlmOption,
    MaxTokensOption,
    PortOption,
    command_config,
    err,
    fail,
)


def serve(
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on. Anything but loopback needs accounts "
        "(`deerin users add`).")] = "127.0.0.1",
    port: PortOption = 8000,
    llm: LlmOption = None,
    k: KOption = None,
    max_tokens: MaxTokensOption = None,
) -> None:
    """Serve every collection of the configuration file to its own groups: one chat with a
    picker of the collections each user may see, and their media, API, IIIF and map routes.

    Collections come from `[collections.NAME]` tables (`deerin collections add`), read again
    when the file changes; accounts from the users file (`deerin users add`, setting
    serve.users_file), a proxy's headers (serve.user_header) or Chainlit's OAuth providers
    where their variables are set (serve.oauth_domains). Members of the group `admin` see
    every collection.
    """
    from assistant.llm import LLMUsageError, parse_llm_spec
    from assistant.web.serve import run_serve
    from assistant.web.users import users_path
    from config import user_file
    from deerin.cli.chat import chat_extensions

    command_config()  # the server reads the settings from this process's environment
    try:
        parse_llm_spec(llm)
    except LLMUsageError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    try:
        run_serve(user_file(), users_path(), host=host, port=port, llm=llm, k=k,
                  max_tokens=max_tokens, extensions=chat_extensions)
    except ValueError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc


def users_add(
    name: Annotated[str, typer.Argument(help="The account's name.")],
    groups: Annotated[str, typer.Option(
        "--groups", help="Comma-separated groups (`admin` sees every collection).")] = "",
    no_password: Annotated[bool, typer.Option(
        "--no-password", help="No password: the user logs in by OAuth only (the entry "
        "names their groups).")] = False,
) -> None:
    """Add an account (or set its password and groups): the password is read from standard
    input, one line, and only its argon2 hash is stored."""
    from assistant.web.users import UsersFileError, set_user, users_path

    password: str | None
    if no_password:
        password = None
    elif sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"password for {name}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    path = users_path()
    try:
        existed = set_user(path, name, password,
                           [g.strip() for g in groups.split(",") if g.strip()])
    except UsersFileError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    err().print(f"{'updated' if existed else 'added'} {escape(name)} in {escape(str(path))}")


def users_list() -> None:
    """List the accounts and their groups (never their hashes)."""
    from assistant.web.users import UsersFileError, read_users, users_path

    try:
        found = read_users(users_path())
    except UsersFileError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    for account in found.values():
        print(f"{account.name}\t{','.join(account.groups)}")


def users_remove(name: Annotated[str, typer.Argument(help="The account to remove.")]) -> None:
    """Remove an account: its sessions and tokens are refused from the next request on."""
    from assistant.web.users import UsersFileError, remove_user, users_path

    try:
        remove_user(users_path(), name)
    except UsersFileError as exc:
        raise fail(str(exc)) from exc
    err().print(f"removed {escape(name)}")
