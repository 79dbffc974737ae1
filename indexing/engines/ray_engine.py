"""The Ray engine: the per-file model work in Ray actors, the store writes in the driver.

The driver screens every file first (unchanged ones are skipped before any actor starts, so
a re-run loads no model), then keeps one file in flight per actor. Each actor builds its models
once (:class:`~indexing.filework.FileWork`) and returns a plain
:class:`~indexing.filework.FileOutput` with its keyframes' bytes, so workers need to read the
media but not the index. The driver writes each output as the local engine does (clips and
shots, then the media record last), so the same guarantees hold:

* a worker that dies mid-file (killed, out of memory, crashed) is replaced and the file is
  tried once more; a second death reports the file by name, and the run goes on;
* a driver killed mid-run leaves at most one file's rows without its media record: the next
  run clears them as orphans and redoes that file;
* a file the stages cannot index is reported by name, as with the local engine.

Ray is imported here only, when this engine runs.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from indexing.engines.options import RAY_MISSING, EngineError, check_engine
from indexing.filework import Backends, FileOutput, FileWork
from indexing.machine import kernel_switches
from indexing.pipeline import _FINALIZE_EVERY_S, Indexer, Progress
from indexing.settings import Settings
from indexing.stores.base import ClipStore
from indexing.types import Failure, FileResult, IndexReport

# How many more times a file is tried after the worker running it died.
RETRIES = 1


class FileWorker:
    """One Ray actor's state: the models, loaded once, and a scratch folder for keyframes."""

    def __init__(self, settings: Settings, built_with: str | None) -> None:
        # As the deerin entry point does: no tqdm bars from model loaders, and idle OpenMP
        # threads sleep rather than spin (actors share cores with each other and the driver).
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self.work = FileWork(settings, Backends(settings, built_with))
        self.keyframe_dir = Path(tempfile.mkdtemp(prefix="deerin-keyframes-"))

    def run(self, path: str, media_id: str,
            meta: dict[str, Any] | None = None) -> FileOutput | Failure:
        """Run every stage on one file; keyframes travel back in the output."""
        try:
            return self.work.run(Path(path), media_id, self.keyframe_dir, ship_keyframes=True,
                                 meta=meta)
        finally:  # what a failed file left in the scratch folder (a shipped one left nothing)
            for leftover in self.keyframe_dir.glob(f"{media_id}_*"):
                leftover.unlink(missing_ok=True)

    def pid(self) -> int:
        """The worker's process id (tests kill it)."""
        return os.getpid()


@dataclass
class _Task:
    path: Path
    media_id: str
    attempt: int = 0


