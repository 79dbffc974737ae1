"""Fixtures of the web tests: the API servers, started once for the modules that speak to them.

Two `deerin chat` processes over the session's chat index (see :mod:`tests.support.chat`): an
open one answering with the shipped `fast` tier, and one with an account answering with `tiny`
(only who may ask is tested there). Both are stopped when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import PASSWORD, SECRET, USER
from tests.support.chat import ChatServer, chat_index, serving_all, start_chat
from tests.support.serve import Workshop, workshop


@pytest.fixture(scope="session")
def api_index(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Path:
    return chat_index(tmp_path_factory.getbasetemp(), media_dir)


@pytest.fixture(scope="session")
def api_servers(api_index: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[ChatServer, ChatServer]]:
    base = tmp_path_factory.mktemp("api-servers")
    open_server = start_chat(api_index, base / "open", args=("--llm", "fast"))
    guarded = start_chat(api_index, base / "guarded", auth=f"{USER}:{PASSWORD}",
                         extra_env={"CHAINLIT_AUTH_SECRET": SECRET}, args=("--llm", "tiny"))
    with serving_all(open_server, guarded):
        yield open_server, guarded


@pytest.fixture(scope="session")
def api(api_servers: tuple[ChatServer, ChatServer]) -> Iterator[httpx.Client]:
    """A client of the open server."""
    with httpx.Client(base_url=api_servers[0].url, timeout=300) as client:
        yield client


@pytest.fixture(scope="session")
def guarded_api(api_servers: tuple[ChatServer, ChatServer]) -> Iterator[httpx.Client]:
    """A client of the server with an account (sends no credentials by itself)."""
    with httpx.Client(base_url=api_servers[1].url, timeout=300) as client:
        yield client


@pytest.fixture(scope="session")
def workshop_files(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Workshop:
    """The files of a `deerin serve` deployment (three collections, three accounts; the two
    indexes built once per session)."""
    return workshop(tmp_path_factory.mktemp("workshop"), media_dir)
