"""Where the graph lives: the embedded store beside the index, or a Neo4j server by URI.

Read from the configuration only when asked (:meth:`GraphSettings.from_config`), never at
import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from config import Config


@dataclass(frozen=True)
class GraphSettings:
    """``neo4j_uri`` empty = the embedded store (``<db>/graph/graph.json``); ``enabled`` false
    (``graph.enabled = false``, ``DEERIN_GRAPH=off``) = ``deerin index`` leaves the graph alone."""

    enabled: bool = True
    neo4j_uri: str = ""
    neo4j_user: str = "neo4j"
    neo4j_password: str = ""
    neo4j_database: str | None = None

    @classmethod
    def from_config(cls, config: Config, /, **overrides: object) -> GraphSettings:
        """Settings from the effective configuration (the ``graph.*`` settings), then the
        non-None ``overrides``."""
        values: dict[str, object] = {
            "enabled": config["graph.enabled"],
            "neo4j_uri": config["graph.neo4j_uri"],
            "neo4j_user": config["graph.neo4j_user"],
            "neo4j_password": config["graph.neo4j_password"],
            "neo4j_database": config["graph.neo4j_database"] or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, /,
                 **overrides: object) -> GraphSettings:
        """Settings from ``DEERIN_*`` variables alone (the process environment when ``env`` is
        omitted), then the non-None ``overrides``."""
        return cls.from_config(Config.from_env(env), **overrides)
