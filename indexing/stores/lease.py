"""One writer per object-store index: a lease object, ``<uri>/.writer.lease``.

An object store has no ``flock``. The writer of a remote index holds a *lease*: a small JSON
object naming its owner (a random id, host and pid) and when it expires. A background thread
renews it every third of its term (``DEERIN_LEASE_SECONDS``, default 60 s), so a live writer
keeps it however long a file takes, and a writer killed by ``kill -9`` or a lost machine stops
renewing: its lease expires and the next run takes over. On the same host a lease whose pid is
gone is taken over at once, so a killed local run resumes without waiting.

Taking, renewing and taking over the lease are conditional writes when ``botocore`` is
installed (it comes with ``boto3``, the AWS CLI, moto): ``If-None-Match: *`` creates it only if
there is none, ``If-Match: <etag>`` replaces only the lease that was read, so of two writers
racing for it exactly one wins. pyarrow's filesystem (all DEERIn needs otherwise) has no
conditional PUT: without botocore the lease is written, then read back after a short settle
time, and the writer that does not find its own id gives up. That leaves a window (two checks
within the settle time) where both could start: the rule remains one writer per index, and the
lease makes a second one fail clearly instead of pruning the first one's rows.
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

from config import BY_KEY, Config
from indexing.stores.base import StoreError
from indexing.stores.lease_object import lease_object
from indexing.stores.location import IndexLocation
from indexing.stores.lock import StoreBusy, WriterLock

LEASE_FILE = ".writer.lease"
DEFAULT_TERM_S = float(BY_KEY["storage.lease_seconds"].default)  # type: ignore[arg-type]
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
    writer, :class:`StoreBusy` when it does not finish).

    ``conditional`` forces (True) or refuses (False) conditional writes; by default they are
    used when botocore is installed.
    """

    def __init__(self, location: IndexLocation, wait: float = 0.0,
                 conditional: bool | None = None) -> None:
        self.location = location
        self.wait = wait
        self.term = float(Config.from_env(location.env)["storage.lease_seconds"])
        self.host = socket.gethostname()
        self.owner: dict[str, object] = {"id": uuid.uuid4().hex, "host": self.host,
                                         "pid": os.getpid()}
        self.object = lease_object(location, LEASE_FILE, conditional)
        self._tag: str | None = None  # the version of the lease this writer last wrote
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
            data, tag = self.object.read()
            holder = _parse(data)
            if data is None:
                self._tag = self.object.create(self._payload())
            elif holder is None or _stale(holder, self.host):
                self._tag = self.object.replace(self._payload(), tag)
            else:
                self._tag = None
            if self._tag is not None and not self.object.atomic:
                time.sleep(_SETTLE_S)  # a racing writer's PUT lands by now: the last one wins
                holder = _parse(self.object.read()[0])
                if holder is None or holder.get("id") != self.owner["id"]:
                    self._tag = None
            if self._tag is not None:
                break
            if time.monotonic() >= deadline:
                holder = _parse(self.object.read()[0]) or holder
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
        holder = _parse(self.object.read()[0])
        if holder is not None and holder.get("id") == self.owner["id"]:
            self.object.delete()
        if self.lost:
            raise StoreError(self.lost)

    @property
    def held(self) -> bool:
        """Whether this object holds the lease now."""
        return self._depth > 0

    def _payload(self) -> bytes:
        return json.dumps(dict(self.owner, expires=time.time() + self.term)).encode()

    def _renew(self) -> None:
        while not self._stop.wait(self.term / 3):
            try:
                if self.object.atomic:
                    tag = self.object.replace(self._payload(), self._tag)
                else:
                    holder = _parse(self.object.read()[0])
                    mine = holder is not None and holder.get("id") == self.owner["id"]
                    tag = self.object.replace(self._payload(), None) if mine else None
            except StoreError:
                continue  # a failed renewal is retried; the term leaves two more tries
            if tag is None:
                holder = _parse(self.object.read()[0]) or {}
                self.lost = (f"the writer lease of {self.location} was taken by pid "
                             f"{holder.get('pid')} on {holder.get('host')} while this run "
                             "wrote (it stalled longer than the lease term)")
                return
            self._tag = tag

    def __enter__(self) -> ObjectLease:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _parse(data: bytes | None) -> dict[str, object] | None:
    """A lease's fields; None for none, or for garbage (free to take: PUTs are atomic, so a
    torn lease cannot exist)."""
    if data is None:
        return None
    try:
        lease = json.loads(data)
    except ValueError:
        return None
    return lease if isinstance(lease, dict) else None


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
