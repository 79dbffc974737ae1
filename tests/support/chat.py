"""Helpers shared by the chat tests: `deerin chat` in a subprocess, the session's chat index,
free loopback ports and Chainlit's web-client handshake."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

DEERIN = Path(sys.executable).with_name("deerin")
# The index the browser and load tests share: a lecture, a speech and a subtitled film clip.
CHAT_INDEXED = ("lewin_physicsworks_lecture_audio.webm", "gwb_columbia_address_2003.ogg",
                "his_girl_friday_1940_clip.mp4")
_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
# Debian's chromium, driven by Playwright (`playwright install` cannot download browsers here).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def connect_webapp(client: Any, url: str) -> None:
    """Connect a socketio.AsyncClient to a Chainlit app as its web client does, and start the
    chat (``connection_successful`` runs ``on_chat_start``)."""
    auth = {"clientType": "webapp", "sessionId": str(uuid.uuid4()), "threadId": "",
            "userEnv": "{}", "chatProfile": ""}
    await client.connect(url, socketio_path="/ws/socket.io", transports=["websocket"],
                         auth=auth, wait_timeout=30)
    await client.emit("connection_successful")


def chat_index(base: Path, media_dir: Path) -> Path:
    """The session's index of :data:`CHAT_INDEXED`, built by `deerin index` on first use.

    Kept under pytest's session temp folder (``base``) so every chat test shares one build.
    """
    db = base / "chat-index"
    done = base / "chat-index.done"
    if not done.exists():
        run = subprocess.run([str(DEERIN), "index", *(str(media_dir / n) for n in CHAT_INDEXED),
                              "--db", str(db)], cwd=base, env={**os.environ, **_OFFLINE},
                             capture_output=True, text=True, timeout=1200)
        if run.returncode != 0:
            pytest.fail(f"deerin index failed ({run.returncode}):\n{run.stderr[-3000:]}")
        done.touch()
    return db


@dataclass
class ChatServer:
    """A running `deerin chat` process, its URL, working folder and log."""

    url: str
    proc: subprocess.Popen[str]
    cwd: Path
    log: Path

    def output(self) -> str:
        """Everything the server printed so far."""
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Block until ``/health`` answers 200; fail the test if the server exits or hangs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"deerin chat exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        pytest.fail(f"deerin chat did not answer within {timeout:.0f} s:\n{self.output()}")

    def stop(self) -> None:
        """Terminate the server's process group (SIGTERM, then SIGKILL after 20 s)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


@contextmanager
def serving(server: ChatServer) -> Iterator[str]:
    """Wait until ``server`` answers, yield its URL, then stop it and print its last output
    (what a failing test needs to see)."""
    try:
        server.wait_ready()
        yield server.url
    finally:
        server.stop()
        print(server.output()[-3000:])


@contextmanager
def serving_all(*servers: ChatServer) -> Iterator[tuple[ChatServer, ...]]:
    """Wait until every one of ``servers`` (started together, so they boot together) answers,
    yield them, then stop them all and print their last output."""
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            print(server.output()[-2000:])


def start_chat(db: Path, workdir: Path, *, auth: str | None = None, host: str = "127.0.0.1",
               keep_llm_env: bool = False, extra_env: dict[str, str] | None = None,
               args: tuple[str, ...] = ()) -> ChatServer:
    """Start `deerin chat` over ``db`` on a free port, with its cwd and caches in ``workdir``.

    The caller's ``DEERIN_AUTH``/``CHAINLIT_*`` never leak in; ``auth`` sets the accounts.
    ``DEERIN_LLM`` is kept only with ``keep_llm_env`` (tests that answer with the configured
    model), so HTTP-only tests never try to reach an Ollama server. ``args`` are more `deerin
    chat` options (``--k``, ``--max-tokens``). Returns at once: call
    :meth:`ChatServer.wait_ready` (starting several servers first lets them boot together).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    dropped = {"DEERIN_AUTH", "CHAINLIT_AUTH_SECRET", "CHAINLIT_APP_ROOT"}
    if not keep_llm_env:
        dropped.add("DEERIN_LLM")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(XDG_CACHE_HOME=str(workdir / "cache"), PYTHONUNBUFFERED="1", **_OFFLINE)
    if auth:
        env["DEERIN_AUTH"] = auth
    env.update(extra_env or {})
    log = workdir / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(DEERIN), "chat", "--db", str(db), "--host", host, "--port", str(port), *args],
            cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
    shown = "127.0.0.1" if host == "0.0.0.0" else host
    return ChatServer(f"http://{shown}:{port}", proc, workdir, log)
