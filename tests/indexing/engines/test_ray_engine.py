"""The Ray engine on a real local Ray cluster, real media, real models and a real LanceDB index:
the same clips as the local engine, bad files named, a killed worker and a killed driver both
end in a complete index with no duplicate and no missing clip."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from indexing.engines.ray_engine import RayIndexer
from indexing.pipeline import Indexer, NullProgress
from indexing.settings import Settings
from indexing.stores.lance import LanceStore
from indexing.types import FileResult
from tests.support import REPO


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One local Ray instance for the whole module (starting one takes seconds)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _settings(db: Path) -> Settings:
    # OCR and faces off: they only add model loading here (tests/indexing/test_ocr_and_faces.py
    # covers them).
    return Settings.from_env({}, db_dir=db, ocr=False, faces=False)


@pytest.fixture(scope="module")
def files(leopard: Path, popeye3: Path) -> list[Path]:
    """Speech only, and a silent film with an .srt (shots and keyframes)."""
    return [leopard, popeye3]


def _clips(db: Path) -> dict[str, list[tuple[str, str, str]]]:
    """Per media file: its clips as sorted (id, kind, text)."""
    store = LanceStore(db, create=False)
    return {Path(m.path).name: sorted((c.clip_id, c.kind.value, c.text)
                                      for c in store.clips_of(m.media_id))
            for m in store.media()}


def _assert_whole(db: Path) -> None:
    """No duplicate clip, and every file has exactly the clips its record counts."""
    store = LanceStore(db, create=False)
    ids = [c.clip_id for c in store.all_clips()]
    assert len(ids) == len(set(ids))
    for m in store.media():
        assert store.count_clips(m.media_id) == m.clips, m.path
        assert len(store.shots_of(m.media_id)) == m.shots, m.path


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory,
              files: list[Path]) -> dict[str, list[tuple[str, str, str]]]:
    """What the local engine makes of the files."""
    db = tmp_path_factory.mktemp("local")
    report = Indexer(LanceStore(db), _settings(db)).index(files)
    assert not report.failures, report.failures
    return _clips(db)


@pytest.mark.extra("ray")
def test_ray_makes_the_local_clips_and_names_the_bad_file(
        cluster: Any, tmp_path: Path, files: list[Path],
        reference: dict[str, list[tuple[str, str, str]]]) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all " * 200)
    db = tmp_path / "db"
    ix = RayIndexer(LanceStore(db), _settings(db), workers=2)
    report = ix.index([*files, bad])
    assert [f.path for f in report.failures] == [bad]
    assert report.failures[0].stage == "probe" and "broken.mp4" in report.failures[0].reason
    assert [r.path for r in report.results] == files  # reported in the order given
    assert _clips(db) == reference
    _assert_whole(db)
    # Keyframes came back from the workers into the index's own folder.
    store = LanceStore(db, create=False)
    film = next(m for m in store.media() if m.path.endswith(".mkv"))
    shots = store.shots_of(film.media_id)
    assert shots and all(s.keyframe and s.keyframe.parent == db / "keyframes"
                         and s.keyframe.stat().st_size > 1000 for s in shots)
    assert {c.keyframe for c in store.clips_of(film.media_id) if c.keyframe} <= \
        {str(s.keyframe) for s in shots}
    assert store.failures()[0].path == str(bad)
    # A re-run starts no actor: unchanged files are skipped before any model loads.
    again = RayIndexer(LanceStore(db), _settings(db), workers=2)
    report = again.index(files)
    assert report.unchanged == len(files) and again.spawned == 0


class _KillOnFirstFile(NullProgress):
    """Kills every worker actor of ``indexer`` when the first file is written: the others are
    then mid-file, or their next file finds them dead."""

    def __init__(self, ray: Any) -> None:
        self.ray = ray
        self.indexer: RayIndexer | None = None
        self.killed = 0

    def file_done(self, result: FileResult) -> None:
        if self.indexer is not None and not self.killed:
            for actor in list(self.indexer.actors):
                self.ray.kill(actor)
                self.killed += 1


@pytest.mark.slow
@pytest.mark.extra("ray")
def test_a_killed_worker_is_replaced_and_no_clip_is_doubled_or_lost(
        cluster: Any, tmp_path: Path, files: list[Path], jfk: Path, bear: Path,
        reference: dict[str, list[tuple[str, str, str]]]) -> None:
    batch = [jfk, *files, bear]
    db = tmp_path / "db"
    progress = _KillOnFirstFile(cluster)
    ix = RayIndexer(LanceStore(db), _settings(db), workers=2, progress=progress)
    progress.indexer = ix
    report = ix.index(batch)
    assert progress.killed == 2 and ix.replaced >= 1
    # Every file is indexed, or (if its retry died too) reported by name as a worker failure.
    assert {r.path for r in report.results} | {f.path for f in report.failures} == set(batch)
    assert all(f.stage == "worker" for f in report.failures), report.failures
    _assert_whole(db)
    rerun = RayIndexer(LanceStore(db), _settings(db), workers=2).index(batch)
    assert not rerun.failures
    _assert_whole(db)
    got = _clips(db)
    assert {n: got[n] for n in reference} == reference
    assert set(got) == {p.name for p in batch}


@pytest.mark.slow
@pytest.mark.extra("ray")
def test_a_killed_driver_leaves_an_index_the_next_run_completes(
        cluster: Any, tmp_path: Path, files: list[Path], jfk: Path, bear: Path,
        reference: dict[str, list[tuple[str, str, str]]]) -> None:
    batch = [jfk, bear, *files]
    db = tmp_path / "db"
    address = cluster.get_runtime_context().gcs_address
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "deerin", "index", *map(str, batch), "--db", str(db),
           "--engine", "ray", "--address", address, "--workers", "1", "--no-ocr", "--no-faces"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 300
    for line in proc.stderr:  # kill -9 right after the first file is written
        if line.startswith("indexed ") or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at = len(LanceStore(db, create=False).media())
    assert 1 <= killed_at < len(batch)
    report = RayIndexer(LanceStore(db), _settings(db), workers=2).index(batch)
    assert not report.failures and report.unchanged == killed_at
    _assert_whole(db)
    got = _clips(db)
    assert {n: got[n] for n in reference} == reference
    assert set(got) == {p.name for p in batch}


def test_the_cli_refuses_ray_options_without_the_ray_engine(tmp_path: Path,
                                                            leopard: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "deerin", "index", str(leopard), "--db", str(tmp_path / "db"),
         "--workers", "2"], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "NO_COLOR": "1"}, check=False)
    assert out.returncode == 2 and "--engine ray" in out.stderr
    assert not (tmp_path / "db").exists()


@pytest.mark.extra("ray")
def test_doctor_reports_the_installed_ray() -> None:
    from importlib.metadata import version

    from deerin.doctor import ray_check, run_checks

    check = ray_check()
    assert check.ok and version("ray") in check.detail and not check.required
    assert check.name in {c.name for c in run_checks({}, ollama={"up": False, "host": "-",
                                                               "models": [], "detail": "-"})}
