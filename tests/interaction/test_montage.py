"""Phrase montages on the real recordings: finding, cutting, rendering, and bad input.

The measured check: a phrase said N times in ../shared/media gives a montage of N
segments whose length is the sum of the cut spans (within 2 frames per cut), and speech
recognition on the rendered montage hears the phrase N times.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deerin.cli import app
from indexing.settings import Settings
from indexing.stores.lance import LanceStore
from indexing.types import Clip, ClipKind, TextTime
from interaction.collection import Collection, find_moments
from interaction.cuts import Cut, MediaInfo, Occurrence, plan_cuts
from interaction.montage import render
from interaction.phrases import find_phrase
from interaction.transcript import transcripts

PHRASE = "my fellow Americans"  # said in the Columbia address and in JFK's inaugural


def _ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                          "-show_streams", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


@pytest.fixture(scope="module")
def collection(speech_index: Path) -> Collection:
    return Collection.open(LanceStore(speech_index, create=False))


# -- finding ------------------------------------------------------------------------------------
def test_phrase_found_on_word_times_in_two_files(collection: Collection) -> None:
    found = find_moments(collection, PHRASE)
    assert [Path(o.media_path).name for o in found] == [
        "gwb_columbia_address_2003.ogg", "jfk_inaugural_1961.flac"]
    for o in found:
        assert o.kind is ClipKind.SPEECH
        assert o.text.lower() == PHRASE.lower()
        assert 0 < o.end - o.start < 2.5  # three words, not the whole clip
        assert PHRASE.lower() in o.context.lower()


def test_fuzzy_matches_stems_exact_does_not(collection: Collection) -> None:
    exact = find_moments(collection, "Columbia")
    fuzzy = find_moments(collection, "columbia", "fuzzy")
    assert len(exact) == 2
    assert len(fuzzy) == 3 and any(o.text == "Columbia's" for o in fuzzy)


def test_subtitle_cues_time_a_film_without_speech(collection: Collection) -> None:
    found = find_moments(collection, "Popeye")
    assert len(found) == 1
    assert found[0].kind is ClipKind.SUBTITLE
    assert Path(found[0].media_path).name == "popeye_sinbad_1936_part3.mkv"


def test_phrase_across_two_clips_and_word_times_beat_cues() -> None:
    def clip(kind: ClipKind, start: float, words: list[tuple[str, float]], seq: int) -> Clip:
        text, times, at = "", [], 0
        for w, t in words:
            if text:
                text += " "
                at += 1
            times.append(TextTime(at, at + len(w), t, t + 0.4))
            text += w
            at += len(w)
        return Clip("m1", "/x/film.mp4", kind, start, words[-1][1] + 0.4, text, seq=seq,
                    times=tuple(times))

    clips = [clip(ClipKind.SPEECH, 0.0, [("we", 0.0), ("choose", 0.5)], 0),
             clip(ClipKind.SPEECH, 1.0, [("to", 1.0), ("go", 1.5)], 1),
             Clip("m1", "/x/film.mp4", ClipKind.SUBTITLE, 0.0, 2.0, "We choose to go",
                  times=(TextTime(0, 15, 0.0, 2.0),))]
    found = find_phrase(transcripts(clips), "choose to")
    # Found across the clip edge, timed by its words; the cue saying it too is dropped.
    assert [(o.kind, o.start, o.end) for o in found] == [(ClipKind.SPEECH, 0.5, 1.4)]


def test_plan_pads_merges_and_limits() -> None:
    media = {"a": MediaInfo("a", "/a.wav", 10.0, False), "b": MediaInfo("b", "/b.wav", 5.0, False)}

    def occ(mid: str, s: float, e: float) -> Occurrence:
        return Occurrence(mid, f"/{mid}.wav", ClipKind.SPEECH, s, e, "x")

    plan = plan_cuts([occ("b", 4.8, 4.95), occ("a", 0.1, 0.5), occ("a", 0.9, 1.2),
                      occ("a", 5.0, 5.5)], media, pad=0.25)
    assert [(c.media_id, c.start, c.end) for c in plan.cuts] == [
        ("a", 0.0, 1.45), ("a", 4.75, 5.75), ("b", 4.55, 5.0)]
    assert len(plan.cuts[0].occurrences) == 2
    limited = plan_cuts([occ("a", 0.1, 0.5), occ("a", 5.0, 5.5), occ("b", 1, 2)], media,
                        pad=0.0, max_cuts=2)
    assert (len(limited.cuts), limited.found, limited.dropped) == (2, 3, 1)
    with pytest.raises(ValueError):
        plan_cuts([], media, pad=-1)


# -- rendering ----------------------------------------------------------------------------------
def test_montage_has_n_segments_right_length_and_asr_hears_the_phrase_n_times(
        collection: Collection, tmp_path: Path) -> None:
    found = find_moments(collection, PHRASE)
    plan = plan_cuts(found, collection.media, pad=0.3)
    n = len(found)
    assert n == 2 and len(plan.cuts) == n
    out = tmp_path / "montage.m4a"
    result = render(plan.cuts, out)
    assert not result.video and len(result.segments) == n
    frame = 1 / 25
    expected = sum(c.duration for c in plan.cuts)
    probed = float(_ffprobe(out)["format"]["duration"])
    assert abs(probed - expected) <= 2 * frame * n, (probed, expected)
    from indexing.backends.faster_whisper import transcriber_from_settings

    heard = " ".join(s.text for s in transcriber_from_settings(Settings()).transcribe(out))
    said = re.findall(r"fellow\W+americans", heard.lower())
    assert len(said) == n, heard


def test_mixed_video_montage_is_frame_exact(collection: Collection, tmp_path: Path) -> None:
    """A film with sound, a silent film and an audio file in one video montage: one picture
    size, a picture (black) for the audio file, sound (silence) for the silent film."""
    media = collection.media
    by_name = {Path(m.path).name: m for m in media.values()}

    def cut(name: str, start: float, end: float) -> Cut:
        m = by_name[name]
        return Cut(m.media_id, m.path, start, end, "", m.has_video, m.duration)

    cuts = [cut("his_girl_friday_1940_clip.mp4", 1.0, 2.9),
            cut("popeye_sinbad_1936_part3.mkv", 36.0, 38.5),
            cut("jfk_inaugural_1961.flac", 1.0, 2.4)]
    out = tmp_path / "mixed.mp4"
    result = render(cuts, out)
    info = _ffprobe(out)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert result.video and (video["width"], video["height"]) == (720, 478)
    fps = result.fps
    assert int(video["nb_frames"]) == sum(round(c.duration * fps) for c in cuts)
    expected = sum(c.duration for c in cuts)
    assert abs(float(info["format"]["duration"]) - expected) <= 2 / fps * len(cuts)
    assert abs(float(audio["duration"]) - float(video["duration"])) < 0.05


# -- the command and bad input ------------------------------------------------------------------
runner = CliRunner()


def test_cli_montage_lists_sources_and_exports(speech_index: Path, tmp_path: Path) -> None:
    out, edl = tmp_path / "m.mp4", tmp_path / "m.edl"
    res = runner.invoke(app, ["montage", PHRASE, "--db", str(speech_index), "-o", str(out),
                              "--export", str(edl), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout[res.stdout.index("{"):])
    assert [Path(c["media"]).name for c in data["cuts"]] == [
        "gwb_columbia_address_2003.ogg", "jfk_inaugural_1961.flac"]
    assert data["video"] is False  # every source is audio: an audio-only mp4
    assert out.stat().st_size > 1000 and "jfkinaug" in edl.read_text()


def test_cli_phrase_found_nowhere_writes_nothing(speech_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "none.mp4"
    res = runner.invoke(app, ["montage", "purple elephant umbrella", "--db", str(speech_index),
                              "-o", str(out)])
    assert res.exit_code == 1
    assert "said nowhere" in res.output and not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_cli_unwritable_output_fails_before_any_work(tmp_path: Path) -> None:
    # No index exists at --db: the output is checked first, so that is what is reported.
    no_index = str(tmp_path / "no-index")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    (tmp_path / "dir.mp4").mkdir()
    for out, reason in ((tmp_path / "missing-dir" / "m.mp4", "missing-dir does not exist"),
                        (tmp_path / "dir.mp4", "is a directory"),
                        (a_file / "m.mp4", "a-file does not exist")):
        res = runner.invoke(app, ["montage", "country", "--db", no_index, "-o", str(out)])
        assert res.exit_code == 1, res.output
        assert reason in " ".join(res.output.split())
    assert not (tmp_path / "no-index").exists()


def test_cli_max_keeps_the_first_cuts(speech_index: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.wav"
    res = runner.invoke(app, ["montage", "country", "--db", str(speech_index), "-o", str(out),
                              "--max", "2", "--json"])
    assert res.exit_code == 0, res.output
    assert "4 cuts found; the first 2 are kept" in res.output
    assert len(json.loads(res.stdout[res.stdout.index("{"):])["cuts"]) == 2


def test_cli_skips_files_missing_since_indexing(tmp_path: Path, jfk: Path, columbia: Path
                                                ) -> None:
    gone = tmp_path / "media" / "jfk_copy.flac"
    gone.parent.mkdir()
    shutil.copy(jfk, gone)
    db = tmp_path / "db"
    res = runner.invoke(app, ["index", str(gone), str(columbia), "--db", str(db)])
    assert res.exit_code == 0, res.output
    gone.unlink()
    out = tmp_path / "m.wav"
    res = runner.invoke(app, ["montage", PHRASE, "--db", str(db), "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert f"skipped: {gone} is missing" in " ".join(res.output.split())
    cuts = json.loads(res.stdout[res.stdout.index("{"):])["cuts"]
    assert [Path(c["media"]).name for c in cuts] == ["gwb_columbia_address_2003.ogg"]
    # Only the missing file says it: exit 1, nothing written.
    out.unlink()
    res = runner.invoke(app, ["montage", "ask not", "--db", str(db), "-o", str(out)])
    assert res.exit_code == 1 and "is missing" in res.output and not out.exists()


def test_cli_ngrams(speech_index: Path) -> None:
    res = runner.invoke(app, ["ngrams", "--db", str(speech_index), "--n", "2..3", "--json"])
    assert res.exit_code == 0, res.output
    found = {g["phrase"]: g for g in json.loads(res.stdout)}
    assert found["potential energy"]["count"] >= 3
    assert "gravitational potential" not in found or found["gravitational potential"][
        "count"] > found.get("gravitational potential energy", {"count": 0})["count"]
    assert all(len(p.split()) in (2, 3) for p in found)
    res = runner.invoke(app, ["ngrams", "--db", str(speech_index), "--n", "4..2"])
    assert res.exit_code == 2
