"""Helpers of the ``deerin serve`` tests: two small real indexes, a deployment's files (three
collections, three accounts), and the server in a subprocess."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.chat import _OFFLINE, DEERIN, ChatServer, free_port

PASSWORDS = {"anna": "anna's long password", "ben": "ben:colon password", "root": "root pw"}
GROUPS = {"anna": "filmarchiv", "ben": "tv", "root": "admin"}


@dataclass(frozen=True)
class Workshop:
    """A deployment's files: the configuration, the users file, and the two indexes."""

    config: Path
    users: Path
    index_a: Path
    index_b: Path
    broken: Path


def build_index(db: Path, media: Path) -> Path:
    """A real index of ``media`` (no on-screen text or faces: nothing to find in these)."""
    from indexing.pipeline import Indexer
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    if not (db / "deerin.json").exists():
        settings = Settings.from_env({}, db_dir=db, ocr=False, faces=False)
        report = Indexer(LanceStore(db), settings).index([media])
        assert not report.failures, report.failures
    return db


def workshop(base: Path, media_dir: Path) -> Workshop:
    """Collections ``a`` (a speech, group filmarchiv), ``b`` (a film clip with a keyframe,
    group tv) and ``broken`` (an index whose metadata is garbage, group filmarchiv); accounts
    anna (filmarchiv), ben (tv) and root (admin), added with `deerin users add`."""
    from assistant.web.users import set_user

    index_a = build_index(base / "index-a", media_dir / "mdn_bear_transcript_demo.mp3")
    index_b = build_index(base / "index-b", media_dir / "his_girl_friday_1940_clip.mp4")
    broken = base / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "deerin.json").write_text("not json")
    config = base / "deerin.toml"
    config.write_text(
        "# the workshop\n"
        f'[collections.a]\npath = "{index_a}"\ndescription = "Archive A: a speech"\n'
        'groups = ["filmarchiv"]\n\n'
        f'[collections.b]\npath = "{index_b}"\ndescription = "Archive B: a film"\n'
        'groups = ["tv"]\n\n'
        f'[collections.broken]\npath = "{broken}"\ngroups = ["filmarchiv"]\n')
    users = base / "users.toml"
    if not users.exists():
        for name, password in PASSWORDS.items():
            set_user(users, name, password, [GROUPS[name]])
    return Workshop(config, users, index_a, index_b, broken)


