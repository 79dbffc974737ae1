"""Where the per-file model work runs: ``local`` (this process, :class:`~indexing.pipeline.Indexer`)
or ``ray`` (actors on a Ray cluster, :class:`~indexing.engines.ray_engine.RayIndexer`).

Both engines share the stage code (:mod:`indexing.filework`) and the driver-side writer
(:meth:`~indexing.pipeline.Indexer.commit`); only the scheduling differs.
"""

from __future__ import annotations

from indexing.engines.options import ENGINES, RAY_MISSING, EngineError, check_engine
from indexing.pipeline import Indexer, Progress
from indexing.settings import Settings
from indexing.stores.base import ClipStore

__all__ = ["ENGINES", "RAY_MISSING", "EngineError", "check_engine", "make_indexer"]


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
