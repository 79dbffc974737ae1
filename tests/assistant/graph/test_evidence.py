"""Evidence lists: a question asking for every moment something is named gets the graph's whole
list, counted and paged. The choice of entities and the list on hand-made mentions; the grammar
with the real spaCy model; end to end on a real index of timed subtitles (``deerin ask``)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.graph.evidence import (
    EvidenceList,
    asks_for_occurrences,
    evidence_list,
    listed_entities,
    occurrence_unit,
)
from assistant.graph.intent import Intent, IntentParser
from indexing.graph.build import KnowledgeGraph
from indexing.graph.types import ACTION, CONCEPT, Mention

REPO = Path(__file__).resolve().parents[3]


def _m(key: str, label: str, clip: str, media: str, start: float, surface: str = "") -> Mention:
    return Mention(key, surface or key, label, clip, media, f"/a/{media}.mp4", "subtitle", 0,
                   start, start + 10, start + 2, start + 4)


@pytest.fixture(scope="module")
def kg() -> KnowledgeGraph:
    return KnowledgeGraph([
        _m("cuba", "GPE", "c1", "b", 30, "Cuba"), _m("cuba", "GPE", "c1", "b", 30, "Cuba"),
        _m("cuba", "GPE", "c2", "a", 50, "Cuba"), _m("cuba", "GPE", "c3", "a", 10, "Cuba"),
        _m("tariff", CONCEPT, "c4", "a", 70), _m("tariff law", CONCEPT, "c5", "b", 90),
        _m("protective tariff", CONCEPT, "c6", "c", 5), _m("law", CONCEPT, "c5", "b", 90),
        _m("civil service", CONCEPT, "c7", "a", 120), _m("service", CONCEPT, "c8", "a", 140),
        _m("mention", ACTION, "c9", "a", 160), _m("moment", CONCEPT, "c9", "a", 160),
    ])


def test_what_the_nominal_words_name_is_listed_but_no_verb_nor_the_asked_noun(
        kg: KnowledgeGraph) -> None:
    intent = Intent(True, "every moment", noun="moment",
                    nominal=("moment", "cuba", "tariffs"))
    chosen, said = listed_entities(kg, "Every moment where Cuba and tariffs mention", intent)
    assert [e.key for e in chosen] == ["cuba", "tariff"] and said == ["cuba", "tariff"]
    # a word the parse did not read as naming anything ("Show …", "List …") names nothing
    show = Intent(True, "every moment", noun="moment", nominal=("moment",))
    assert listed_entities(kg, "Mention every moment", show) == ([], [])


def test_words_inside_a_longer_name_are_not_read_again(kg: KnowledgeGraph) -> None:
    intent = Intent(True, "every moment", noun="moment", nominal=("moment", "civil", "service"))
    chosen, _ = listed_entities(kg, "Every moment the civil service is mentioned", intent)
    assert [e.key for e in chosen] == ["civil service"]


def test_one_moment_per_clip_in_file_and_time_order(kg: KnowledgeGraph) -> None:
    cuba = kg.entity("cuba")
    assert cuba is not None
    found = evidence_list(kg, [cuba], "recording")
    assert [(m.media_path, m.start) for m in found.moments] == [
        ("/a/a.mp4", 10), ("/a/a.mp4", 50), ("/a/b.mp4", 30)]
    assert found.count == 3 and found.files == (("/a/a.mp4", 2), ("/a/b.mp4", 1))
    assert found.moments[0].play == (12, 14)  # the words, not the whole clip
    assert found.summary() == "Cuba is named at 3 moments in 2 recordings."
    row = found.to_json()
    assert row["count"] == 3 and row["unit"] == "recording" and len(row["moments"]) == 3


def test_a_name_gathers_the_longer_names_it_is_part_of(kg: KnowledgeGraph) -> None:
    tariff = kg.entity("tariff")
    assert tariff is not None
    found = evidence_list(kg, [tariff])
    assert sorted(m.clip_id for m in found.moments) == ["c4", "c5", "c6"]
    service = kg.entity("service")
    assert service is not None  # "civil service" holds it: a list of "service" has both
    assert sorted(m.clip_id for m in evidence_list(kg, [service]).moments) == ["c7", "c8"]
    # the name the question used counts too: "Lincoln", said for Abraham Lincoln
    people = KnowledgeGraph([_m("lincoln", "PERSON", "p1", "a", 0, "Lincoln"),
                             _m("abraham lincoln", "PERSON", "p2", "a", 9, "Abraham Lincoln"),
                             _m("lincoln memorial", "FAC", "p3", "a", 20, "Lincoln Memorial")])
    abe = people.find("Lincoln")
    assert abe is not None and abe.key == "abraham lincoln"
    said = [m.clip_id for m in evidence_list(people, [abe], said=["lincoln"]).moments]
    assert said == ["p1", "p2", "p3"]


def test_pages_count_from_one() -> None:
    big = KnowledgeGraph([_m("x", "GPE", f"c{i:02d}", "a", i) for i in range(45)])
    found = evidence_list(big, [big.entity("x")])  # type: ignore[list-item]
    assert found.pages() == 3 and len(found.page(3)) == 5 and found.page(4) == ()
    assert found.page(2)[0].clip_id == "c20"
    with pytest.raises(ValueError):
        found.page(0)
    assert EvidenceList((), ()).pages() == 1


@pytest.mark.parametrize(("question", "unit"), [
    ("Which recordings mention Nicaragua?", "recording"),
    ("Which speeches talk about slavery?", "recording"),
    ("Every moment where Cuba is named.", "moment"),
    ("Find all the places where Mexico is mentioned.", "moment"),
    ("Every mention of Great Britain.", "moment"),
    ("Which astronauts died on the shuttle?", None),  # a set of people, not of places
    ("Where is Cuba mentioned first?", None),  # one answer
])
def test_the_grammar_says_when_a_list_of_places_is_asked(question: str, unit: str | None) -> None:
    parser = IntentParser()
    assert occurrence_unit(parser.parse(question)) == unit
    if unit is not None:
        assert asks_for_occurrences(question)


def test_the_cheap_check_needs_a_word_for_a_place() -> None:
    assert not asks_for_occurrences("Which astronauts died on the shuttle?")
    assert asks_for_occurrences("In which addresses is Cuba named?")


# -- end to end: timed subtitles of made-up addresses, indexed, then `deerin ask` -------------

def _archive_module() -> object:
    spec = importlib.util.spec_from_file_location("archive_build_e2e",
                                                  REPO / "bench/archive/build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["archive_build_e2e"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cuba_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    import deerin

    if shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg")
    build = _archive_module()
    texts = {
        "one": "The treaty with Cuba was signed in the spring. Trade with Cuba grew. The "
               "harbour was dredged. Congress voted on the tariff laws.",
        "two": "Our ships patrolled the coast. Relations with Cuba remained cordial. The "
               "railroad reached the western territories.",
        "three": "The mint coined gold and silver. Nothing else of note happened this year.",
    }
    meta = {"president_full": "A. President", "date": "1900-01-01", "sotu_type": "written",
            "source_url": "https://example.org/x", "sha256": "0" * 64}
    docs = [build.Document(k, meta, v) for k, v in texts.items()]  # type: ignore[attr-defined]
    out = tmp_path_factory.mktemp("archive")
    build.build(1.0, out, seed=3, docs=docs)  # type: ignore[attr-defined]
    db = out / "db"
    deerin.index([out / "media"], db)
    return db


def test_ask_lists_every_moment_and_recording(cuba_db: Path) -> None:
    import deerin

    reply = deerin.ask("Which recordings mention Cuba?", cuba_db)
    assert reply.mode == "evidence" and reply.evidence is not None
    # one moment per clip: the short "one" is a single clip naming Cuba twice
    assert reply.evidence.count == 2 and reply.evidence.unit == "recording"
    assert sorted(Path(f).stem.split("-", 1)[1] for f, _ in reply.evidence.files) == [
        "one", "two"]
    assert "2 moments in 2 recordings" in reply.answer.text
    mined = deerin.evidence("Every moment where silver is mentioned.", cuba_db)
    assert mined is not None and mined.count == 1  # a noun modifying "mines" is a concept


def test_cli_prints_the_count_and_pages_and_json(cuba_db: Path) -> None:
    from deerin.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["ask", "Every moment where Cuba is named.", "--db", str(cuba_db)])
    assert res.exit_code == 0, res.output
    assert "Cuba is named at 2 moments in 2 recordings." in res.output
    assert "page 1 of 1" in res.output and "[2]" in res.output
    res = runner.invoke(app, ["ask", "Every moment where Cuba is named.", "--db", str(cuba_db),
                              "--json"])
    data = json.loads(res.stdout)
    assert data["mode"] == "evidence" and data["count"] == 2 and len(data["moments"]) == 2
    res = runner.invoke(app, ["ask", "Every moment where Cuba is named.", "--db", str(cuba_db),
                              "--page", "2"])
    assert res.exit_code == 0 and "past the last" in res.output


def test_the_setting_turns_lists_off(cuba_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import deerin

    monkeypatch.setenv("DEERIN_EVIDENCE_LISTS", "no")
    assert deerin.evidence("Which recordings mention Cuba?", cuba_db) is None


def test_communities_are_kept_beside_the_graph(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Detected once per graph: every `deerin ask --mode global` opens the graph anew."""
    import assistant.graph.index as graph_index

    mentions = [_m(k, "GPE", f"c{i}", "a", 10 * i)
                for i in range(6) for k in (("cuba", "spain") if i < 3 else ("japan", "china"))]
    mentions += [_m("mexico", "GPE", f"d{i}", "b", 10 * i) for i in range(6)]
    kg = KnowledgeGraph(mentions)
    first = graph_index.GraphIndex(None, kg, None, tmp_path).communities()  # type: ignore[arg-type]
    assert first and len(list(tmp_path.glob("communities-*.json"))) == 1
    monkeypatch.setattr(graph_index, "detect", lambda kg: pytest.fail("detected again"))
    again = graph_index.GraphIndex(None, kg, None, tmp_path).communities()  # type: ignore[arg-type]
    assert again == first
