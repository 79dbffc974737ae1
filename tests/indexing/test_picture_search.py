"""Picture search (open_clip) and keyframe captions (transformers) on real footage.

No CLIP or captioning weights can be downloaded here and none ship on PyPI, so these tests use
TINY RANDOMLY INITIALISED models built from configs (tests/support/visual_models.py) and loaded
through the same code paths as real weights (a ``DEERIN_CLIP_MODEL`` / ``DEERIN_CAPTION_MODEL``
folder). Their outputs are noise: the tests check plumbing, storage, fusion, resumption, the
budget and the messages, never search quality. The index is the real bikes clip (6 shots), real
LanceDB."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from assistant.retrieval import Retriever
from assistant.settings import RERANK_OFF
from assistant.shots import ShotSearch, fuse_shots, shot_hit
from assistant.web.picture import found_shots, picture_search_note
from deerin.cli import app
from deerin.doctor import picture_checks
from indexing.backends.open_clip import (
    DISABLED_MESSAGE,
    ClipSpecError,
    clip_status,
    parse_clip_spec,
)
from indexing.backends.transformers import DISABLED_MESSAGE as CAPTIONS_OFF
from indexing.backends.transformers import HFCaptioner
from indexing.enrich.captions import caption_targets, enrich_captions
from indexing.pipeline import Indexer
from indexing.settings import Settings
from indexing.stages.embed import embedder_from_settings
from indexing.stages.picture import shot_frames
from indexing.stores.caption_cache import CaptionCache
from indexing.stores.lance import LanceStore
from indexing.stores.shot_vectors import ShotMatch, ShotVectors
from indexing.types import Clip, ClipKind, Hit, Shot
from tests.support import REPO
from tests.support.visual_models import tiny_random_captioner, tiny_random_clip

pytestmark = pytest.mark.extra("visual")  # the tiny CLIP model runs on open_clip


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(tiny random CLIP folder, tiny random captioner folder)."""
    root = tmp_path_factory.mktemp("tiny-random-models")
    return tiny_random_clip(root / "clip"), tiny_random_captioner(root / "captioner")


@pytest.fixture(scope="module")
def clip_index(tmp_path_factory: pytest.TempPathFactory, bikes: Path,
               models: tuple[Path, Path]) -> Path:
    """The bikes clip indexed with the tiny random CLIP model (no OCR or faces: not tested
    here, and they cost time)."""
    db = tmp_path_factory.mktemp("clip-index")
    settings = Settings.from_env({}, db_dir=db, clip_model=str(models[0]), ocr=False,
                                 faces=False)
    report = Indexer(LanceStore(db), settings).index([bikes])
    assert report.indexed == 1, report
    return db


def _settings(db: Path, models: tuple[Path, Path], clip: bool = True) -> Settings:
    return Settings.from_env({}, db_dir=db, clip_model=str(models[0]) if clip else "",
                             caption_model=str(models[1]))


def _copy(db: Path, tmp_path: Path) -> Path:
    out = tmp_path / "db"
    shutil.copytree(db, out)
    return out


# -- CLIP --------------------------------------------------------------------------------------
def test_clip_spec_forms(tmp_path: Path, models: tuple[Path, Path]) -> None:
    assert parse_clip_spec("") is None and parse_clip_spec("off") is None
    folder = parse_clip_spec(str(models[0]))
    assert folder is not None and folder.name.startswith("local-dir:") and folder.folder
    tagged = parse_clip_spec("ViT-B-32@laion2b_s34b_b79k")
    assert tagged is not None and (tagged.name, tagged.pretrained) == ("ViT-B-32",
                                                                     "laion2b_s34b_b79k")
    for bad in ("ViT-B-32", str(tmp_path / "missing"), str(tmp_path)):
        with pytest.raises(ClipSpecError):
            parse_clip_spec(bad)
    assert clip_status(None) == (False, DISABLED_MESSAGE)
    assert DISABLED_MESSAGE == "shot search disabled: no CLIP weights; set DEERIN_CLIP_MODEL"


def test_index_stores_one_vector_per_shot_frame(clip_index: Path,
                                                models: tuple[Path, Path]) -> None:
    store = LanceStore(clip_index, create=False)
    (media,) = store.media()
    shots = store.shots_of(media.media_id)
    search = ShotSearch(clip_index, _settings(clip_index, models))
    model = search.embedder().model_id
    table = ShotVectors(clip_index)
    # Every bikes shot is shorter than clip_long_shot: one frame (its keyframe) each.
    assert table.count(model) == len(shots) == 6
    assert table.models() == [model]
    rows = table._table(16).to_arrow().to_pylist()  # the tiny model's width
    assert {r["shot_index"] for r in rows} == {s.index for s in shots}
    assert all(abs(np.linalg.norm(r["vector"]) - 1) < 1e-4 for r in rows)
    assert all(Path(r["keyframe"]).is_file() for r in rows)


