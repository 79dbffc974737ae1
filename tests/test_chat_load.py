"""Ten chats at once against the real app on loopback, over Chainlit's own socket.io protocol.

Each client does what the browser does: connects to ``/ws/socket.io`` with a session id, says
``connection_successful`` (which starts the chat), sends its question as a ``client_message`` and
waits for the task to end. All ten must be answered — a cited clip with a ``#t=`` player, or the
assistant's refusal — without an error message. p50/p95 latency is printed.

The server is plain ``deerin chat`` with the assistant's defaults (clips per answer, answer
length) and the shipped default tier unless ``DEERIN_LLM`` says otherwise. It shares one embedded
LLM between the sessions and llama.cpp generates for one at a time, so answers queue behind
each other, which makes this a slow test (run with ``--slow``). On a slower machine, bound the
run with ``run_chat(..., k=2, max_tokens=48)`` rather than with fewer sessions.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import socketio

# The same session-wide index and server launcher as the browser test (tests/ is on sys.path).
from chat_support import chat_index, connect_webapp, serving, start_chat

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


async def ask(url: str, question: str) -> Outcome:
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
        await asyncio.wait_for(done.wait(), ANSWER_TIMEOUT)
        out.latency = time.perf_counter() - asked_at
    except TimeoutError:
        out.errors.append(f"no answer within {ANSWER_TIMEOUT:.0f} s")
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


# Slow: ten LLM answers queue behind one model (about two minutes on two busy cores). One chat
# answered end to end with its player is the browser test's, in the default suite.
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
