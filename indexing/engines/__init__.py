"""Where the per-file model work runs: ``local`` (this process, :class:`~indexing.pipeline.Indexer`)
or ``ray`` (actors on a Ray cluster, :class:`~indexing.engines.ray_engine.RayIndexer`).

Both engines share the stage code (:mod:`indexing.filework`) and the driver-side writer
(:meth:`~indexing.pipeline.Indexer.commit`); only the scheduling differs.
"""

from __future__ import annotations

import importlib.util

from indexing.pipeline import Indexer, Progress
from indexing.settings import Settings
from indexing.stores.base import ClipStore

ENGINES = ("local", "ray")
RAY_MISSING = "the Ray engine needs the ray extra: pip install 'deerin[ray]'"


class EngineError(Exception):
    """The engine cannot run (Ray missing, cluster unreachable), or ``usage``: a bad option."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


def check_engine(engine: str, address: str | None = None, workers: int | None = None) -> None:
    """Raise a usage :class:`EngineError` for an engine name or option that cannot work, and a
    plain one for the Ray engine without Ray installed (before anything is opened)."""
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})",
                          usage=True)
    if engine == "local" and (address is not None or workers is not None):
        raise EngineError("--address and --workers need --engine ray", usage=True)
    if workers is not None and workers < 1:
        raise EngineError("--workers must be at least 1", usage=True)
    if engine == "ray" and importlib.util.find_spec("ray") is None:
        raise EngineError(RAY_MISSING)


def make_indexer(engine: str, store: ClipStore, settings: Settings, *,
                 progress: Progress | None = None, address: str | None = None,
                 workers: int | None = None) -> Indexer:
    """The indexer of ``engine`` (``local`` or ``ray``) over ``store``.

    ``address`` and ``workers`` only concern the Ray engine (``None``: start a local Ray
    instance; one worker per two CPUs of the cluster).
    """
    check_engine(engine, address, workers)
    if engine == "ray":
        from indexing.engines.ray_engine import RayIndexer

        return RayIndexer(store, settings, progress=progress, address=address, workers=workers)
    return Indexer(store, settings, progress=progress)