class RayIndexer(Indexer):
    """Indexes files into one store with the stages running on a Ray cluster.

    ``address``: ``None`` starts (and afterwards stops) a local Ray instance, unless this
    process is already connected to one; ``auto`` joins the cluster started on this machine
    with ``ray start``; ``ray://HOST:PORT`` joins a remote one through Ray Client.
    ``workers``: how many actors (default: one per two CPUs of the cluster).
    """

    def __init__(self, store: ClipStore, settings: Settings, *, progress: Progress | None = None,
                 address: str | None = None, workers: int | None = None) -> None:
        super().__init__(store, settings, progress=progress)
        check_engine("ray", address, workers)
        self.address = address
        self.workers = workers
        self.actors: list[Any] = []  # the live actors of the current run (tests kill one)
        self.spawned = 0  # actors started by the last run (0: it had no model work)
        self.replaced = 0  # actors that died during the last run and were replaced

    def index(self, paths: Iterable[Path], *, prune: bool = False,
              wait: float = 0.0) -> IndexReport:
        """Index every media file under ``paths`` on the cluster; see :meth:`Indexer.index`."""
        self.spawned = self.replaced = 0
        with self.store.writing(wait):
            files, failures = self.begin(paths)
            results: list[FileResult] = []
            todo: list[_Task] = []
            for path in files:
                need = self.screen(path)
                if isinstance(need, str):
                    todo.append(_Task(path, need))
                else:
                    self.collect(need, results, failures)
            if todo:
                with _connected(self.address) as ray:
                    self._run(ray, todo, results, failures)
            order = {p: i for i, p in enumerate(files)}
            results.sort(key=lambda r: order.get(r.path, len(order)))
            return self.end(results, failures, prune=prune)

    def _run(self, ray: Any, todo: list[_Task], results: list[FileResult],
             failures: list[Failure]) -> None:
        cpus, count = _shape(ray, self.workers, len(todo))
        settings = replace(self.settings, threads=cpus)
        built_with = self.backends.built_with
        actor_class = ray.remote(num_cpus=cpus, max_restarts=0)(FileWorker)

        def spawn() -> Any:
            return actor_class.remote(settings, built_with)

        self.actors = [spawn() for _ in range(count)]
        self.spawned, self.replaced = count, 0
        queue = deque(todo)
        idle = list(self.actors)
        running: dict[Any, tuple[_Task, Any]] = {}
        last_finalize = time.monotonic()
        try:
            while queue or running:
                while queue and idle:
                    task, actor = queue.popleft(), idle.pop()
                    meta = self.meta_of(task.media_id, task.path)
                    running[actor.run.remote(str(task.path), task.media_id, meta)] = (task, actor)
                done, _ = ray.wait(list(running), num_returns=1)
                task, actor = running.pop(done[0])
                output: FileOutput | Failure | None
                try:
                    output = ray.get(done[0])
                except ray.exceptions.RayActorError as exc:
                    actor = self._replace(ray, actor, spawn)
                    output = None
                    if task.attempt < RETRIES:
                        queue.appendleft(replace(task, attempt=task.attempt + 1))
                    else:
                        output = Failure(task.path, "worker died on this file "
                                         f"{task.attempt + 1} times: {_first_line(exc)}", "worker")
                except ray.exceptions.RayError as exc:  # e.g. an output that cannot travel
                    output = Failure(task.path, f"worker error: {_first_line(exc)}", "worker")
                idle.append(actor)
                if output is not None:
                    duration = output.media.duration if isinstance(output, FileOutput) else 0.0
                    self.progress.file_started(task.path, duration)
                    self.collect(self.commit(task.path, output), results, failures)
                if time.monotonic() - last_finalize > _FINALIZE_EVERY_S:
                    self.store.finalize()  # a no-op unless rows changed
                    last_finalize = time.monotonic()
        finally:
            for actor in self.actors:
                ray.kill(actor)
            self.actors = []

    def _replace(self, ray: Any, dead: Any, spawn: Any) -> Any:
        ray.kill(dead)  # in case it only looks dead (unreachable node): never two on one file
        fresh = spawn()
        self.actors = [fresh if a is dead else a for a in self.actors]
        self.spawned += 1
        self.replaced += 1
        return fresh


def _shape(ray: Any, workers: int | None, files: int) -> tuple[int, int]:
    """CPUs per actor and how many actors: the cluster's CPUs shared out, no actor larger than
    the largest node (it could never be placed), no more actors than files."""
    total = int(ray.cluster_resources().get("CPU", 1))
    largest = max((int(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes()
                   if n.get("Alive")), default=1)
    count = workers or max(1, total // 2)
    cpus = max(1, min(total // count, largest))
    return cpus, max(1, min(count, files))


class _connected:
    """``with _connected(address) as ray``: the ray module, connected to a cluster; a
    connection opened here is closed on exit (which stops a local instance started here)."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self._opened = False

    def __enter__(self) -> Any:
        try:
            import ray
        except ImportError as exc:
            raise EngineError(RAY_MISSING) from exc
        if not ray.is_initialized():
            try:
                with warnings.catch_warnings():
                    # Starting a local instance forks this process, which has LanceDB open: its
                    # fork warning concerns the child, and Ray's children never use LanceDB.
                    warnings.filterwarnings("ignore", message="lancedb fork support")
                    # Workers compute what this process would: the same kernel switches,
                    # in their environment before they import numpy or CTranslate2.
                    ray.init(address=self.address, include_dashboard=False,
                             log_to_driver=False, configure_logging=False,
                             runtime_env={"env_vars": kernel_switches()})
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a local Ray instance"
                raise EngineError(f"cannot reach Ray at {where}: {_first_line(exc)}") from exc
            self._opened = True
        return ray

    def __exit__(self, *exc: object) -> None:
        if self._opened:
            import ray

            ray.shutdown()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
