"""One writer per object-store index: a lease object, ``<uri>/.writer.lease``.

An object store has no ``flock``. The writer of a remote index holds a *lease*: a small JSON
object naming its owner (a random id, host and pid) and when it expires. A background thread
renews it every third of its term (``DEERIN_LEASE_SECONDS``, default 60 s), so a live writer
keeps it however long a file takes, and a writer killed by ``kill -9`` or a lost machine stops
renewing: its lease expires and the next run takes over. On the same host a lease whose pid is
gone is taken over at once, so a killed local run resumes without waiting.

The lease is taken by *write, then read back after a short settle time*: S3 reads after a
write are strongly consistent, so of two writers racing for a free lease the later write wins
and the other sees a foreign owner and gives up. pyarrow's filesystem has no conditional PUT
(``If-None-Match``), so two writers whose checks fall within the same settle time could still
both start: the rule remains one writer per index, and the lease makes a second one fail
clearly instead of pruning the first one's rows.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType

from indexing.stores.base import StoreError
from indexing.stores.location import IndexLocation
from indexing.stores.lock import StoreBusy, WriterLock

LEASE_FILE = ".writer.lease"
DEFAULT_TERM_S = 60.0
_SETTLE_S = 0.5  # between writing the lease and reading it back
_POLL_S = 1.0


def writer_lock(db: Path | IndexLocation, wait: float = 0.0) -> WriterLock | ObjectLease:
    """The writer lock for the index at ``db``: a ``flock`` for a local folder, a lease for an
    object store."""
    location = IndexLocation.parse(db)
    if location.remote:
        return ObjectLease(location, wait)
    return WriterLock(location.local_dir, wait)


class ObjectLease:
    """An exclusive writer lease on a remote index; the same interface as
    :class:`~indexing.stores.lock.WriterLock` (re-entrant, ``wait`` seconds for another
    writer, :class:`StoreBusy` when it does not finish)."""

    def __init__(self, location: IndexLocation, wait: float = 0.0) -> None:
        self.location = location
        self.wait = wait
        self.term = float(location.env.get("DEERIN_LEASE_SECONDS") or DEFAULT_TERM_S)
        self.host = socket.gethostname()
        self.owner: dict[str, object] = {"id": uuid.uuid4().hex, "host": self.host,
                                         "pid": os.getpid()}
        self._depth = 0
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.lost: str | None = None  # why the renewer found the lease taken, if it did

    def acquire(self) -> None:
        """Take the lease, waiting up to ``self.wait`` seconds; raise :class:`StoreBusy`."""
        if self._depth:
            self._depth += 1
            return
        deadline = time.monotonic() + max(self.wait, 0.0)
        while True:
            holder = self._holder()
            if holder is None or _stale(holder, self.host):
                self._write()
                time.sleep(_SETTLE_S)
                holder = self._holder()
                if holder is not None and holder.get("id") == self.owner["id"]:
                    break
            if time.monotonic() >= deadline:
                who = f"(pid {holder.get('pid')} on {holder.get('host')}) " if holder else ""
                raise StoreBusy(f"another `deerin index` {who}is writing to {self.location} "
                                "(it holds the writer lease); wait for it or pass --wait SECONDS")
            time.sleep(_POLL_S)
        self._depth = 1
        self.lost = None
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew, name="deerin-lease", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        """Give the lease back (the outermost release deletes it)."""
        if not self._depth:
            return
        self._depth -= 1
        if self._depth:
            return
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
            self._renewer = None
        holder = self._holder()
        if holder is not None and holder.get("id") == self.owner["id"]:
            self.location.delete(LEASE_FILE)
        if self.lost:
            raise StoreError(self.lost)

    @property
    def held(self) -> bool:
        """Whether this object holds the lease now."""
        return self._depth > 0

    def _holder(self) -> dict[str, object] | None:
        text = self.location.read_text(LEASE_FILE)
        if text is None:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None  # a torn lease cannot exist (PUTs are atomic); garbage is free to take
        return data if isinstance(data, dict) else None

    def _write(self) -> None:
        lease = dict(self.owner, expires=time.time() + self.term)
        self.location.write_text(LEASE_FILE, json.dumps(lease))

    def _renew(self) -> None:
        while not self._stop.wait(self.term / 3):
            try:
                holder = self._holder()
                if holder is not None and holder.get("id") != self.owner["id"]:
                    self.lost = (f"the writer lease of {self.location} was taken by pid "
                                 f"{holder.get('pid')} on {holder.get('host')} while this run "
                                 "wrote (it stalled longer than the lease term)")
                    return
                self._write()
            except StoreError:
                continue  # a failed renewal is retried; the term leaves two more tries

    def __enter__(self) -> ObjectLease:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _stale(lease: dict[str, object], host: str) -> bool:
    """Whether ``lease`` may be taken over: expired, or held by a dead process on this host."""
    try:
        if float(str(lease.get("expires"))) < time.time():
            return True
    except ValueError:
        return True
    pid = lease.get("pid")
    if lease.get("host") == host and isinstance(pid, int):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False
