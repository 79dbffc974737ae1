"""The plumbing of streamed answers (assistant/web/api_ask.py, assistant/web/streaming.py) and
of API tokens (assistant/web/auth.py): on the real event loop, real threads, real JWTs."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import jwt
import pytest

from assistant.web.api_ask import AskGate, keepalive, sse
from assistant.web.auth import API_AUDIENCE, AuthConfig
from assistant.web.streaming import IDLE, in_thread

SECRET = "k" * 48


async def collect(stream: Iterator[object], idle_after: float | None) -> list[object]:
    return [item async for item in in_thread(stream, idle_after=idle_after)]


def test_a_slow_stream_is_kept_alive_and_loses_nothing() -> None:
    def slow() -> Iterator[int]:
        for i in range(3):
            time.sleep(0.25)
            yield i

    got = asyncio.run(collect(slow(), idle_after=0.1))
    assert [x for x in got if x is not IDLE] == [0, 1, 2]
    assert got.count(IDLE) >= 3  # a tick for every silence of 0.1 s
    assert IDLE not in asyncio.run(collect(slow(), idle_after=None))


def test_a_consumer_that_stops_closes_the_stream() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                time.sleep(0.01)
                yield i
                i += 1
        finally:
            closed.set()  # llama.cpp gives its sequence back here

    async def first_two() -> list[object]:
        out = []
        stream = in_thread(endless())
        async for item in stream:
            out.append(item)
            if len(out) == 2:
                await stream.aclose()
                break
        return out

    assert asyncio.run(first_two()) == [0, 1]
    assert closed.wait(5)


def test_a_failing_stream_raises_in_the_consumer() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise RuntimeError("model crashed")

    with pytest.raises(RuntimeError, match="model crashed"):
        asyncio.run(collect(broken(), idle_after=None))


def test_the_gate_counts_answering_and_waiting() -> None:
    async def run() -> list[bool]:
        gate = AskGate(answering=1, waiting=1)
        seen = [gate.full()]
        async with gate.place():
            seen.append(gate.full())
            async with gate.place():
                seen.append(gate.full())
        seen.append(gate.full())
        return seen

    assert asyncio.run(run()) == [False, False, True, False]


def test_server_sent_events_are_written_to_the_letter() -> None:
    assert sse("token", {"text": "a\nb"}) == b'event: token\ndata: {"text": "a\\nb"}\n\n'
    assert sse(None, "[DONE]") == b"data: [DONE]\n\n"
    assert sse("done", {}) == b"event: done\ndata: {}\n\n"
    assert keepalive().startswith(b":") and keepalive().endswith(b"\n\n")


def test_api_tokens_name_their_account_and_expire() -> None:
    auth = AuthConfig(users=(("alice", "pw"), ("bob", "pw2")), jwt_secret=SECRET)
    token = auth.issue_token("alice", 60)
    assert auth.token_user(token) == "alice"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=API_AUDIENCE)
    assert claims["exp"] - claims["iat"] == 60
    # Chainlit decodes without an audience: an API token is no chat session.
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, SECRET, algorithms=["HS256"])
    assert AuthConfig(users=auth.users, jwt_secret="x" * 48).token_user(token) is None
    expired = jwt.encode({"identifier": "alice", "aud": API_AUDIENCE, "exp": time.time() - 5},
                         SECRET, algorithm="HS256")
    assert auth.token_user(expired) is None
    removed = AuthConfig(users=(("bob", "pw2"),), jwt_secret=SECRET)
    assert removed.token_user(token) is None  # alice was removed from DEERIN_AUTH
    other = jwt.encode({"identifier": "alice", "aud": "someone-else", "exp": time.time() + 60},
                       SECRET, algorithm="HS256")
    assert auth.token_user(other) is None
    with pytest.raises(ValueError, match="CHAINLIT_AUTH_SECRET"):
        AuthConfig(users=auth.users).issue_token("alice", 60)