def start_serve(shop: Workshop, workdir: Path, *, extra_env: dict[str, str] | None = None,
                args: tuple[str, ...] = ()) -> ChatServer:
    """Start `deerin serve` over ``shop`` on a free port (call ``wait_ready`` next)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEERIN_", "CHAINLIT_"))}
    env.update(XDG_CACHE_HOME=str(workdir / "cache"), PYTHONUNBUFFERED="1",
               DEERIN_CONFIG=str(shop.config), DEERIN_USERS_FILE=str(shop.users), **_OFFLINE)
    env.update(extra_env or {})
    log = workdir / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(DEERIN), "serve", "--port", str(port), *args], cwd=workdir,
                                env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    return ChatServer(f"http://127.0.0.1:{port}", proc, workdir, log)


@dataclass
class Reply:
    """What one question got: the answer's step id and text, its players, its actions, and
    seconds from asking to the retrieved clips (the first thing shown) and to the answer."""

    id: str = ""
    text: str = ""
    players: list[str] | None = None
    actions: list[dict[str, object]] | None = None
    first_clips: float | None = None
    latency: float | None = None
    errors: list[str] | None = None
    notes: list[str] | None = None


def login(url: str, user: str) -> str:
    """The Chainlit session token of ``user`` (the cookie the login page sets)."""
    import httpx

    r = httpx.post(f"{url}/login", data={"username": user, "password": PASSWORDS[user]},
                   timeout=120)
    assert r.status_code == 200, r.text
    return str(r.cookies["access_token"])


async def ask_in_chat(url: str, token: str, collection: str, question: str, *,
                      thread_id: str = "", verdict: tuple[str, str] | None = None,
                      timeout: float = 600) -> Reply:
    """One participant's chat: open ``collection`` (its chat profile), ask ``question`` as the
    web client does over socket.io, and, with ``verdict`` (a verdict and the reply to the
    question that follows it), judge the answer through its action button."""
    import asyncio
    import time
    import uuid
    from datetime import UTC, datetime

    import httpx
    import socketio

    out = Reply(players=[], actions=[], errors=[], notes=[])
    client = socketio.AsyncClient(reconnection=False)
    session_id = str(uuid.uuid4())
    began: list[float] = []
    started, done, asked = asyncio.Event(), asyncio.Event(), [0.0]
    judged = asyncio.Event()

    @client.on("task_start")
    async def task_start(*_: object) -> None:
        began.append(time.perf_counter())

    @client.on("task_end")
    async def task_end(*_: object) -> None:
        if began:
            t = began.pop()
            (done if asked[0] and t >= asked[0] else started).set()

    @client.on("new_message")
    async def new_message(step: dict[str, object]) -> None:
        if step.get("isError"):
            out.errors.append(str(step.get("output")))  # type: ignore[union-attr]
        elif step.get("type") == "retrieval" and asked[0] and out.first_clips is None:
            out.first_clips = time.perf_counter() - asked[0]
        elif asked[0] and step.get("type") == "assistant_message":
            text = str(step.get("output") or "")
            if text.startswith("Verdict kept"):
                judged.set()
            elif not out.id or step["id"] == out.id:
                out.id, out.text = str(step["id"]), text
            out.notes.append(text)  # type: ignore[union-attr]

    @client.on("update_message")
    async def update_message(step: dict[str, object]) -> None:
        if step.get("id") == out.id:
            out.text = str(step.get("output") or out.text)

    @client.on("element")
    async def element(el: dict[str, object]) -> None:
        if el.get("type") in {"audio", "video"}:
            out.players.append(str(el.get("url")))  # type: ignore[union-attr]

    @client.on("action")
    async def action(a: dict[str, object]) -> None:
        out.actions.append(a)  # type: ignore[union-attr]

    @client.on("ask")
    async def ask(data: dict[str, object]) -> dict[str, object]:
        assert verdict is not None
        return {"id": str(uuid.uuid4()), "threadId": thread_id, "name": "User",
                "type": "user_message", "output": verdict[1],
                "createdAt": datetime.now(UTC).isoformat()}

    auth = {"clientType": "webapp", "sessionId": session_id, "threadId": thread_id,
            "userEnv": "{}", "chatProfile": collection}
    await client.connect(url, socketio_path="/ws/socket.io", transports=["websocket"],
                         auth=auth, headers={"Cookie": f"access_token={token}"},
                         wait_timeout=60)
    await client.emit("connection_successful")
    try:
        await asyncio.wait_for(started.wait(), 180)
        message = {"id": str(uuid.uuid4()), "threadId": thread_id, "name": "User",
                   "type": "user_message", "output": question,
                   "createdAt": datetime.now(UTC).isoformat()}
        asked[0] = time.perf_counter()
        await client.emit("client_message", {"message": message, "fileReferences": []})
        await asyncio.wait_for(done.wait(), timeout)
        out.latency = time.perf_counter() - asked[0]
        if verdict is not None:
            chosen = next(a for a in out.actions  # type: ignore[union-attr]
                          if a.get("payload", {}).get("verdict") == verdict[0])  # type: ignore
            async with httpx.AsyncClient(base_url=url, timeout=60,
                                         cookies={"access_token": token}) as http:
                r = await http.post("/project/action",
                                    json={"sessionId": session_id, "action": chosen})
                assert r.status_code == 200, r.text
            await asyncio.wait_for(judged.wait(), 120)
    except TimeoutError:
        out.errors.append(f"no answer within {timeout:.0f} s")  # type: ignore[union-attr]
    finally:
        await client.disconnect()
    return out
