"""Blocking event streams (an answer being written) consumed from the event loop.

The assistant's :meth:`~assistant.answer.Assistant.stream` blocks: it embeds, reranks and waits
for the LLM. :func:`in_thread` runs such a stream in a worker thread that pushes each item into
an asyncio queue, so the chat and the API forward tokens as they are made while the event loop
keeps serving every other request. A leaf of the web package: the Chainlit module and the API
both use it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Final, TypeVar, cast

T = TypeVar("T")


class _Idle:
    """The type of :data:`IDLE`."""

    def __repr__(self) -> str:
        return "IDLE"


IDLE: Final = _Idle()
"""Yielded by :func:`in_thread` when nothing came for ``idle_after`` seconds (a keep-alive)."""
_DONE = object()


async def in_thread(stream: Iterator[T], *, idle_after: float | None = None,
                    name: str = "deerin-answer") -> AsyncIterator[T | _Idle]:
    """Yield the items of the blocking ``stream``, iterated in a worker thread.

    With ``idle_after``, :data:`IDLE` is yielded whenever that many seconds pass without an
    item. An exception of the stream is raised here. When the consumer stops early (a chat
    stopped, a client gone), the worker is told to stop and closes the stream, which releases
    what it holds (llama.cpp keeps a sequence until then).
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def put(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone (server shutting down): nobody is listening
            stop.set()

    def work() -> None:
        try:
            for item in stream:
                if stop.is_set():
                    break
                put(item)
        except BaseException as exc:  # handed to the consumer, which reports it
            put(exc)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
            put(_DONE)

    threading.Thread(target=work, name=name, daemon=True).start()
    getter: asyncio.Future[object] | None = None
    try:
        while True:
            if getter is None:
                getter = asyncio.ensure_future(queue.get())
            # One pending get across waits: a timeout never cancels a get that holds an item.
            done, _ = await asyncio.wait({getter}, timeout=idle_after)
            if not done:
                yield IDLE
                continue
            item = getter.result()
            getter = None
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield cast("T", item)
    finally:
        if getter is not None:
            getter.cancel()
        stop.set()
