"""One writer per index: an exclusive ``flock`` on ``<db>/.writer.lock``.

Two runs writing to one index would each take the other's half-written rows for orphans and
delete them, so every writer (``deerin index``, ``deerin remove``, :meth:`Indexer.index`) holds
this lock for its whole run. Readers (search, chat) never take it: LanceDB readers see the last
committed version of each table. The kernel releases a ``flock`` when its holder dies, even by
``kill -9``, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from indexing.stores.base import StoreError

LOCK_FILE = ".writer.lock"
_POLL_S = 0.2


class StoreBusy(StoreError):
    """Another process is writing to the index."""


class WriterLock:
    """An exclusive, process-wide writer lock on an index directory.

    Re-entrant within one object (a nested ``with`` is a no-op), so a command that holds it can
    call code that takes it again. ``wait`` is how many seconds to wait for another writer to
    finish; 0 fails at once.
    """

    def __init__(self, db_dir: Path, wait: float = 0.0) -> None:
        self.path = Path(db_dir) / LOCK_FILE
        self.wait = wait
        self._fd: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        """Take the lock, waiting up to ``self.wait`` seconds; raise :class:`StoreBusy`."""
        if self._depth:
            self._depth += 1
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(self.wait, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(fd)
                    os.close(fd)
                    who = f"(pid {holder}) " if holder else ""
                    raise StoreBusy(
                        f"another `deerin index` {who}is writing to {self.path.parent}; "
                        "wait for it or pass --wait SECONDS") from None
                time.sleep(_POLL_S)
        # The pid is only for the message a waiting writer prints; the lock is the flock itself.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        self._depth = 1

    def release(self) -> None:
        """Give the lock back (the outermost release unlocks)."""
        if not self._depth:
            return
        self._depth -= 1
        if self._depth or self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._depth > 0

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _holder(fd: int) -> int | None:
    """The pid the current holder wrote into the lock file, if readable."""
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
