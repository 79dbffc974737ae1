"""Exports: EDL, OTIO and FCP XML round-trip through OpenTimelineIO with identical source
ranges; captions parse back; IIIF manifests validate against Presentation 3."""

from __future__ import annotations

import copy
import json
import shutil
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deerin.cli import app
from indexing.stages.subtitles import read_cues
from indexing.stores.lance import LanceStore
from indexing.timecode import SourceTiming, Timing
from indexing.types import ClipKind
from interaction.collection import Collection, find_moments
from interaction.cuts import plan_cuts
from interaction.exports import write_sequence, write_transcript
from interaction.iiif import Entity, FileFacts, manifest, validate
from interaction.timeline import frame_range

runner = CliRunner()


@pytest.fixture(scope="module")
def collection(speech_index: Path) -> Collection:
    return Collection.open(LanceStore(speech_index, create=False))


@pytest.fixture(scope="module")
def cuts(collection: Collection):
    found = find_moments(collection, "country") + find_moments(collection, "universe")
    return plan_cuts(found, collection.media, pad=0.3).cuts


@pytest.mark.parametrize("suffix", [".edl", ".otio", ".xml"])
def test_timelines_round_trip_with_identical_source_ranges(cuts, tmp_path: Path,
                                                           suffix: str) -> None:
    import opentimelineio as otio

    rate = 30
    timing = Timing(rate=Fraction(rate))
    path = write_sequence(cuts, tmp_path / f"cut{suffix}", name="country", timing=timing)
    back = otio.adapters.read_from_file(str(path), **({"rate": rate} if suffix == ".edl"
                                                      else {}))
    clips = list(back.video_tracks()[0].find_clips())
    got = [(c.source_range.start_time.to_frames(), c.source_range.duration.to_frames(),
            c.source_range.start_time.rate) for c in clips]
    assert got == [(*frame_range(c, SourceTiming(Fraction(rate))), rate) for c in cuts]
    assert [Path(c.name).name for c in clips] == [c.name for c in cuts]
    if suffix != ".edl":  # EDL has no URLs of its own beyond comments; the others keep them
        assert [c.media_reference.target_url for c in clips] == [
            Path(c.media_path).as_uri() for c in cuts]
    if suffix == ".otio":  # the citation travels with each clip
        assert clips[0].metadata["deerin"]["media"] == cuts[0].media_path
        assert clips[0].metadata["deerin"]["moments"][0]["text"] == "country"


def test_sequence_captions_m3u_and_json(cuts, tmp_path: Path) -> None:
    vtt = write_sequence(cuts, tmp_path / "m.vtt")
    cues = read_cues(vtt)
    assert [c.text for c in cues] == [c.text for c in cuts]
    assert cues[0].start == 0.0
    assert abs(cues[-1].end - sum(c.duration for c in cuts)) < 0.002
    srt = read_cues(write_sequence(cuts, tmp_path / "m.srt"))
    assert [(c.start, c.end) for c in srt] == [(c.start, c.end) for c in cues]
    m3u = write_sequence(cuts, tmp_path / "m.m3u").read_text().splitlines()
    assert m3u[0] == "#EXTM3U" and f"#EXTVLCOPT:start-time={cuts[0].start:.3f}" in m3u
    data = json.loads(write_sequence(cuts, tmp_path / "m.json").read_text())
    assert [c["media"] for c in data["cuts"]] == [c.media_path for c in cuts]


def test_transcripts_export_as_vtt_srt_json(collection: Collection, tmp_path: Path) -> None:
    friday = [t for t in collection.transcripts() if "friday" in t.media_path]
    assert {t.kind for t in friday} == {ClipKind.SPEECH, ClipKind.SUBTITLE}
    for tr in friday:
        cues = read_cues(write_transcript(tr, tmp_path / f"{tr.kind}.vtt", "vtt"))
        assert cues and all(c.end <= 6.2 for c in cues)
        assert read_cues(write_transcript(tr, tmp_path / f"{tr.kind}.srt", "srt")) == cues
    speech = next(t for t in friday if t.kind is ClipKind.SPEECH)
    data = json.loads(write_transcript(speech, tmp_path / "t.json", "json").read_text())
    assert data["words"][0]["text"] and data["cues"][0]["start"] == data["words"][0]["start"]
    sub = next(t for t in friday if t.kind is ClipKind.SUBTITLE)
    assert read_cues(tmp_path / "subtitle.vtt")[0].text == "Hildy!"
    assert len(read_cues(tmp_path / "subtitle.vtt")) == len(sub.times)


