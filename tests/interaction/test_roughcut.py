"""Rough cuts: the brief's length, the checks on the LLM's choice, and real cuts of the real
index (retrieval order without an LLM; the shipped default LLM in the slow test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.retrieval import Retriever
from deerin.cli import app
from indexing.settings import Settings
from indexing.stores.lance import LanceStore
from indexing.types import ClipKind
from interaction.collection import Collection
from interaction.cuts import Cut, Occurrence
from interaction.roughcut import by_retrieval, choose, fill, parse_brief, rough_cut

runner = CliRunner()
BRIEF = "a 60-second piece about the Columbia crew"


@pytest.mark.parametrize(("brief", "topic", "seconds"), [
    (BRIEF, "the Columbia crew", 60.0),
    ("2 minutes on kinetic energy", "kinetic energy", 120.0),
    ("a 30 s cut about the moon", "the moon", 30.0),
    ("a short film about Popeye", "Popeye", 60.0),
    ("the Columbia crew", "the Columbia crew", 60.0),
])
def test_brief_gives_topic_and_length(brief: str, topic: str, seconds: float) -> None:
    assert parse_brief(brief) == (topic, seconds)


def _cuts(*lengths: float) -> list[Cut]:
    out = []
    for i, n in enumerate(lengths):
        occ = Occurrence("m", "/a.wav", ClipKind.SPEECH, 10.0 * i, 10.0 * i + n, f"s{i}")
        out.append(Cut("m", "/a.wav", 10.0 * i, 10.0 * i + n, f"s{i}", False, 100.0, (occ,)))
    return out


def test_llm_choice_is_checked() -> None:
    offered = _cuts(10, 20, 30, 5)
    picked, note = choose("3, 1, 1, 9, 2, 4", offered, 45)
    # Listed numbers only, each once, in the LLM's order, never past the length.
    assert [c.text for c in picked] == ["s2", "s0", "s3"]
    assert "9 is not a listed clip" in note and "clip 2 would make the cut longer" in note
    assert choose("I would pick the best ones.", offered, 45) == ([], "")
    assert [c.text for c in by_retrieval(offered, 32)] == ["s0", "s1"]
    # A short choice is kept in its order and filled with the best candidates that still fit.
    assert [c.text for c in fill(offered[2:3], offered, 45)] == ["s2", "s0", "s3"]
    assert fill(offered, offered, 100) == offered


@pytest.fixture(scope="module")
def collection(speech_index: Path) -> Collection:
    return Collection.open(LanceStore(speech_index, create=False))


def test_cut_without_llm_keeps_retrieval_order_and_cites(collection: Collection,
                                                         speech_index: Path) -> None:
    retriever = Retriever(collection.store, Settings.from_env({}, db_dir=speech_index),
                          reranker="off")
    result = rough_cut("a 20-second piece about the Columbia crew", retriever, None,
                       collection.present())
    assert result.chosen_by == "retrieval" and "no LLM" in result.note
    assert result.cuts and result.duration <= 20.5
    assert all(Path(c.media_path).name == "gwb_columbia_address_2003.ogg" for c in result.cuts)
    for c in result.cuts:  # every clip says where it came from and what is said there
        (moment,) = c.occurrences
        assert moment.text == c.text and c.start <= moment.start and moment.end <= c.end


@pytest.mark.slow
def test_cut_command_with_the_default_llm(speech_index: Path, tmp_path: Path) -> None:
    import opentimelineio as otio

    edl, preview = tmp_path / "cut.edl", tmp_path / "cut.m4a"
    res = runner.invoke(app, ["cut", BRIEF, "--db", str(speech_index), "-o", str(edl),
                              "-o", str(tmp_path / "cut.otio"), "--preview", str(preview),
                              "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout[res.stdout.index("{"):])
    # The shipped 1.5B model names about three sentences; the next best fill the minute.
    assert data["cuts"] and 40 <= data["duration"] <= 60.5
    assert data["chosen_by"] in ("llm", "retrieval")
    if data["chosen_by"] == "retrieval":
        assert data["note"]  # a fallback always says why
    timeline = otio.adapters.read_from_file(str(tmp_path / "cut.otio"))
    assert [c.metadata["deerin"]["label"] for c in timeline.video_tracks()[0].find_clips()] \
        == [c["label"] for c in data["cuts"]]
    assert edl.read_text().count(" V     C ") == len(data["cuts"]) and preview.stat().st_size


def test_cut_bad_input(speech_index: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["cut", " ", "--db", str(speech_index)])
    assert res.exit_code == 2
    res = runner.invoke(app, ["cut", BRIEF, "--db", str(speech_index), "--llm", "nonsense:x"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["cut", BRIEF, "--db", str(speech_index),
                              "--preview", str(tmp_path / "gone" / "p.mp4")])
    assert res.exit_code == 1 and "does not exist" in res.output
