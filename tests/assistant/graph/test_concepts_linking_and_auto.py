"""Round three of GraphRAG: actions and heard sounds as concepts, no German nouns as names,
linking by lemma, ``auto`` that never sends a content question to ``global``, set questions
spread over files, and ``global`` citing the clips of the communities it reads. Real spaCy,
real MiniLM, a real LanceDB index of real transcripts and subtitles."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.graph.modes import pick_mode
from indexing.graph.extract import EntityExtractor
from indexing.graph.networkx_store import NetworkxGraphStore
from indexing.graph.sync import update
from indexing.types import Clip, ClipKind, Hit
from tests.support.graph import build_store

POPEYE3 = "popeye_sinbad_1936_part3.mkv"


def _clip(text: str, language: str | None = "en", kind: ClipKind = ClipKind.SPEECH) -> Clip:
    return Clip(media_id="m", media_path="/x/a.wav", kind=kind, start=0.0, end=5.0,
                text=text, language=language)


@pytest.fixture(scope="module")
def extractor() -> EntityExtractor:
    return EntityExtractor()


def test_actions_and_sound_descriptions_are_concepts(extractor: EntityExtractor) -> None:
    found = {(m.key, m.label) for m in extractor.extract([_clip(
        "The birds were flying through the air, and later the old man died.")])}
    assert {("fly", "ACTION"), ("die", "ACTION"), ("bird", "CONCEPT"), ("air", "CONCEPT")} <= found
    keys = {k for k, _ in found}
    assert "be" not in keys and "were" not in keys  # auxiliaries are no actions
    heard = {m.key for m in extractor.extract([_clip("[squawk] Let go! (laughs)",
                                                     kind=ClipKind.SUBTITLE)])}
    assert {"squawk", "laugh"} <= heard  # the tagger reads "[squawk]" as no part of speech
    addressed = extractor.extract([_clip("Mr. Quilter is the apostle of the middle classes.")])
    assert {(m.key, m.label) for m in addressed} >= {("quilter", "PERSON"), ("mr", "CONCEPT")}


def test_a_noun_that_modifies_the_head_is_a_concept_too(extractor: EntityExtractor) -> None:
    found = {(m.key, m.label) for m in extractor.extract([_clip(
        "The development of gold and silver mines and the tariff laws.")])}
    assert {("gold", "CONCEPT"), ("silver", "CONCEPT"), ("mine", "CONCEPT"),
            ("tariff", "CONCEPT"), ("tariff law", "CONCEPT"), ("law", "CONCEPT")} <= found


def test_a_capitalised_german_noun_is_no_name(extractor: EntityExtractor) -> None:
    text = ("Jeden, der diese Software und die Dokumentationsdateien erhält, wird die "
            "Genehmigung erteilt. Angela Merkel sprach in Berlin.")
    keys = {m.key for m in extractor.extract([_clip(text, language="de")])}
    assert not keys & {"jeden", "dokumentationsdateien", "genehmigung"}
    assert "angela merkel" in keys  # two capitalised words read as a name in any language
    # Nothing from the English model's concepts of foreign words either.
    assert all(m.label not in ("CONCEPT", "ACTION")
               for m in extractor.extract([_clip(text, language="de")]))


@pytest.mark.parametrize(("question", "links", "mode"), [
    ("What are the main themes of this collection?", 0, "global"),
    ("In which clips does something squawk?", 0, "naive"),  # content words: never global
    ("Which recordings mention the moon?", 1, "hybrid"),
    ("What did the president say about the crew?", 2, "hybrid"),  # head 5 = naive's top 5
])
def test_auto_sends_only_collection_questions_to_global(question: str, links: int,
                                                        mode: str) -> None:
    from assistant.graph.linking import EntityLinker, Link
    from indexing.graph.build import KnowledgeGraph

    content = EntityLinker(KnowledgeGraph([])).content_words(question)
    assert pick_mode(question, [Link(f"e{i}", 1.0, "name") for i in range(links)],
                     content) == mode


def _hit(path: str, start: float) -> Hit:
    clip = Clip(media_id=path, media_path=path, kind=ClipKind.SPEECH, start=start,
                end=start + 5, text=f"{path} {start}")
    return Hit(clip=clip, score=0.5, clip_id=clip.clip_id)


def test_a_set_question_sees_each_file_before_a_second_clip_of_one() -> None:
    from assistant.graph.retriever import spread_files

    hits = [_hit("a", 0), _hit("a", 10), _hit("a", 20), _hit("b", 0), _hit("c", 0)]
    scores = {h.clip_id or "": 1.0 - 0.01 * i for i, h in enumerate(hits)}
    order = [(h.clip.media_path, h.clip.start) for h in spread_files(hits, scores, 0.5)]
    assert order[:3] == [("a", 0), ("b", 0), ("c", 0)]
    assert order[3:] == [("a", 10), ("a", 20)]
    # decay 1 keeps the fused order; a file already in the head counts as placed.
    assert spread_files(hits, scores, 1.0) == hits
    seen = spread_files(hits, scores, 0.5, seen=["a"])
    assert seen[0].clip.media_path == "b"


@pytest.fixture(scope="module")
def speeches_and_cartoon_db(tmp_path_factory: pytest.TempPathFactory, media_dir: Path,
              extractor: EntityExtractor) -> Path:
    db = tmp_path_factory.mktemp("speeches-and-cartoon-db")
    names = ("gwb_columbia_address_2003.ogg", "jfk_inaugural_1961.flac", POPEYE3)
    update(build_store(db, media_dir, names), NetworkxGraphStore(db), extractor)
    return db


def test_lemma_linking_reaches_a_sound_and_global_cites_community_clips(
        speeches_and_cartoon_db: Path) -> None:
    from assistant.graph.global_answer import answer_global
    from assistant.graph.index import GraphIndex
    from assistant.graph.retriever import GraphRetriever
    from assistant.retrieval import Retriever
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    store = LanceStore(speeches_and_cartoon_db, create=False)
    base = Retriever(store, Settings.from_env({}, db_dir=speeches_and_cartoon_db), reranker="off")
    graph = GraphIndex.open(store, base.embedder)
    # "squawking" is no key; its lemma is the "[squawk]" subtitles' concept.
    retriever = GraphRetriever(base, graph, "auto")
    hits = retriever.search("In which clips does something keep squawking?", k=10)
    assert retriever.last_mode == "hybrid"
    assert "squawk" in {lk.key for lk in retriever.last_links}
    assert any(Path(h.clip.media_path).name == POPEYE3 and "squawk" in h.clip.text.lower()
               for h in hits)
    # Communities name who and what first: actions ("come", "let") after everything else.
    for c in graph.communities():
        actions = [graph.kg.entity(k).label == "ACTION" for k in c.members]  # type: ignore[union-attr]
        assert actions == sorted(actions), c.members
    # Global: every community read contributes clips, ordered by closeness to the question.
    question = "What are the main themes of this collection?"
    glob = GraphRetriever(base, graph, "global")
    clips = glob.search(question, k=10)
    assert glob.last_mode == "global" and clips
    assert all(h.sources == ("community",) for h in clips)
    communities = graph.relevant_communities(question, base.embedder)
    firsts = {graph.community_clips(c)[0] for c, _ in communities}
    assert len({h.clip.clip_id for h in clips}) == len(clips)
    assert len(clips) > len(firsts)  # more than one representative clip per community
    answer = answer_global(question, graph, base.embedder)
    cited = {c.clip.clip_id for c in answer.citations}
    member_clips = {cid for c, _ in communities for cid in graph.community_clips(c)}
    assert cited and cited <= member_clips