def test_iiif_manifest_validates_and_bad_ones_do_not(collection: Collection) -> None:
    store = collection.store
    popeye = next(m for m in store.media() if m.name.startswith("popeye"))
    trs = [t for t in collection.transcripts() if t.media_id == popeye.media_id]
    shots = store.shots_of(popeye.media_id)
    data = manifest(FileFacts(popeye.media_id, popeye.path, popeye.duration, True, 720, 478,
                              "video/x-matroska"), trs, shots, store.clips_of(popeye.media_id),
                    [Entity(36.3, 40.3, "Popeye", "PERSON")])
    validate(data)
    assert data["@context"] == "http://iiif.io/api/presentation/3/context.json"
    canvas = data["items"][0]
    assert canvas["duration"] == round(popeye.duration, 3)
    body = canvas["items"][0]["items"][0]["body"]
    assert body["type"] == "Video" and body["id"].endswith(
        f"/media/{popeye.media_id}/popeye_sinbad_1936_part3.mkv")
    pages = {p["id"].rsplit("/", 1)[1]: p for p in canvas["annotations"]}
    assert set(pages) == {"captions", "transcript", "shots", "entities"}
    assert len(pages["shots"]["items"]) == len(shots)
    # Captions are whole WebVTT files on the whole canvas; every other annotation is timed.
    assert all("#t=" in a["target"] for kind, p in pages.items() if kind != "captions"
               for a in p["items"])
    assert [a["body"]["format"] for a in pages["captions"]["items"]] == ["text/vtt"] * len(trs)
    toc = data["structures"][0]["items"]
    assert len(toc) == len(shots) and toc[0]["items"][0]["type"] == "Canvas"

    def broken(change) -> dict:
        bad = copy.deepcopy(data)
        change(bad)
        return bad

    for bad in (broken(lambda d: d["items"][0].pop("items")),
                broken(lambda d: d["items"][0].update(duration="long")),
                broken(lambda d: d.update(id="urn:x")),
                broken(lambda d: d.update({"@context": "http://iiif.io/api/presentation/2/"
                                                       "context.json"})),
                broken(lambda d: pages_of(d)[0]["items"][0].update(
                    target=d["items"][0]["id"] + "#t=0,999"))):
        with pytest.raises(ValueError):
            validate(bad)


def pages_of(data: dict) -> list:
    return data["items"][0]["annotations"]


def test_cli_export_commands(speech_index: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["export", "transcript", "his_girl_friday_1940_clip.mp4",
                              "--db", str(speech_index), "-o", str(tmp_path), "-f", "srt"])
    assert res.exit_code == 0, res.output
    assert {p.name for p in tmp_path.iterdir()} == {
        "his_girl_friday_1940_clip.speech.srt", "his_girl_friday_1940_clip.subtitle.srt"}
    # The manifest's entities come from the knowledge graph, which the export brings up to
    # date first: that writes into the index, so it runs on a copy of the shared one.
    own = tmp_path / "index"
    shutil.copytree(speech_index, own)
    res = runner.invoke(app, ["export", "iiif", "gwb_columbia_address_2003.ogg", "--db",
                              str(own), "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "gwb_columbia_address_2003.manifest.json").read_text())
    validate(data)
    entities = [a["body"]["value"] for p in data["items"][0]["annotations"]
                if p["id"].endswith("/entities") for a in p["items"]]
    assert "Houston" in entities
    res = runner.invoke(app, ["export", "search", "space shuttle", "--db", str(speech_index),
                              "-o", str(tmp_path / "s.edl"), "-o", str(tmp_path / "s.m3u"),
                              "-k", "3"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "s.edl").read_text().count(" V     C ") == 3
    res = runner.invoke(app, ["export", "transcript", "nothing.mp4", "--db", str(speech_index),
                              "-o", str(tmp_path)])
    assert res.exit_code == 1 and "not indexed: nothing.mp4" in res.output
    res = runner.invoke(app, ["export", "search", "x", "--db", str(speech_index),
                              "-o", str(tmp_path / "s.docx")])
    assert res.exit_code == 2
