"""Answers for the HTTP API: a bounded number at once, streamed from a worker thread, written
as server-sent events.

:class:`AskGate` keeps the machine answerable: at most ``answering`` answers are worked on at
once (the embedded model decodes that many together, see ``llm.parallel``), up to ``waiting``
more wait their turn, and a request beyond that is refused at once with 429 rather than
queued without end. :func:`answer_steps` runs one answer in a worker thread (the blocking model
work never touches the event loop) and yields its steps as they come, with :data:`IDLE`
while nothing happens, so a stream can send keep-alive comments through proxies that drop
silent connections.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.web.streaming import IDLE, in_thread

if TYPE_CHECKING:
    from assistant.answer import Event
    from assistant.web.extensions import ChatHost

log = logging.getLogger("deerin.api")

KEEPALIVE_SECONDS = 10.0
"""Seconds of silence after which a stream sends a keep-alive comment."""
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
"""Headers of every event stream: never cached, never buffered by nginx."""
SSE_MEDIA_TYPE = "text/event-stream"


class AskGate:
    """At most ``answering`` answers at once, ``waiting`` more in line; :meth:`full` says
    whether another would be over the line."""

    def __init__(self, answering: int, waiting: int) -> None:
        self.answering = max(1, answering)
        self.waiting = max(0, waiting)
        self.semaphore = asyncio.Semaphore(self.answering)
        self._count = 0  # answering + waiting; touched only on the event loop

    def full(self) -> bool:
        """Whether a new answer should be refused (429)."""
        return self._count >= self.answering + self.waiting

    @asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        """Count an answer as answering or waiting while inside."""
        self._count += 1
        try:
            yield
        finally:
            self._count -= 1


@dataclass(frozen=True)
class Note:
    """A one-line remark on how the answer was made (a degraded mode)."""

    text: str


def _work(service: ChatHost, question: str, history: Sequence[tuple[str, str]],
          k: int | None) -> Iterator[Event | Note]:
    """The blocking answer: load (once) the shared assistant, then its event stream."""
    assistant, problem = service.assistant(None)
    if problem:
        yield Note(f"the language model is unavailable, so the best passage is quoted: "
                   f"{problem}")
    yield from assistant.stream(question, history, k=k)


async def answer_steps(service: ChatHost, gate: AskGate, question: str,
                       history: Sequence[tuple[str, str]] = (), k: int | None = None
                       ) -> AsyncIterator[Event | Note | object]:
    """The steps of one answer: :class:`Note` s, then the assistant's events (``retrieved``,
    ``token``..., ``answer``), with :data:`IDLE` during silences (also while waiting for a
    turn). Exceptions of the answer are raised here."""
    async with gate.place():
        while True:
            try:
                await asyncio.wait_for(gate.semaphore.acquire(), KEEPALIVE_SECONDS)
                break
            except TimeoutError:
                yield IDLE
        try:
            async for step in in_thread(_work(service, question, history, k),
                                        idle_after=KEEPALIVE_SECONDS, name="deerin-api-answer"):
                yield step
        finally:
            gate.semaphore.release()


def sse(event: str | None, data: object) -> bytes:
    """One server-sent event: ``event:`` (when named) and ``data:`` as one line of JSON."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    lines = ([f"event: {event}"] if event else []) + [f"data: {line}"
                                                       for line in text.splitlines() or [""]]
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def keepalive() -> bytes:
    """A comment line: ignored by every SSE client, it keeps proxies from closing the stream."""
    return b": keep-alive\n\n"


def failure(exc: BaseException) -> tuple[int, str]:
    """The status and one-line message an answer's failure is reported with."""
    from assistant.answer import QuestionError
    from assistant.llm import LLMError
    from indexing.stores.base import StoreError

    if isinstance(exc, QuestionError):
        return 422, str(exc)
    if isinstance(exc, LLMError | StoreError):
        return 503, str(exc)
    log.error("answering failed", exc_info=exc)
    return 500, "the answer failed; the server log has the details"
