"""Round two of GraphRAG retrieval: the question's grammar picks the mode (aggregation or not),
and ``hybrid`` keeps ordinary retrieval's best hits in place while the graph adds the rest.
On a real LanceDB index of real transcripts, with the real spaCy model and MiniLM."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.graph.intent import IntentParser
from indexing.graph.extract import EntityExtractor
from indexing.graph.networkx_store import NetworkxGraphStore
from indexing.graph.sync import update
from tests.support.graph import build_store


@pytest.fixture(scope="module")
def parser() -> IntentParser:
    return IntentParser()


@pytest.fixture(scope="module")
def fusion_db(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Path:
    db = tmp_path_factory.mktemp("fusion-db")
    names = ("gwb_columbia_address_2003.ogg", "jfk_inaugural_1961.flac")
    update(build_store(db, media_dir, names), NetworkxGraphStore(db), EntityExtractor())
    return db


@pytest.mark.parametrize(("question", "aggregate"), [
    ("Which speeches mention the moon?", True),  # wh-determiner + plural noun
    ("In which two old cartoons does a horse appear?", True),  # past a number and adjective
    ("Show all the scenes with a horse.", True),  # a universal determiner
    ("Play every clip about rockets", True),
    ("From which city's control room was the flight followed?", False),  # singular
    ("What does the captain shout when the ship sinks?", False),
    ("Who was on board?", False),
])
def test_aggregation_is_read_from_the_grammar(parser: IntentParser, question: str,
                                              aggregate: bool) -> None:
    intent = parser.parse(question)
    assert intent.aggregate is aggregate, intent
    assert bool(intent.why) is aggregate


def test_hybrid_keeps_the_ordinary_head_and_auto_follows_the_grammar(fusion_db: Path) -> None:
    from assistant.graph.index import GraphIndex
    from assistant.graph.retriever import Fusion, GraphRetriever
    from assistant.retrieval import Retriever
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    store = LanceStore(fusion_db, create=False)
    base = Retriever(store, Settings.from_env({}, db_dir=fusion_db), reranker="off")
    graph = GraphIndex.open(store, base.embedder)
    question = "Which recordings mention fellow Americans?"
    naive = base.candidates(question)
    hybrid = GraphRetriever(base, graph, "hybrid", fusion=Fusion(set_head=3, weight=0.5))
    fused = hybrid.candidates(question)
    key = [h.clip.clip_id for h in naive[:3]]
    assert [h.clip.clip_id for h in fused[:3]] == key  # the graph displaces none of them
    assert any("graph" in h.sources for h in fused)
    assert len({h.clip.clip_id for h in fused}) == len(fused)
    # A head of 0 lets the graph reorder everything: the knob does what it says.
    free = GraphRetriever(base, graph, "hybrid", fusion=Fusion(set_head=0, weight=1.0))
    assert [h.clip.clip_id for h in free.candidates(question)] != [h.clip.clip_id for h in fused]

    auto = GraphRetriever(base, graph, "auto")
    auto.candidates(question)
    assert auto.last_mode == "hybrid"
    # A question after one answer: hybrid too, with ordinary retrieval's top five untouched.
    single = "What does the president say about the astronauts' courage?"
    assert [h.clip.clip_id for h in auto.candidates(single)][:5] == [
        h.clip.clip_id for h in base.candidates(single)][:5]
    assert auto.last_mode == "hybrid"
    # Links too weak for the fusion add nothing: the ordinary ranking comes back unchanged.
    strict = GraphRetriever(base, graph, "hybrid", fusion=Fusion(min_link=1.01))
    assert [h.clip.clip_id for h in strict.candidates(single)] == [
        h.clip.clip_id for h in base.candidates(single)]
