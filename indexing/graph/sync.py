"""Keep the graph in step with the clip store, by media id: the graph is a derived index.

:func:`update` extracts the mentions of every file the clip store holds and the graph does not,
and drops every file the graph holds and the clip store no longer does (removed, pruned, or
changed: a changed file has a new media id). That one rule gives incremental updates,
``--prune``, resumability (files are committed in batches; a killed sync redoes only what was
not committed) and recovery from a damaged graph file (everything is extracted again from the
clips) without a pipeline stage of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from indexing.graph.build import KnowledgeGraph
from indexing.graph.extract import EntityExtractor
from indexing.graph.networkx_store import NetworkxGraphStore
from indexing.graph.settings import GraphSettings
from indexing.graph.store import FileKey, GraphError, GraphStore
from indexing.stores.base import ClipReader, ClipStore, StoreError

_COMMIT_EVERY_S = 60.0  # a long first sync keeps its progress at least this often


@dataclass(frozen=True)
class SyncReport:
    """What :func:`update` did."""

    added: tuple[str, ...] = ()  # paths extracted
    removed: tuple[str, ...] = ()  # paths dropped
    mentions: int = 0  # mentions extracted in this run
    seconds: float = 0.0
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class GraphSync:
    """What :func:`sync_graph` did: ``report`` is None when the graph is off or could not be
    updated; ``problem`` is then the one-line reason (empty when the graph is just off)."""

    report: SyncReport | None = None
    problem: str = ""

    @property
    def failed(self) -> bool:
        """Whether the graph should have been updated and was not."""
        return bool(self.problem)


def sync_graph(clips: ClipStore, settings: GraphSettings, *,
               refresh: Collection[FileKey] = ()) -> GraphSync:
    """Bring the graph of ``clips`` in step with it, as :func:`update` does; ``refresh`` names
    files whose clips changed in place (captions, catalogue clips) and must be read again.

    The one entry point for every writer (indexing, ``deerin graph build``, enrichment,
    experiments): the caller holds the clip store's writer lock. A graph that cannot be updated
    (an unreachable Neo4j, a missing spaCy model) is reported in :attr:`GraphSync.problem`,
    never raised, so the clips a caller just wrote stand.
    """
    if not settings.enabled:
        return GraphSync()
    try:
        graph = open_graph_store(clips.db_dir, settings)
        try:
            held = graph.files() if refresh else set()
            for file in refresh:
                if file in held:
                    graph.drop_file(file)
            return GraphSync(update(clips, graph))
        finally:
            graph.close()
    except GraphError as exc:
        return GraphSync(problem=f"knowledge graph not updated: {exc}")


def current_graph(clips: ClipStore, settings: GraphSettings) -> tuple[KnowledgeGraph, list[str]]:
    """The knowledge graph of ``clips`` for reading, and warnings. A graph behind the clips is
    brought up to date first when the writer lock is free, else read as it is with a warning.
    Raises :class:`~indexing.graph.store.GraphError` when the graph store cannot be used."""
    graph = open_graph_store(clips.db_dir, settings)
    try:
        warnings = list(getattr(graph, "warnings", ()))
        todo, gone = behind(clips, graph)
        if todo or gone:
            try:
                with clips.writing(0.0):
                    update(clips, graph)
            except StoreError:
                warnings.append("the graph lags the index and another writer holds it; "
                                "showing the graph as it is")
        return load_graph(graph), warnings
    finally:
        graph.close()


def open_graph_store(db_dir: Path, settings: GraphSettings | None = None) -> GraphStore:
    """The graph store ``settings`` select: Neo4j when a URI is set, else the embedded file
    store of the index in ``db_dir``. Raises :class:`~indexing.graph.store.GraphError`."""
    settings = settings or GraphSettings()
    if settings.neo4j_uri:
        from indexing.graph.neo4j_store import Neo4jGraphStore

        return Neo4jGraphStore(settings)
    return NetworkxGraphStore(db_dir)


def behind(clips: ClipReader, graph: GraphStore) -> tuple[set[FileKey], set[FileKey]]:
    """(files to extract, files to drop) for the graph to match the clip store."""
    wanted = {(m.media_id, m.path) for m in clips.media()}
    held = graph.files()
    return wanted - held, held - wanted


def update(clips: ClipReader, graph: GraphStore, extractor: EntityExtractor | None = None,
           on_file: Callable[[str, int, int], None] | None = None) -> SyncReport:
    """Bring ``graph`` in step with ``clips`` (see the module docstring); return what changed.

    The caller holds the clip store's writer lock. The spaCy model is loaded only when a file
    needs extracting, so a sync with nothing new costs a listing.
    """
    t0 = time.perf_counter()
    extractor = extractor or EntityExtractor()
    warnings = tuple(getattr(graph, "warnings", ()))
    if graph.extractor_id() not in (None, extractor.model_id):
        graph.clear()  # mentions of another extractor would not merge with new ones
    todo, gone = behind(clips, graph)
    for file in sorted(gone, key=lambda f: f[1]):
        graph.drop_file(file)
    added: list[str] = []
    count = 0
    last_commit = time.perf_counter()
    for i, (media_id, path) in enumerate(sorted(todo, key=lambda f: f[1])):
        if on_file is not None:
            on_file(path, i, len(todo))
        file_clips = [c for c in clips.clips_of(media_id) if c.media_path == path]
        mentions = extractor.extract(file_clips)
        graph.put_file((media_id, path), mentions, extractor.model_id)
        added.append(path)
        count += len(mentions)
        if time.perf_counter() - last_commit > _COMMIT_EVERY_S:
            graph.commit()
            last_commit = time.perf_counter()
    graph.commit()
    return SyncReport(tuple(added), tuple(sorted(p for _, p in gone)), count,
                      time.perf_counter() - t0, warnings)


def load_graph(graph: GraphStore) -> KnowledgeGraph:
    """The knowledge graph of everything ``graph`` stores."""
    return KnowledgeGraph(graph.mentions())
