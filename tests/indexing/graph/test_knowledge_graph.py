"""The knowledge graph on real transcripts: extraction, aliases, evidence, incremental sync,
bad input, communities, graph retrieval modes and the ``deerin graph`` commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexing.graph.build import KnowledgeGraph
from indexing.graph.communities import _louvain, detect
from indexing.graph.extract import EntityExtractor
from indexing.graph.networkx_store import NetworkxGraphStore, graph_dir
from indexing.graph.sync import load_graph, update
from indexing.types import Clip, ClipKind
from tests.support.graph import add_file, build_store

COLUMBIA = "gwb_columbia_address_2003.ogg"
JFK = "jfk_inaugural_1961.flac"


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor()


@pytest.fixture(scope="module")
def graph_db(tmp_path_factory: pytest.TempPathFactory, media_dir: Path,
             extractor: EntityExtractor) -> Path:
    db = tmp_path_factory.mktemp("graph-db")
    store = build_store(db, media_dir)
    report = update(store, NetworkxGraphStore(db), extractor)
    assert len(report.added) == 4 and report.mentions > 50
    return db


@pytest.fixture(scope="module")
def kg(graph_db: Path) -> KnowledgeGraph:
    return load_graph(NetworkxGraphStore(graph_db))


def _clip(text: str, language: str | None = "en") -> Clip:
    return Clip(media_id="m", media_path="/x/a.wav", kind=ClipKind.SPEECH, start=0.0, end=5.0,
                text=text, language=language)


def test_entities_carry_evidence_down_to_the_seconds(kg: KnowledgeGraph) -> None:
    houston = kg.find("Houston")
    assert houston is not None and houston.label == "GPE"
    (m,) = houston.mentions
    assert Path(m.media_path).name == COLUMBIA
    # "Mission Control in Houston lost contact" is said between 8 and 17 s of the address.
    assert (m.said_start, m.said_end) == (8.0, 17.0) and m.start <= 8.0 and m.end >= 17.0


def test_alias_merging_case_plural_possessive_and_titles(kg: KnowledgeGraph) -> None:
    americans = kg.find("americans")
    assert americans is not None and americans is kg.find("American")
    assert {Path(f).name for f in americans.files} == {COLUMBIA, JFK}  # across files
    columbia = kg.find("Columbia's")
    assert columbia is not None and columbia is kg.find("Space Shuttle Columbia")
    sinbad = kg.find("sinbad")
    assert sinbad is not None and len(sinbad.files) == 2
    # "Colonel Rick Husband": the title is not part of the name.
    assert kg.find("Rick Husband") is not None


def test_titles_merge_only_when_unambiguous() -> None:
    from indexing.graph.build import resolve_aliases
    from indexing.graph.types import Mention

    def m(key: str) -> Mention:
        return Mention(key, key, "PERSON", key, "m", "p", "speech", 0, 0, 1, 0, 1)

    assert resolve_aliases([m("bush"), m("george w bush")]) == {"bush": "george w bush"}
    assert resolve_aliases([m("bush"), m("george w bush"), m("laura bush")]) == {}
    china = Mention("china", "China", "GPE", "c", "m", "p", "speech", 0, 0, 1, 0, 1)
    assert resolve_aliases([china, m("tsai-hsun of china")]) == {}  # "X of China" is X's


def test_relations_are_weighted_cooccurrences_with_evidence(kg: KnowledgeGraph) -> None:
    houston = kg.find("Houston")
    assert houston is not None
    related = {e.key: r for e, r in kg.related(houston.key)}
    columbia = kg.find("Columbia")
    assert columbia is not None and columbia.key in related
    rel = related[columbia.key]
    assert rel.weight >= 1 and -1 <= rel.npmi <= 1
    assert set(rel.clip_ids) & {m.clip_id for m in houston.mentions}


def test_one_entitys_relations_equal_those_of_the_whole_graph(kg: KnowledgeGraph) -> None:
    """``related`` computes one entity's relations alone (fast at any size): the same as
    computing every relation first."""
    lazy = KnowledgeGraph(m for e in kg.entities() for m in e.mentions)
    whole = KnowledgeGraph(m for e in kg.entities() for m in e.mentions)
    assert whole.relations()  # every relation computed before any lookup
    for e in kg.entities()[:40]:
        assert lazy.related(e.key) == whole.related(e.key), e.key


def test_empty_and_foreign_text(extractor: EntityExtractor) -> None:
    assert extractor.extract([_clip(""), _clip("   ")]) == []
    german = extractor.extract([_clip("Jeden, der diese Software und die dazugehörigen "
                                      "Dokumentationsdateien erhält, wird von Berlin aus die "
                                      "Genehmigung erteilt.", "de")])
    # No English noun-phrase concepts read into German; only names, if any.
    assert all(m.label != "CONCEPT" for m in german)


def test_incremental_sync_prune_and_changed_file(tmp_path: Path, media_dir: Path,
                                                 extractor: EntityExtractor) -> None:
    store = build_store(tmp_path, media_dir, (COLUMBIA,))
    graph = NetworkxGraphStore(tmp_path)
    assert len(update(store, graph, extractor).added) == 1
    again = update(store, graph, extractor)
    assert again.added == () and again.removed == ()  # nothing new: nothing extracted
    add_file(store, _embedder(tmp_path), media_dir, JFK)
    report = update(store, graph, extractor)
    assert [Path(p).name for p in report.added] == [JFK]  # only the new file
    assert load_graph(NetworkxGraphStore(tmp_path)).find("Americans") is not None
    store.remove_media(str(media_dir / JFK))  # what --prune and `deerin remove` do
    report = update(store, NetworkxGraphStore(tmp_path), extractor)
    assert [Path(p).name for p in report.removed] == [JFK]
    americans = load_graph(NetworkxGraphStore(tmp_path)).find("Americans")
    assert americans is not None and {Path(f).name for f in americans.files} == {COLUMBIA}


def test_corrupted_graph_file_is_rebuilt_from_the_clips(tmp_path: Path, graph_db: Path,
                                                        kg: KnowledgeGraph,
                                                        extractor: EntityExtractor) -> None:
    db = tmp_path / "db"
    shutil.copytree(graph_db, db)
    path = graph_dir(db) / "graph.json"
    path.write_text('{"format": 1, "files": [{"media_id": "x"', encoding="utf-8")
    graph = NetworkxGraphStore(db)
    assert graph.warnings and str(path) in graph.warnings[0]
    from indexing.stores.lance import LanceStore

    report = update(LanceStore(db, create=False), graph, extractor)
    assert len(report.added) == 4 and report.warnings
    rebuilt = load_graph(NetworkxGraphStore(db))
    assert rebuilt.content_hash() == kg.content_hash()  # nothing lost
    json.loads(path.read_text(encoding="utf-8"))  # and the file is whole again


def test_communities_are_deterministic_and_hierarchical(kg: KnowledgeGraph) -> None:
    first, second = detect(kg), detect(kg)
    assert first == second and first
    assert {c.level for c in first} >= {0}
    by_id = {c.id: c for c in first}
    for c in first:
        if c.parent is not None:
            assert set(c.members) <= set(by_id[c.parent].members)
    edges = sorted((r.a, r.b, r.weight) for r in kg.relations() if r.npmi > 0)
    assert _louvain(edges, 42, 12) == _louvain(edges, 42, 12)  # the fallback too


def _embedder(db: Path):  # type: ignore[no-untyped-def]
    from indexing.settings import Settings
    from indexing.stages.embed import embedder_from_settings

    return embedder_from_settings(Settings.from_env({}, db_dir=db))


def test_local_and_hybrid_find_every_file_that_names_an_entity(graph_db: Path) -> None:
    from assistant.graph.index import GraphIndex
    from assistant.graph.retriever import GraphRetriever
    from assistant.retrieval import Retriever
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    store = LanceStore(graph_db, create=False)
    base = Retriever(store, Settings.from_env({}, db_dir=graph_db), reranker="off")
    graph = GraphIndex.open(store, base.embedder)
    question = "Which recordings mention Americans?"
    assert graph.link(question)[0].key == "american"
    for mode in ("local", "hybrid"):
        retriever = GraphRetriever(base, graph, mode)
        hits = retriever.search(question, k=4)
        assert {Path(h.clip.media_path).name for h in hits} >= {COLUMBIA, JFK}, mode
        assert all(h.score >= 0 for h in hits)
    auto = GraphRetriever(base, graph, "auto")
    auto.candidates(question)
    assert auto.last_mode == "hybrid"
    auto.candidates("What are the main themes of this collection?")
    assert auto.last_mode == "global"


def test_global_answer_cites_clips_without_an_llm(graph_db: Path) -> None:
    from assistant.graph.global_answer import answer_global
    from assistant.graph.index import GraphIndex
    from indexing.stores.lance import LanceStore

    store = LanceStore(graph_db, create=False)
    embedder = _embedder(graph_db)
    graph = GraphIndex.open(store, embedder)
    answer = answer_global("What are the main themes of this collection?", graph, embedder)
    assert not answer.refused and answer.extractive and answer.citations
    assert all(f"[{c.n}]" in answer.text for c in answer.citations)
    assert all(c.clip.clip_id for c in answer.citations)


def test_graph_commands(graph_db: Path, tmp_path: Path) -> None:
    from deerin.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["graph", "entities", "--db", str(graph_db), "--json"])
    assert out.exit_code == 0, out.output
    names = {e["name"] for e in json.loads(out.stdout)}
    assert "Sinbad" in names
    out = runner.invoke(app, ["graph", "show", "houston", "--db", str(graph_db), "--json"])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.stdout)
    assert shown["appearances"][0]["media"].endswith(COLUMBIA) and shown["related"]
    out = runner.invoke(app, ["graph", "show", "Atlantis", "--db", str(graph_db)])
    assert out.exit_code == 1 and "no entity" in out.output
    for fmt in ("graphml", "json"):
        target = tmp_path / f"g.{fmt}"
        out = runner.invoke(app, ["graph", "export", "--db", str(graph_db), "--format", fmt,
                                  "--out", str(target)])
        assert out.exit_code == 0 and target.stat().st_size > 1000, out.output
    import networkx as nx

    assert nx.read_graphml(tmp_path / "g.graphml").number_of_nodes() > 50
    out = runner.invoke(app, ["graph", "export", "--db", str(graph_db), "--format", "dot",
                              "--out", str(tmp_path / "g.dot")])
    assert out.exit_code == 2
    out = runner.invoke(app, ["graph", "communities", "--db", str(graph_db), "--json"])
    assert out.exit_code == 0 and json.loads(out.stdout)[0]["clips"], out.output
