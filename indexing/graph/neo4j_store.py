"""The graph's evidence in a Neo4j server, through the official ``neo4j`` driver.

Selected by ``DEERIN_NEO4J_URI`` (:class:`~indexing.graph.settings.GraphSettings`). The layout
lets archivists query the graph with Cypher directly::

    (:DeerinEntity {key})-[:MENTIONED_IN {surface, label, said_start, said_end}]->
        (:DeerinClip {id, media_id, media_path, kind, seq, start, end, file_key})-[:OF]->
        (:DeerinFile {key, media_id, path})

Every write is its own transaction (a file's mentions are replaced in one), so :meth:`commit`
has nothing left to do. LlamaIndex's ``Neo4jPropertyGraphStore`` was not used: it needs the
APOC plugin on the server and models LLM-extracted triples, while DEERIn stores mentions with
their seconds and computes relations itself.

No Neo4j server runs on the development machines: the contract tests run against this backend
only when ``DEERIN_NEO4J_URI`` is set (see tests/indexing/graph/test_graph_stores.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from indexing.fmt import exception_text
from indexing.graph.settings import GraphSettings
from indexing.graph.store import FileKey, GraphError, GraphStore
from indexing.graph.types import Mention

_SCHEMA = (
    "CREATE CONSTRAINT deerin_entity IF NOT EXISTS FOR (e:DeerinEntity) REQUIRE e.key IS UNIQUE",
    "CREATE CONSTRAINT deerin_clip IF NOT EXISTS FOR (c:DeerinClip) REQUIRE c.id IS UNIQUE",
    "CREATE CONSTRAINT deerin_file IF NOT EXISTS FOR (f:DeerinFile) REQUIRE f.key IS UNIQUE",
)
_DROP = """
MATCH (f:DeerinFile {key: $key})
OPTIONAL MATCH (c:DeerinClip {file_key: $key})
DETACH DELETE c, f
"""
_ORPHANS = "MATCH (e:DeerinEntity) WHERE NOT (e)--() DELETE e"
_PUT = """
MERGE (f:DeerinFile {key: $key}) SET f.media_id = $media_id, f.path = $path
WITH f
UNWIND $rows AS r
MERGE (c:DeerinClip {id: r.clip_id})
  SET c.media_id = $media_id, c.media_path = $path, c.kind = r.kind, c.seq = r.seq,
      c.start = r.start, c.end = r.end, c.file_key = $key
MERGE (c)-[:OF]->(f)
MERGE (e:DeerinEntity {key: r.key})
CREATE (e)-[:MENTIONED_IN {surface: r.surface, label: r.label, said_start: r.said_start,
                           said_end: r.said_end}]->(c)
"""
_MENTIONS = """
MATCH (e:DeerinEntity)-[r:MENTIONED_IN]->(c:DeerinClip)
RETURN e.key AS key, r.surface AS surface, r.label AS label, c.id AS clip_id,
       c.media_id AS media_id, c.media_path AS media_path, c.kind AS kind, c.seq AS seq,
       c.start AS start, c.end AS end, r.said_start AS said_start, r.said_end AS said_end
ORDER BY media_path, start, said_start
"""


class Neo4jGraphStore:
    """A :class:`~indexing.graph.store.GraphStore` on a Neo4j server."""

    def __init__(self, settings: GraphSettings, timeout: float = 5.0) -> None:
        """Connect and check the server answers; raise :class:`GraphError` (one line) if not."""
        self.location = settings.neo4j_uri
        self._db = settings.neo4j_database
        try:
            import neo4j
        except ImportError as exc:
            raise GraphError("DEERIN_NEO4J_URI is set, and the graph on Neo4j needs the neo4j "
                             "extra: pip install 'deerin[neo4j]'") from exc
        try:
            self._driver = neo4j.GraphDatabase.driver(
                settings.neo4j_uri, auth=(settings.neo4j_user, settings.neo4j_password),
                connection_timeout=timeout)
            self._driver.verify_connectivity()
            for statement in _SCHEMA:
                self._run(statement)
        except GraphError:
            raise
        except Exception as exc:  # the driver's errors: unreachable, auth, bad URI, ...
            raise GraphError(f"cannot use Neo4j at {settings.neo4j_uri}: {_reason(exc)}") from exc

    def _run(self, query: str, **params: Any) -> list[Any]:
        try:
            records, _, _ = self._driver.execute_query(query, params, database_=self._db)
        except Exception as exc:
            raise GraphError(f"Neo4j at {self.location}: {_reason(exc)}") from exc
        return list(records)

    # -- GraphStore ----------------------------------------------------------------------------
    def extractor_id(self) -> str | None:
        rows = self._run("MATCH (m:DeerinMeta {id: 'meta'}) RETURN m.extractor AS x")
        return str(rows[0]["x"]) if rows and rows[0]["x"] else None

    def files(self) -> set[FileKey]:
        rows = self._run("MATCH (f:DeerinFile) RETURN f.media_id AS m, f.path AS p")
        return {(str(r["m"]), str(r["p"])) for r in rows}

    def put_file(self, file: FileKey, mentions: Sequence[Mention], extractor_id: str) -> None:
        key = _file_key(file)
        self._run("MERGE (m:DeerinMeta {id: 'meta'}) SET m.extractor = $x", x=extractor_id)
        self._run(_DROP, key=key)
        rows = [{"key": m.key, "surface": m.surface, "label": m.label, "clip_id": m.clip_id,
                 "kind": m.kind, "seq": m.seq, "start": m.start, "end": m.end,
                 "said_start": m.said_start, "said_end": m.said_end} for m in mentions]
        if rows:
            self._run(_PUT, key=key, media_id=file[0], path=file[1], rows=rows)
        else:
            self._run("MERGE (f:DeerinFile {key: $key}) SET f.media_id = $m, f.path = $p",
                      key=key, m=file[0], p=file[1])
        self._run(_ORPHANS)

    def drop_file(self, file: FileKey) -> None:
        self._run(_DROP, key=_file_key(file))
        self._run(_ORPHANS)

    def clear(self) -> None:
        for label in ("DeerinClip", "DeerinFile", "DeerinEntity", "DeerinMeta"):
            self._run(f"MATCH (n:{label}) DETACH DELETE n")

    def mentions(self) -> list[Mention]:
        return [Mention(str(r["key"]), str(r["surface"]), str(r["label"]), str(r["clip_id"]),
                        str(r["media_id"]), str(r["media_path"]), str(r["kind"]), int(r["seq"]),
                        float(r["start"]), float(r["end"]), float(r["said_start"]),
                        float(r["said_end"]))
                for r in self._run(_MENTIONS)]

    def commit(self) -> None: ...

    def close(self) -> None:
        self._driver.close()


def _file_key(file: FileKey) -> str:
    return f"{file[0]}|{file[1]}"


def _reason(exc: BaseException) -> str:
    # The driver spreads a reason over several lines: all of them, folded into one.
    return exception_text(exc, 240, all_lines=True)


_: type[GraphStore] = Neo4jGraphStore
