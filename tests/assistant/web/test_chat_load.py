"""Ten chats at once against the real app on loopback, over Chainlit's own socket.io protocol.

Each client does what the browser does: connects to ``/ws/socket.io`` with a session id, says
``connection_successful`` (which starts the chat), sends its question as a ``client_message`` and
waits for the task to end. All ten must be answered — a cited clip with a ``#t=`` player, or the
assistant's refusal — without an error message. p50/p95 latency is printed.

The server is plain ``deerin chat`` with the assistant's defaults (clips per answer, answer
length) and the shipped default tier unless ``DEERIN_LLM`` says otherwise. It shares one embedded
LLM between the sessions, which decodes up to ``DEERIN_LLM_PARALLEL`` (default 4) answers at once
by continuous batching; prompts are still read one after the other, so this is a slow test (run
with ``--slow``).

The load test starts 50 sessions at once against a server bounded with ``--k 2 --max-tokens
24`` (the tiny tier unless ``DEERIN_LLM`` says otherwise: this test is about serving, not
wording, and on two shared cores even the fast tier needs more than 15 minutes for 50 prompts);
each session asks, waits for the whole answer, then streams media
from the app's media route with HTTP Range requests, as a player does. p95 latencies and the
error count are printed, and there must be no error.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

# The same session-wide index and server launcher as the browser test (tests/ is on sys.path).
from tests.support.chat import chat_index, connect_webapp, serving, start_chat

SESSIONS = 10
QUESTIONS = (
    "How many joules are enough to kill you?",
    "What is the conservation of mechanical energy?",
    "What happens when the lecturer releases the pendulum bob?",
    "What is a wrecking ball used for?",
    "What happened to the space shuttle Columbia?",
    "Who were the astronauts of the Columbia crew?",
    "What did the prophet Isaiah say?",
    "Is the lord of the universe in a bad humor?",
    "Who stole the crown jewels?",
    "What does the lecturer do with his chin?",
)
ANSWER_TIMEOUT = 420.0


@dataclass
class Outcome:
    question: str
    latency: float = 0.0
    first_token: float | None = None
    answer: str = ""
    players: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def ask(url: str, question: str, timeout: float = ANSWER_TIMEOUT) -> Outcome:
    """One chat session asking one question, the way the web client does."""
    out = Outcome(question)
    client = socketio.AsyncClient(reconnection=False)
    started = asyncio.Event()
    done = asyncio.Event()
    asked_at = 0.0
    answer_ids: set[str] = set()

    # Chainlit wraps each handler run in task_start/task_end; connecting also sends a bare
    # task_end. A task_end closing a task that began after the question ends the answer.
    task_began_at: list[float] = []

    @client.on("task_start")
    async def task_start(*_: Any) -> None:
        task_began_at.append(time.perf_counter())

    @client.on("task_end")
    async def task_end(*_: Any) -> None:
        if not task_began_at:
            return
        began = task_began_at.pop()
        (done if asked_at and began >= asked_at else started).set()

    @client.on("stream_start")
    async def stream_start(step: dict[str, Any]) -> None:
        if asked_at and out.first_token is None:
            out.first_token = time.perf_counter() - asked_at

    @client.on("new_message")
    async def new_message(step: dict[str, Any]) -> None:
        if step.get("isError"):
            out.errors.append(str(step.get("output")))
        elif asked_at and step.get("type") == "assistant_message":
            answer_ids.add(step["id"])
            out.answer = step.get("output") or ""

    @client.on("element")
    async def element(el: dict[str, Any]) -> None:
        if el.get("type") in {"audio", "video"}:
            out.players.append(str(el.get("url")))

    await connect_webapp(client, url)
    try:
        await asyncio.wait_for(started.wait(), 120)  # on_chat_start has run
        message = {"id": str(uuid.uuid4()), "threadId": "", "name": "User",
                   "type": "user_message", "output": question,
                   "createdAt": datetime.now(UTC).isoformat()}
        asked_at = time.perf_counter()
        await client.emit("client_message", {"message": message, "fileReferences": []})
        await asyncio.wait_for(done.wait(), timeout)
        out.latency = time.perf_counter() - asked_at
    except TimeoutError:
        out.errors.append(f"no answer within {timeout:.0f} s")
    finally:
        await client.disconnect()
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[rank]


@pytest.fixture(scope="module")
def load_url(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Any:
    db = chat_index(tmp_path_factory.getbasetemp(), media_dir)
    server = start_chat(db, tmp_path_factory.mktemp("load-chat"), keep_llm_env=True)
    with serving(server) as url:
        yield url


# Slow: ten LLM answers share one model (four decoded at once, prompts read one at a time:
# minutes on two busy cores). One chat answered end to end with its player is the browser
# test's, in the default suite.
@pytest.mark.slow
def test_ten_concurrent_chats(load_url: str) -> None:
    async def run() -> tuple[list[Outcome], float]:
        t0 = time.perf_counter()
        results = await asyncio.gather(*(ask(load_url, q) for q in QUESTIONS[:SESSIONS]))
        return list(results), time.perf_counter() - t0

    outcomes, wall = asyncio.run(run())
    for o in outcomes:
        first = f"{o.first_token:5.1f}" if o.first_token is not None else "    -"
        print(f"{o.latency:6.1f} s (first token {first} s)  {o.question}  →  "
              f"{o.answer[:90]!r} players={len(o.players)}")
    assert all(not o.errors for o in outcomes), [(o.question, o.errors) for o in outcomes]
    assert all(o.answer for o in outcomes)
    # Every answer that is not a refusal cites a clip that plays from its start.
    from assistant.answer import REFUSAL_TEXT

    for o in outcomes:
        if not o.answer.startswith(REFUSAL_TEXT):
            assert o.players, o
            assert all("/media/" in p and "#t=" in p for p in o.players), o.players
    # Every question is about an indexed file; a server that refuses under load (a refusal is
    # also what an overloaded or broken retrieval looks like) must not pass.
    answered = [o.question for o in outcomes if o.players]
    assert len(answered) >= SESSIONS // 2, [(o.question, o.answer[:80]) for o in outcomes]
    latencies = [o.latency for o in outcomes]
    print(f"\n{SESSIONS} concurrent chats: wall {wall:.1f} s, "
          f"p50 {statistics.median(latencies):.1f} s, p95 {percentile(latencies, 0.95):.1f} s, "
          f"max {max(latencies):.1f} s")


# --- 50 sessions asking and streaming media at once --------------------------------------------

LOAD_SESSIONS = 50
LOAD_TIMEOUT = 1500.0
RANGE = 64 * 1024  # a player's first request; then it seeks and reads a longer stretch


@dataclass
class MediaOutcome:
    latencies: list[float] = field(default_factory=list)  # one per Range request, whole body
    errors: list[str] = field(default_factory=list)


async def stream_media(http: httpx.AsyncClient, url: str, media_path: str) -> MediaOutcome:
    """Play ``media_path`` (``/media/ID``) as a browser's player does: the first bytes, then a
    seek to the middle read to the end of a 256 KiB stretch; every answer must be a 206."""
    out = MediaOutcome()
    begin, length = 0, RANGE
    for _ in range(2):
        headers = {"Range": f"bytes={begin}-{begin + length - 1}"}
        t0 = time.perf_counter()
        try:
            async with http.stream("GET", url + media_path, headers=headers) as r:
                body = 0
                async for chunk in r.aiter_bytes():
                    body += len(chunk)
        except httpx.HTTPError as e:
            out.errors.append(f"{media_path} {headers['Range']}: {type(e).__name__} {e}")
            return out
        if r.status_code != 206 or body == 0 or \
                body != int(r.headers.get("content-length", -1)):
            out.errors.append(f"{media_path} {headers['Range']}: HTTP {r.status_code}, "
                              f"{body} bytes")
            return out
        out.latencies.append(time.perf_counter() - t0)
        size = r.headers.get("content-range", "").rpartition("/")[2]
        begin, length = (int(size) // 2 if size.isdigit() else RANGE), 4 * RANGE
    return out


@pytest.fixture(scope="module")
def load50(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Any:
    """A chat server bounded for many sessions (two clips, 24-token answers) and the media paths
    of its index."""
    from indexing.stores.lance import LanceStore

    db = chat_index(tmp_path_factory.getbasetemp(), media_dir)
    media = [f"/media/{m.media_id}" for m in LanceStore(db, create=False).media()]
    llm = os.environ.get("DEERIN_LLM", "").strip() or "tiny"
    server = start_chat(db, tmp_path_factory.mktemp("load50-chat"), keep_llm_env=True,
                        extra_env={"DEERIN_LLM": llm}, args=("--k", "2", "--max-tokens", "24"))
    with serving(server) as url:
        yield url, media, llm


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_fifty_sessions_ask_and_stream_media(load50: tuple[str, list[str], str]) -> None:
    url, media, llm = load50

    async def session(i: int, http: httpx.AsyncClient) -> tuple[Outcome, MediaOutcome]:
        answer = await ask(url, QUESTIONS[i % len(QUESTIONS)], timeout=LOAD_TIMEOUT)
        # The cited clip's file, as its player loads it; a refusal plays another indexed file.
        paths = sorted({p.split("#", 1)[0] for p in answer.players}) or [media[i % len(media)]]
        played = MediaOutcome()
        for path in paths[:2]:
            part = await stream_media(http, url, path[path.index("/media/"):])
            played.latencies += part.latencies
            played.errors += part.errors
        print(f"session {i:2d}: {answer.latency:6.1f} s, {len(played.latencies)} ranges, "
              f"{len(answer.errors) + len(played.errors)} errors", flush=True)
        return answer, played

    async def run() -> tuple[list[tuple[Outcome, MediaOutcome]], float]:
        t0 = time.perf_counter()
        limits = httpx.Limits(max_connections=LOAD_SESSIONS)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            results = await asyncio.gather(*(session(i, http) for i in range(LOAD_SESSIONS)))
        return list(results), time.perf_counter() - t0

    results, wall = asyncio.run(run())
    answers = [a for a, _ in results]
    errors = [f"{a.question}: {e}" for a in answers for e in a.errors]
    errors += [e for _, m in results for e in m.errors]
    latencies = [a.latency for a in answers if not a.errors]
    firsts = [a.first_token for a in answers if a.first_token is not None]
    media_lat = [t for _, m in results for t in m.latencies]
    print(f"\n{LOAD_SESSIONS} sessions at once (LLM {llm}, 2 clips, 24-token answers): "
          f"wall {wall:.1f} s, {len(errors)} errors")
    if latencies:
        print(f"  answer latency p50 {statistics.median(latencies):.1f} s, "
              f"p95 {percentile(latencies, 0.95):.1f} s, max {max(latencies):.1f} s")
    if firsts:
        print(f"  first token p50 {statistics.median(firsts):.1f} s, "
              f"p95 {percentile(firsts, 0.95):.1f} s")
    if media_lat:
        print(f"  media Range requests: {len(media_lat)}, p50 "
              f"{statistics.median(media_lat) * 1000:.0f} ms, "
              f"p95 {percentile(media_lat, 0.95) * 1000:.0f} ms")
    assert not errors, errors[:10]
    assert all(a.answer for a in answers)
    assert len(media_lat) >= 2 * LOAD_SESSIONS  # every session played media
    # No check of what was answered: the tiny tier's 24-token drafts fail the citation check
    # and its judge, so its sessions end in the refusal (measured: all 50) and play an indexed
    # file instead.
    # What the answers say under load is test_ten_concurrent_chats' business.
