"""All graph storage contracts in one place.

A graph store keeps the *evidence* of the knowledge graph: for every indexed file (a media id
and the path it was indexed under) the mentions extracted from its clips, and which extractor
made them. Entities, relations and communities are computed from that evidence
(:class:`~indexing.graph.build.KnowledgeGraph`), so a store only has to add, drop and list
files' mentions. Two backends implement it: an embedded one (a JSON file beside the LanceDB
index, networkx in memory; :mod:`indexing.graph.networkx_store`) and Neo4j
(:mod:`indexing.graph.neo4j_store`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from indexing.graph.types import Mention

FileKey = tuple[str, str]  # (media_id, media_path): two copies of one file are two sources


class GraphError(Exception):
    """A graph store that cannot be used (unreachable server, unwritable file); one line."""


class GraphStore(Protocol):
    """Where the graph's evidence lives. Writes become durable at :meth:`commit`."""

    location: str  # for messages: a file path or a server URI

    def extractor_id(self) -> str | None:
        """The extractor that made the stored mentions, None for an empty store."""
        ...

    def files(self) -> set[FileKey]:
        """The files whose mentions are stored (also files that had none)."""
        ...

    def put_file(self, file: FileKey, mentions: Sequence[Mention], extractor_id: str) -> None:
        """Store ``file``'s mentions, replacing any it had."""
        ...

    def drop_file(self, file: FileKey) -> None:
        """Forget ``file`` and its mentions (nothing happens for an unknown file)."""
        ...

    def clear(self) -> None:
        """Forget everything (the extractor changed: every file is extracted again)."""
        ...

    def mentions(self) -> list[Mention]:
        """Every stored mention."""
        ...

    def commit(self) -> None:
        """Make the writes so far durable (atomically for a file store)."""
        ...

    def close(self) -> None: ...