def test_unchanged_file_gets_vectors_when_clip_is_switched_on(
        clip_index: Path, models: tuple[Path, Path], bikes: Path, tmp_path: Path) -> None:
    db = _copy(clip_index, tmp_path)
    ShotVectors(db)._db.drop_table("shot_vectors_16")  # as indexed before picture search existed
    report = Indexer(LanceStore(db), _settings(db, models)).index([bikes])
    assert report.unchanged == 1
    assert ShotVectors(db).count() == 6
    again = Indexer(LanceStore(db), _settings(db, models)).index([bikes])
    assert again.unchanged == 1 and ShotVectors(db).count() == 6  # re-adding is a no-op


def test_broken_clip_weights_only_warn(clip_index: Path, models: tuple[Path, Path],
                                      bikes: Path, tmp_path: Path) -> None:
    db = _copy(clip_index, tmp_path)
    ShotVectors(db)._db.drop_table("shot_vectors_16")
    broken = tmp_path / "broken-clip"
    shutil.copytree(models[0], broken)
    (broken / "open_clip_model.safetensors").write_bytes(b"not a safetensors file")
    settings = replace(_settings(db, models), clip_model=str(broken))
    report = Indexer(LanceStore(db), settings).index([bikes])
    assert not report.failures and report.unchanged == 1
    (result,) = report.results
    assert any(w.startswith("shot embeddings skipped:") for w in result.warnings)
    assert ShotVectors(db).count() == 0


