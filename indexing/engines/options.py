"""The engines there are, the error they raise, and which options each accepts.

Apart from the engine chooser (:func:`indexing.engines.make_indexer`) so an engine's own module
can check its options without importing the package that imports it.
"""

from __future__ import annotations

import importlib.util

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
