"""What lets many chat sessions rerank at once: a pool of scoring contexts and a shared score
cache that computes each score once.

A llama.cpp context is not reentrant, so one context behind a lock made every session's rerank
wait for the others'. :class:`ContextPool` hands out up to ``size`` contexts, built on demand
(a single user never pays for the second), and :class:`ScoreCache` keeps the scores (a score
depends only on the question and the passage) and lets a session that needs a score another
session is computing wait for it instead of computing it again (many users clicking the same
starter question). Neither knows about llama.cpp: :class:`assistant.rerank.LlamaCppReranker`
puts them together.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")


class ContextPool(Generic[T]):
    """Up to ``size`` objects made by ``factory``, each lent to one thread at a time.

    The first is made now (so a broken factory fails at construction); the others when every
    one made so far is lent out. Thread-safe; :meth:`lend` blocks while ``size`` are lent.
    """

    def __init__(self, factory: Callable[[], T], size: int) -> None:
        if size < 1:
            raise ValueError(f"a context pool needs at least one context, not {size}")
        self.size = size
        self._factory = factory
        self._cond = threading.Condition()
        self._first = factory()
        self._free: list[T] = [self._first]
        self._made = 1
        self.waits = 0  # lends that found every context busy and the pool full (benchmarks)

    @property
    def made(self) -> int:
        """How many contexts exist now."""
        with self._cond:
            return self._made

    def first(self) -> T:
        """The context made at construction, for uses that do not need a context to themselves
        (e.g. tokenizing: the vocabulary is read-only)."""
        return self._first

    @contextmanager
    def lend(self) -> Iterator[T]:
        """A context for the ``with`` block, to this thread alone."""
        item = self._take()
        try:
            yield item
        finally:
            with self._cond:
                self._free.append(item)
                self._cond.notify()

    def _take(self) -> T:
        with self._cond:
            if not self._free and self._made >= self.size:
                self.waits += 1
            while not self._free and self._made >= self.size:
                self._cond.wait()
            if self._free:
                return self._free.pop()
            self._made += 1  # reserved now, made outside the lock (loading takes a moment)
        try:
            return self._factory()
        except BaseException:
            with self._cond:
                self._made -= 1
                self._cond.notify()
            raise


class ScoreCache:
    """Scores by key, least recently used dropped past ``size``; a key being computed by one
    thread is waited for by the others (computed once). Thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._scores: OrderedDict[bytes, float] = OrderedDict()
        self._pending: dict[bytes, threading.Event] = {}
        self.hits = 0
        self.shared = 0  # scores another thread was computing, waited for instead (benchmarks)

    def get(self, key: bytes) -> float | None:
        """The score under ``key`` if it is known now (never waits)."""
        with self._lock:
            return self._known(key)

    def _known(self, key: bytes) -> float | None:
        """The stored score under ``key``, counted as a hit (call with the lock held)."""
        score = self._scores.get(key)
        if score is not None:
            self._scores.move_to_end(key)
            self.hits += 1
        return score

    def get_or_compute(self, key: bytes, compute: Callable[[], float]) -> float:
        """The score under ``key``, computing it with ``compute`` when no thread has it or is
        computing it. When the computing thread fails, a waiting thread computes it itself.
        ``compute`` must not wait for anything another caller may hold (see
        :meth:`assistant.rerank.LlamaCppReranker.likelihood`)."""
        while True:
            with self._lock:
                score = self._known(key)
                if score is not None:
                    return score
                pending = self._pending.get(key)
                if pending is None:
                    done = self._pending[key] = threading.Event()
                    break
                self.shared += 1
            pending.wait()
        try:
            score = compute()
            with self._lock:
                self._scores[key] = score
                while len(self._scores) > self.size:
                    self._scores.popitem(last=False)
            return score
        finally:
            with self._lock:
                del self._pending[key]
            done.set()