def test_vectors_of_two_widths_live_apart_and_go_with_their_file(tmp_path: Path) -> None:
    from indexing.stores.base import MediaRecord
    from indexing.stores.shot_vectors import ShotVector

    store = LanceStore(tmp_path / "db")
    table = ShotVectors(store.db_dir)
    rng = np.random.default_rng(0)

    def rows(dim: int, path: str) -> list[ShotVector]:
        v = rng.normal(size=(2, dim)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return [ShotVector("m" + path, path, i, i, i + 1, i + 0.5, f"{i}.jpg", f"{i}.jpg", v[i])
                for i in range(2)]

    a16, a8, b16 = rows(16, "/a.mp4"), rows(8, "/a.mp4"), rows(16, "/b.mp4")
    assert table.add("wide", a16) == 2 and table.add("wide", a16) == 0  # re-adding: no-op
    table.add("narrow", a8)
    table.add("wide", b16)
    assert table.models() == ["narrow", "wide"] and table.count() == 6
    found = table.search("wide", a16[1].vector, k=5)
    assert (found[0].media_path, found[0].shot_index) == ("/a.mp4", 1)
    assert found[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert {m.media_path for m in table.search("narrow", a8[0].vector)} == {"/a.mp4"}
    with store.writing():
        store.remove_media("/a.mp4")  # every width's rows of the file go with it
    assert table.count() == 2 and not table.has("narrow", "m/a.mp4")
    # Rows no media record vouches for (a killed run's) are pruned as orphans.
    store.put_media(MediaRecord(media_id="other", path="/b.mp4", duration=2.0, size=1,
                                mtime_ns=1, has_audio=False, has_video=True, clips=0, shots=2,
                                indexed_at=0.0))
    with store.writing():
        store.prune_orphans()
    assert table.count() == 0


def test_long_shot_gets_frames_spread_over_it(bikes: Path, clip_index: Path,
                                              tmp_path: Path) -> None:
    store = LanceStore(clip_index, create=False)
    (media,) = store.media()
    key = store.shots_of(media.media_id)[0].keyframe
    long = Shot(index=0, start=0.0, end=9.0, keyframe=key, keyframe_time=4.5)
    frames, warnings = shot_frames(media.media_id, bikes, [long], tmp_path, per_long_shot=3,
                                   long_shot=4.0)
    assert not warnings
    assert [round(f.time, 1) for f in frames] == [4.5, 1.5, 7.5]
    assert all(f.path.is_file() for f in frames)


def test_shot_list_is_fused_into_hybrid_results(clip_index: Path,
                                                models: tuple[Path, Path]) -> None:
    store = LanceStore(clip_index, create=False)
    retriever = Retriever(store, _settings(clip_index, models), reranker=RERANK_OFF)
    hits = retriever.search("cyclists on a street", k=10)
    shots = [h for h in hits if h.clip.kind is ClipKind.SHOT]
    assert len(shots) == 6 and all(h.sources == ("shot",) for h in shots)
    assert all(h.clip.keyframe and Path(h.clip.keyframe).is_file() for h in shots)
    assert all(0.0 <= h.score <= 1.0 for h in shots)
    # Text-only kinds leave the picture list out.
    assert not retriever.search("cyclists", kinds=[ClipKind.SPEECH])
    # Off: no shot list, and the reason is plain.
    off = Retriever(store, _settings(clip_index, models, clip=False), reranker=RERANK_OFF)
    assert not off.search("cyclists on a street")
    assert off.shots.problem == DISABLED_MESSAGE


def _hit(kind: ClipKind, start: float, shot: int | None = None, score: float = 0.5) -> Hit:
    clip = Clip("m", "/f.mp4", kind, start, start + 2, f"{kind} {start}", shot_index=shot)
    return Hit(clip=clip, score=score, sources=("vector",), clip_id=clip.clip_id)


def test_fusion_interleaves_by_rank_and_merges_a_captioned_shot() -> None:
    text = [_hit(ClipKind.SPEECH, 0), _hit(ClipKind.CAPTION, 10, shot=3),
            _hit(ClipKind.SPEECH, 20)]
    shot = [shot_hit(ShotMatch("m", "/f.mp4", 3, 10, 12, 11, "k.jpg", "k.jpg", 0.3)),
            shot_hit(ShotMatch("m", "/f.mp4", 7, 40, 42, 41, "k.jpg", "k.jpg", 0.2))]
    fused = fuse_shots(text, shot, weight=0.5)
    # The caption of shot 3 takes the shot's rank too and rises above the first speech hit.
    assert [h.clip.start for h in fused] == [10, 0, 20, 40]
    assert fused[0].sources == ("vector", "shot")
    assert fused[-1].clip.kind is ClipKind.SHOT and fused[-1].score == pytest.approx(0.25)


def test_search_cli_shows_shot_keyframes_and_says_when_off(clip_index: Path,
                                                           models: tuple[Path, Path]) -> None:
    runner = CliRunner()
    env = {"DEERIN_RERANK": "off", "DEERIN_CLIP_MODEL": str(models[0])}
    out = runner.invoke(app, ["search", "a street", "--db", str(clip_index), "--json"], env=env)
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert rows and all(r["kind"] == "shot" and Path(r["keyframe"]).is_file() for r in rows)
    off = runner.invoke(app, ["search", "a street", "--db", str(clip_index)],
                        env={"DEERIN_RERANK": "off", "DEERIN_CLIP_MODEL": ""})
    assert off.exit_code == 0
    assert DISABLED_MESSAGE in " ".join(off.stderr.split())


def test_doctor_and_app_say_which_picture_models() -> None:
    checks = {c.name: c for c in picture_checks({})}
    assert not checks["CLIP shot search"].ok
    assert DISABLED_MESSAGE in checks["CLIP shot search"].detail
    assert CAPTIONS_OFF in checks["keyframe captions"].detail
    assert picture_search_note(Settings()) == (
        "Shot search disabled: no CLIP weights; set DEERIN_CLIP_MODEL.")


def test_doctor_names_configured_models(models: tuple[Path, Path]) -> None:
    env = {"DEERIN_CLIP_MODEL": str(models[0]), "DEERIN_CAPTION_MODEL": str(models[1])}
    checks = {c.name: c for c in picture_checks(env)}
    assert checks["CLIP shot search"].ok and str(models[0]) in checks["CLIP shot search"].detail
    assert checks["keyframe captions"].ok and str(models[1]) in checks["keyframe captions"].detail
    assert picture_search_note(Settings(clip_model=str(models[0]))) is None


def test_chat_shows_found_shots_not_already_cited() -> None:
    a = shot_hit(ShotMatch("m", "/f.mp4", 1, 0, 2, 1, "k.jpg", "k.jpg", 0.3))
    b = shot_hit(ShotMatch("m", "/f.mp4", 2, 2, 4, 3, "k.jpg", "k.jpg", 0.3))
    speech = _hit(ClipKind.SPEECH, 0)

    class Cited:
        clip = a.clip

    assert found_shots([speech, a, b], [Cited()]) == [b]


def test_eval_shots_runs_with_and_without_clip(clip_index: Path,
                                               models: tuple[Path, Path]) -> None:
    runner = CliRunner()
    sets = REPO / "eval" / "sets" / "shots.jsonl"
    args = ["eval", "--shots", str(sets), "--db", str(clip_index), "--json"]
    off = runner.invoke(app, args, env={"DEERIN_CLIP_MODEL": ""})
    assert off.exit_code == 0, off.output
    assert json.loads(off.stdout)["problem"] == DISABLED_MESSAGE
    on = runner.invoke(app, args, env={"DEERIN_CLIP_MODEL": str(models[0])})
    assert on.exit_code == 0, on.output
    result = json.loads(on.stdout)
    # Only the bikes queries are scored here (the other footage is not in this index).
    assert result["queries"] == 5 and len(result["skipped"]) >= 30
    assert 0.0 <= result["recall@5"] <= 1.0 and result["chance_recall@5"] > 0


# -- captions ----------------------------------------------------------------------------------
class InterruptingCaptioner:
    """The real (tiny random) captioner, stopped after ``after`` images as a kill would."""

    def __init__(self, inner: HFCaptioner, after: int) -> None:
        self.inner, self.after, self.model_id = inner, after, inner.model_id

    def caption(self, images: Sequence[Path]) -> list[str]:
        if self.after <= 0:
            raise KeyboardInterrupt
        self.after -= len(images)
        return self.inner.caption(images)


def _caption_ids(store: LanceStore) -> list[int | None]:
    return sorted(c.shot_index or 0 for c in store.all_clips() if c.kind is ClipKind.CAPTION)


def test_captions_resume_after_interruption_without_duplicates(
        clip_index: Path, models: tuple[Path, Path], tmp_path: Path) -> None:
    db = _copy(clip_index, tmp_path)
    store = LanceStore(db)
    settings = _settings(db, models)
    captioner = HFCaptioner(str(models[1]), max_tokens=4)
    embedder = embedder_from_settings(settings)
    targets, already, _ = caption_targets(store)
    assert len(targets) == 6 and already == 0
    with pytest.raises(KeyboardInterrupt):
        enrich_captions(store, InterruptingCaptioner(captioner, after=2), embedder, targets,
                        batch=2)
    assert _caption_ids(store) == [0, 1]  # the first batch was written before the kill
    targets, already, _ = caption_targets(LanceStore(db))
    assert len(targets) == 4 and already == 2
    report = enrich_captions(LanceStore(db), captioner, embedder, targets, batch=2)
    assert report.captioned == 4 and report.remaining == 0
    store = LanceStore(db)
    assert _caption_ids(store) == [0, 1, 2, 3, 4, 5]
    assert CaptionCache(db).count(captioner.model_id) == 6
    # A caption is a searchable text clip of its shot, with the keyframe.
    caption = next(c for c in store.all_clips() if c.kind is ClipKind.CAPTION)
    shot = store.shots_of(caption.media_id)[caption.shot_index or 0]
    assert (caption.start, caption.end) == (shot.start, shot.end) and caption.text
    hits = Retriever(store, replace(settings, clip_model=""), reranker=RERANK_OFF).search(
        caption.text, k=3)
    assert hits and hits[0].clip.kind is ClipKind.CAPTION


def test_caption_budget_and_cache(clip_index: Path, models: tuple[Path, Path],
                                  tmp_path: Path) -> None:
    db = _copy(clip_index, tmp_path)
    settings = _settings(db, models)
    captioner = HFCaptioner(str(models[1]), max_tokens=4)
    embedder = embedder_from_settings(settings)
    store = LanceStore(db)
    targets, _, _ = caption_targets(store)
    none = enrich_captions(store, captioner, embedder, targets, budget_seconds=0)
    assert none.budget_stopped and none.captioned == 0 and none.remaining == 6
    # Over budget after the first batch: that batch finishes, no other starts.
    some = enrich_captions(store, captioner, embedder, targets, budget_seconds=1e-6, batch=2)
    assert some.budget_stopped and some.captioned == 2 and some.remaining == 4
    # A fresh copy of the index that has the cache but not the clips gets them from the cache.
    fresh = _copy(clip_index, tmp_path / "fresh")
    shutil.copytree(db / "captions.lance", fresh / "captions.lance")
    store = LanceStore(fresh)
    report = enrich_captions(store, captioner, embedder, caption_targets(store)[0], batch=2,
                             budget_seconds=0)
    assert report.cached == 2 and report.captioned == 0 and len(_caption_ids(store)) == 2


def test_enrich_cli_only_retrieved_and_graph(clip_index: Path, models: tuple[Path, Path],
                                             tmp_path: Path) -> None:
    db = _copy(clip_index, tmp_path)
    questions = tmp_path / "questions.txt"
    questions.write_text("cyclists on a street\n")
    runner = CliRunner()
    env = {"DEERIN_CLIP_MODEL": str(models[0]), "DEERIN_CAPTION_MODEL": str(models[1])}
    usage = runner.invoke(app, ["enrich", "--captions", "--only-retrieved", "--db", str(db)],
                          env=env)
    assert usage.exit_code == 2
    out = runner.invoke(app, ["enrich", "--captions", "--only-retrieved", "--questions",
                              str(questions), "-k", "2", "--db", str(db), "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["captioned"] == 2  # the two shots the question retrieved
    from indexing.graph.networkx_store import NetworkxGraphStore

    kinds = {m.kind for m in NetworkxGraphStore(db).mentions()}
    assert "caption" in kinds  # captions are graph input
    off = runner.invoke(app, ["enrich", "--captions", "--db", str(db)],
                        env={"DEERIN_CAPTION_MODEL": ""})
    assert off.exit_code == 1 and "DEERIN_CAPTION_MODEL" in off.output


def test_shot_set_is_well_formed(media_dir: Path, tmp_path: Path) -> None:
    from eval.shots import load_shot_set
    from indexing.media import probe

    queries = load_shot_set(REPO / "eval" / "sets" / "shots.jsonl")
    assert len(queries) >= 30
    durations: dict[str, float] = {}
    for q in queries:
        for media, _start, end in q.spans:
            if media not in durations:
                durations[media] = probe(media_dir / media).duration
            assert end <= durations[media] + 0.05, (q.id, media, end)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "query": "q", "spans": [{"media": "/a/b.mp4", "start": 0, '
                   '"end": 1}]}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1 \(id 'x'\): media must be a file name"):
        load_shot_set(bad)


def test_reembed_carries_picture_vectors_and_their_frames(
        clip_index: Path, models: tuple[Path, Path], tmp_path: Path) -> None:
    from indexing.reembed import reembed

    src = LanceStore(clip_index, create=False)
    dst_dir = tmp_path / "copy"
    reembed(src, dst_dir, embedder_from_settings(_settings(clip_index, models)))
    before, after = ShotVectors(clip_index), ShotVectors(dst_dir)
    assert after.count() == before.count() == 6 and after.models() == before.models()
    (media,) = src.media()
    rows = [row for _, row in after.of_media(media.media_id)]
    assert all(Path(r.keyframe).is_relative_to(dst_dir) and Path(r.keyframe).is_file()
               for r in rows)
    # The copy answers a picture query like its source (the same CLIP vectors).
    model = before.models()[0]
    probe = rows[0].vector
    assert ([(m.shot_index, round(m.similarity, 5)) for m in after.search(model, probe, k=3)]
            == [(m.shot_index, round(m.similarity, 5)) for m in before.search(model, probe, k=3)])
    reembed(src, dst_dir, embedder_from_settings(_settings(clip_index, models)))
    assert after.count() == 6  # a second run adds nothing


def test_a_reader_sees_picture_vectors_only_once_their_file_is_published(tmp_path: Path) -> None:
    from indexing.stores.base import MediaRecord
    from indexing.stores.shot_vectors import ShotVector

    store = LanceStore(tmp_path / "db")
    v = np.eye(8, dtype=np.float32)

    def frame(media: str, i: int) -> ShotVector:
        return ShotVector(media, f"/{media}.mp4", i, i, i + 1, i + 0.5, f"{i}.jpg", f"{i}.jpg",
                          v[i])

    def record(media: str) -> MediaRecord:
        return MediaRecord(media_id=media, path=f"/{media}.mp4", duration=2.0, size=1,
                           mtime_ns=1, has_audio=False, has_video=True, clips=0, shots=1,
                           indexed_at=0.0)

    with store.writing():
        ShotVectors(store.db_dir).add("m", [frame("a", 0)])
        store.put_media(record("a"))  # completes file a: publishes its vectors
        ShotVectors(store.db_dir).add("m", [frame("b", 1)])  # file b is still being indexed
        reader = ShotVectors(store.db_dir, pinned=True)
        assert reader.count() == 1 and [m.media_id for m in reader.search("m", v[1])] == ["a"]
        assert ShotVectors(store.db_dir).count() == 2  # the writer sees its own rows
        store.put_media(record("b"))
    assert ShotVectors(store.db_dir, pinned=True).count() == 2
