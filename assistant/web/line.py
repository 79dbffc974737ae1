"""The line for the language model in ``deerin serve``: first come, first served, with places.

Thirty participants asking at once must all see their clips at once and then wait their turn
for the model, knowing where they stand. :class:`AnswerLine` lets every answer retrieve
straight away (the ``retrieved`` event passes freely) and holds the rest of its stream (the
model's words) until it is at the head of the line and one of ``answering`` places is free;
:meth:`AnswerLine.position` says how many are ahead. Thread-based: answer streams run in worker
threads (:func:`assistant.web.streaming.in_thread`).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")


class Ticket:
    """One answer's place: in line, answering, or given up."""

    __slots__ = ("answering", "cancelled")

    def __init__(self) -> None:
        self.answering = False
        self.cancelled = False


class AnswerLine:
    """At most ``answering`` answers generate at once; the others wait in arrival order."""

    def __init__(self, answering: int) -> None:
        self.answering = max(1, answering)
        self._cond = threading.Condition()
        self._queue: deque[Ticket] = deque()
        self._busy = 0

    def enter(self) -> Ticket:
        """A place at the end of the line."""
        ticket = Ticket()
        with self._cond:
            self._queue.append(ticket)
        return ticket

    def position(self, ticket: Ticket) -> int:
        """``ticket``'s number in line (1: next), 0 when it has a place or is about to."""
        with self._cond:
            if ticket.answering or ticket not in self._queue:
                return 0
            ahead = self._queue.index(ticket)
            if ahead == 0 and self._busy < self.answering:
                return 0
            return ahead + 1

    def waiting(self) -> int:
        """How many answers wait for a place."""
        with self._cond:
            return len(self._queue)

    def wait(self, ticket: Ticket) -> bool:
        """Block until ``ticket`` has a place (``True``) or was cancelled (``False``)."""
        with self._cond:
            while not ticket.cancelled and not (
                    self._queue and self._queue[0] is ticket and self._busy < self.answering):
                self._cond.wait()
            if ticket.cancelled:
                return False
            self._queue.popleft()
            self._busy += 1
            ticket.answering = True
            self._cond.notify_all()  # the next in line may have a place too
            return True

    def leave(self, ticket: Ticket) -> None:
        """Give up ``ticket``'s place, or its spot in line."""
        with self._cond:
            if ticket.answering:
                ticket.answering = False
                self._busy -= 1
            elif ticket in self._queue:
                self._queue.remove(ticket)
            ticket.cancelled = True
            self._cond.notify_all()

    def gated(self, events: Iterator[T], ticket: Ticket, free: int = 1) -> Iterator[T]:
        """``events`` with the first ``free`` passed at once (retrieval) and the rest only once
        ``ticket`` has a place; the place is given back when the stream ends or is dropped."""
        try:
            for _ in range(free):
                try:
                    yield next(events)
                except StopIteration:
                    return
            if not self.wait(ticket):
                return
            yield from events
        finally:
            self.leave(ticket)
            close = getattr(events, "close", None)
            if close is not None:
                close()
