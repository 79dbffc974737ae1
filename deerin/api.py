"""DEERIn's public API: open an index, index footage into it, search it, ask it.

The command line (:mod:`deerin.cli`) is a thin layer over these four functions; a notebook or
another program calls them the same way::

    import deerin

    run = deerin.index(["footage/"], db="deerin-index")
    hits = deerin.search("street scenes with trams", db="deerin-index")
    reply = deerin.ask("When does the speaker talk about the moon?", db="deerin-index")
    print(reply.answer.text, [c.label for c in reply.answer.citations])

Each takes ``config``, the settings to use (:func:`config.load_config`); by default the user's
``deerin.toml``, the index's own and the environment are read at the call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from config import Config, load_config

if TYPE_CHECKING:
    from assistant.answer import Answer, Event
    from assistant.graph.evidence import EvidenceList
    from indexing.file_meta_index import ManifestLoad
    from indexing.filework import Progress
    from indexing.graph.sync import GraphSync
    from indexing.graph.types import Entity
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore
    from indexing.types import Hit, IndexReport


@dataclass(frozen=True)
class IndexRun:
    """What :func:`index` did: the files (``report``), the knowledge graph kept in step with
    them (``graph``), the manifest loaded after them (``manifest``, when one was given) and the
    index written (``location``)."""

    report: IndexReport
    graph: GraphSync
    manifest: ManifestLoad | None
    location: str


@dataclass(frozen=True)
class Reply:
    """What :func:`ask` returns: the verified ``answer``, the retrieval ``mode`` that produced
    it (``auto`` resolves to one), and the knowledge-graph ``entities`` it used (graph modes).
    A question asking for every moment something is named gets the graph's whole
    ``evidence`` list instead (mode ``evidence``; the answer then states its count)."""

    answer: Answer
    mode: str
    entities: tuple[Entity, ...] = ()
    evidence: EvidenceList | None = None


def resolve(db: str | Path | None = None, config: Config | None = None,
            **overrides: object) -> tuple[Config, Settings]:
    """The configuration and indexing settings for the index ``db`` (default: the configured
    one). ``overrides`` are non-None settings fields that win (command-line flags)."""
    from indexing.settings import Settings, local_dir

    if config is None:
        user = load_config()
        config = load_config(index_dir=local_dir(db if db is not None else user["index.db"]))
    return config, Settings.from_config(config, db_dir=db, **overrides)


def open_index(db: str | Path | None = None, *, config: Config | None = None) -> LanceStore:
    """The existing index ``db`` (a folder or ``s3://BUCKET/PREFIX``; default: the configured
    one), for reading. Raises :class:`~indexing.stores.base.StoreError` when there is none."""
    from indexing.stores.lance import LanceStore

    _, settings = resolve(db, config)
    return LanceStore(settings.db_dir, create=False)


def index(paths: Iterable[str | Path], db: str | Path | None = None, *, prune: bool = False,
          rebuild: bool = False, wait: float = 0.0, engine: str = "local",
          address: str | None = None, workers: int | None = None,
          manifest: Path | None = None, progress: Progress | None = None,
          config: Config | None = None, **overrides: object) -> IndexRun:
    """Index the media files under ``paths`` into ``db``, then bring the knowledge graph in
    step and load ``manifest`` (a collection manifest CSV) if given.

    Incremental and resumable: unchanged files are skipped, a killed run is finished by the
    next. ``rebuild`` erases the index first. ``engine`` is ``local`` or ``ray`` (``address``,
    ``workers``: see :func:`indexing.engines.make_indexer`). ``overrides`` are settings fields
    (``asr_model``, ``ocr``, ...). Bad files are reported in the result, never raised. Raises
    :class:`~indexing.engines.EngineError`, :class:`~indexing.stores.base.StoreError` (another
    writer, an index built otherwise) and :class:`~indexing.manifest.ManifestError`.
    """
    from indexing.engines import check_engine, make_indexer
    from indexing.graph.settings import GraphSettings
    from indexing.graph.sync import sync_graph
    from indexing.machine import fingerprint, machine_facts
    from indexing.stores.lance import LanceStore, erase_index
    from indexing.stores.lease import writer_lock

    config, settings = resolve(db, config, **overrides)
    check_engine(engine, address, workers)  # before --rebuild erases anything
    # Locked before the store opens, so a rebuild never erases an index being written.
    with writer_lock(settings.db_dir, wait) as lock:
        if rebuild:
            erase_index(settings.db_dir)
        store = LanceStore(settings.db_dir, writer=lock)
        indexer = make_indexer(engine, store, settings, progress=progress, address=address,
                               workers=workers)
        report = indexer.index([Path(p) for p in paths], prune=prune)
        if report.indexed:  # results depend on the CPU's kernels: say where they were made
            facts = machine_facts()
            store.meta.record_machine(facts, fingerprint(facts), time.time())
        graph = sync_graph(store, GraphSettings.from_config(config))  # derived from the clips
        loaded = load_manifest(store, settings, manifest) if manifest is not None else None
    return IndexRun(report, graph, loaded, str(store.location))


def load_manifest(store: LanceStore, settings: Settings, csv_file: Path) -> ManifestLoad:
    """Store a collection manifest's rows as file metadata of ``store`` (under its writer lock);
    titles and descriptions become searchable clips, embedded like the rest.
    Raises :class:`~indexing.manifest.ManifestError` when the file is no manifest at all."""
    from indexing.file_meta_index import load_manifest as load
    from indexing.stages.embed import embedder_from_settings

    built = store.embedder()
    return load(store, csv_file, lambda: embedder_from_settings(
        settings, built[0] if built else None))


def search(query: str, db: str | Path | None = None, *, k: int = 10,
           with_people: bool = False, config: Config | None = None) -> list[Hit]:
    """The ``k`` clips that best match ``query`` (hybrid full-text and vector search, then the
    configured rerank); ``with_people`` keeps only clips whose shot shows a face. Raises
    :class:`~indexing.stores.base.StoreError` when there is no index."""
    from assistant.calibration import CANDIDATES
    from assistant.people import with_people as people_only
    from assistant.rerank import RerankPolicy
    from assistant.retrieval import Retriever
    from assistant.settings import AssistantSettings
    from indexing.stores.lance import LanceStore

    config, settings = resolve(db, config)
    store = LanceStore(settings.db_dir, create=False)
    options = AssistantSettings.from_config(config)
    retriever = Retriever(store, settings, reranker=options.rerank,
                          policy=RerankPolicy(depth=options.rerank_depth))
    if with_people:  # filtered after ranking, so rank a wider pool first
        return people_only(store, retriever.search(query, k=max(k, CANDIDATES)))[:k]
    return retriever.search(query, k=k)


def ask(question: str, db: str | Path | None = None, *, llm: str | None = None,
        k: int | None = None, mode: str = "naive", config: Config | None = None,
        on_event: Callable[[Event], None] | None = None) -> Reply:
    """Answer ``question`` from the index, citing timestamped clips.

    ``llm`` is an LLM spec (default: the configured one); ``k`` the clips the LLM reads;
    ``mode`` the retrieval mode: ``naive`` (hybrid retrieval), ``local`` (the knowledge graph's
    entities), ``hybrid``, ``global`` (collection-wide) or ``auto``. ``on_event`` sees each
    event as it happens (the retrieved clips first, then the answer). Raises ValueError for an
    unknown mode, :class:`~assistant.answer.QuestionError` for an empty question,
    :class:`~assistant.llm.LLMError` (:class:`~assistant.llm.LLMUsageError` for a bad spec),
    :class:`~indexing.stores.base.StoreError` and :class:`~indexing.graph.store.GraphError`.
    """
    from assistant.graph.modes import check_mode
    from assistant.graph.service import entities_used, stream, with_mode
    from assistant.service import build_assistant
    from assistant.settings import AssistantSettings
    from indexing.graph.settings import GraphSettings

    mode = check_mode(mode)
    config, settings = resolve(db, config)
    if mode != "global":  # a global question asks about the whole, not for a list
        t = time.perf_counter()
        found = evidence(question, db, config=config)
        if found is not None:
            return _evidence_reply(question, found, time.perf_counter() - t, on_event)
    assistant = with_mode(
        build_assistant(settings, llm, k=k, options=AssistantSettings.from_config(config)),
        mode, GraphSettings.from_config(config))
    answer = None
    for event in stream(assistant, question):
        if on_event is not None:
            on_event(event)
        if event.kind == "answer":
            answer = event.answer
    assert answer is not None  # the stream always ends with the answer
    used = entities_used(assistant, [c.clip.clip_id for c in answer.citations])
    return Reply(answer, getattr(assistant.retriever, "last_mode", mode), tuple(used))


def evidence(question: str, db: str | Path | None = None, *,
             config: Config | None = None) -> EvidenceList | None:
    """The knowledge graph's list of every moment (or recording) ``question`` asks for, when it
    asks for all occurrences of something the graph names ("which recordings mention Cuba?",
    :mod:`assistant.graph.evidence`); ``None`` for any other question, and when the graph is
    off, missing or unusable, or the setting ``graph.evidence_lists`` is off."""
    from assistant.graph.evidence import asks_for_occurrences, find_evidence
    from assistant.graph.index import GraphIndex
    from assistant.graph.intent import IntentParser
    from indexing.graph.settings import GraphSettings
    from indexing.graph.store import GraphError
    from indexing.stores.base import StoreError
    from indexing.stores.lance import LanceStore

    if not asks_for_occurrences(question):  # the cheap look first: most questions stop here
        return None
    config, settings = resolve(db, config)
    graph_settings = GraphSettings.from_config(config)
    if not config["graph.evidence_lists"] or not graph_settings.enabled:
        return None
    try:
        store = LanceStore(settings.db_dir, create=False)
        graph = GraphIndex.open(store, None, graph_settings)  # by name only: no embedder
    except (GraphError, StoreError):
        return None  # the ordinary answer then stands in
    return find_evidence(graph, question, IntentParser()) if len(graph.kg) else None


def _evidence_reply(question: str, found: EvidenceList, seconds: float,
                    on_event: Callable[[Event], None] | None) -> Reply:
    from assistant.answer import Answer, Event

    answer = Answer(question=question, query=question, text=found.summary(), refused=False,
                    citations=(), retrieved=(), timings={"evidence": seconds})
    if on_event is not None:
        on_event(Event("answer", answer=answer))
    return Reply(answer, "evidence", found.entities, found)
