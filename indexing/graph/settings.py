"""Where the graph lives: the embedded store beside the index, or a Neo4j server by URI.

Read from the environment only when asked (:meth:`GraphSettings.from_env`), never at import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class GraphSettings:
    """``neo4j_uri`` empty = the embedded store (``<db>/graph/graph.json``); ``enabled`` false
    (``DEERIN_GRAPH=off``) = ``deerin index`` leaves the graph alone."""

    enabled: bool = True
    neo4j_uri: str = ""
    neo4j_user: str = "neo4j"
    neo4j_password: str = ""
    neo4j_database: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, /,
                 **overrides: object) -> GraphSettings:
        """``DEERIN_GRAPH`` (``off`` disables), ``DEERIN_NEO4J_URI``, ``DEERIN_NEO4J_USER``,
        ``DEERIN_NEO4J_PASSWORD``, ``DEERIN_NEO4J_DATABASE``; then non-None ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "enabled": env.get("DEERIN_GRAPH", "").strip().lower() not in ("off", "0", "no"),
            "neo4j_uri": env.get("DEERIN_NEO4J_URI", "").strip(),
        }
        if env.get("DEERIN_NEO4J_USER"):
            values["neo4j_user"] = env["DEERIN_NEO4J_USER"]
        if env.get("DEERIN_NEO4J_PASSWORD"):
            values["neo4j_password"] = env["DEERIN_NEO4J_PASSWORD"]
        if env.get("DEERIN_NEO4J_DATABASE"):
            values["neo4j_database"] = env["DEERIN_NEO4J_DATABASE"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)  # type: ignore[arg-type]
