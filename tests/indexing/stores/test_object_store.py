"""An index on an object store (``--db s3://bucket/prefix``), end to end.

No S3 is reachable from here, so moto's S3 server (``moto[server]``, a real HTTP server on
loopback) stands in for the object store: a true system edge. Everything on our side is real:
LanceDB writing its tables over HTTP, pyarrow's S3 filesystem for ``deerin.json``, published
versions, the writer lease and keyframes, real ASR, shots and embeddings on real media, and the
``deerin`` CLI in subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from indexing.pipeline import Indexer
from indexing.settings import Settings
from indexing.stores.base import StoreError
from indexing.stores.keyframes import pull_keyframes
from indexing.stores.lance import LanceStore
from indexing.stores.lease import LEASE_FILE, ObjectLease
from indexing.stores.location import IndexLocation
from indexing.stores.lock import StoreBusy
from indexing.types import IndexReport
from tests.support import REPO

BUCKET = "deerin"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """moto's S3 server on a free loopback port, with the environment a user would set."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_REGION": "us-east-1", "DEERIN_S3_ENDPOINT": f"http://{host}:{port}",
           "DEERIN_CACHE_DIR": str(tmp_path_factory.mktemp("cache")), "DEERIN_LEASE_SECONDS": "20"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        boto3.client("s3", endpoint_url=env["DEERIN_S3_ENDPOINT"]).create_bucket(Bucket=BUCKET)
        yield env
    server.stop()


def _settings(db: str) -> Settings:
    # OCR and faces off: they only add model loading (tests/indexing/test_ocr_and_faces.py
    # covers them).
    return Settings.from_env({}, db_dir=db, ocr=False, faces=False)


def _index(db: str, files: list[Path]) -> IndexReport:
    return Indexer(LanceStore(db), _settings(db)).index(files)


def _cli(env: dict[str, str], *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deerin", *args], cwd=REPO, text=True,
                          capture_output=True, timeout=300, check=False,
                          env={**os.environ, **env, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def indexed(s3: dict[str, str], leopard: Path, popeye3: Path) -> IndexReport:
    """Speech only, and a silent film with an .srt (shots, so keyframes)."""
    return _index(f"s3://{BUCKET}/idx", [leopard, popeye3])


def test_an_index_on_s3_is_searched_asked_and_reindexed_as_a_no_op(
        s3: dict[str, str], indexed: IndexReport, leopard: Path, popeye3: Path,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.service import build_assistant
    from assistant.web.chat_service import ChatService

    uri = f"s3://{BUCKET}/idx"
    assert indexed.indexed == 2 and not indexed.failures
    remote = IndexLocation.parse(uri)
    names = remote.list()
    assert {"deerin.json", "deerin.versions.json", "clips.lance", "media.lance",
            "keyframes"} <= set(names), names
    assert LEASE_FILE not in names  # released at the end of the run
    # Nothing of the index itself is on this machine: only keyframe copies and the pointer.
    assert not list(remote.local_dir.glob("*.lance"))

    # Another machine: its own (empty) local folder, the same URI.
    monkeypatch.setenv("DEERIN_CACHE_DIR", str(tmp_path / "other-host"))
    reader = LanceStore(uri, create=False)
    assert reader.db_dir != remote.local_dir
    assert {Path(m.path).name for m in reader.media()} == {leopard.name, popeye3.name}
    # The chat app there copies the keyframes and serves them from its own folder.
    chat = ChatService(_settings(uri))
    assert chat.snapshot().exists and chat.db_dir == reader.db_dir
    film = next(m for m in reader.media() if m.has_video)
    shot = next(s for s in reader.shots_of(film.media_id) if s.keyframe)
    url = chat.keyframe_url_of(str(shot.keyframe))
    assert url is not None, shot.keyframe
    served = chat.resolve_keyframe(unquote(url.rsplit("/", 1)[-1].removesuffix(".jpg")))
    assert served is not None and served.is_file(), url
    assert served.is_relative_to(reader.db_dir / "keyframes")
    frames = remote.list("keyframes")
    assert frames and all((reader.db_dir / "keyframes" / f).is_file() for f in frames)
    assert pull_keyframes(reader.location) == 0  # already copied

    assistant = build_assistant(_settings(uri), "tiny")
    hits = assistant.retriever.search("the apostle of the middle classes", k=3)
    assert hits and Path(hits[0].clip.media_path).name == leopard.name
    # The whole ask path over the remote index (the tiny model refuses this one, as it does
    # over the same files indexed locally: what is checked here is what it was given).
    answer = assistant.ask("Who is the apostle of the middle classes?")
    assert answer.retrieved and Path(answer.retrieved[0].clip.media_path).name == leopard.name

    again = _index(uri, [leopard, popeye3])
    assert again.unchanged == 2 and again.indexed == 0

    out = _cli(s3, "status", "--db", uri, "--json")
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["db"] == uri and len(status["files"]) == 2 and status["clips"] > 0


def test_a_second_writer_is_refused_by_the_lease(s3: dict[str, str], leopard: Path) -> None:
    uri = f"s3://{BUCKET}/busy"
    location = IndexLocation.parse(uri)
    with ObjectLease(location):
        with pytest.raises(StoreBusy, match="writer lease"):
            ObjectLease(location).acquire()
        out = _cli(s3, "index", str(leopard), "--db", uri)
        assert out.returncode == 1, out.stderr
        assert "writer lease" in out.stderr and "Traceback" not in out.stderr
    assert not location.exists(LEASE_FILE)
    with ObjectLease(location):  # free again
        pass


@pytest.mark.parametrize("conditional", [True, False], ids=["if-none-match", "read-back"])
def test_of_two_racing_writers_exactly_one_gets_the_lease(s3: dict[str, str],
                                                          conditional: bool) -> None:
    location = IndexLocation.parse(f"s3://{BUCKET}/race-{conditional}")
    leases = [ObjectLease(location, conditional=conditional) for _ in range(2)]
    assert all(lease.object.atomic is conditional for lease in leases)
    start = threading.Barrier(2)
    outcome: list[str] = []

    def take(lease: ObjectLease) -> None:
        start.wait()
        try:
            lease.acquire()
            outcome.append("won")
        except StoreBusy:
            outcome.append("refused")

    threads = [threading.Thread(target=take, args=(lease,)) for lease in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome) == ["refused", "won"]
    winner = next(lease for lease in leases if lease.held)
    winner.release()
    assert not location.exists(LEASE_FILE)


def test_a_live_writer_keeps_its_lease_past_its_term(s3: dict[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEERIN_LEASE_SECONDS", "1.5")
    location = IndexLocation.parse(f"s3://{BUCKET}/lease")
    with ObjectLease(location) as lease:
        time.sleep(3.5)  # more than two terms: only the renewals keep it
        with pytest.raises(StoreBusy):
            ObjectLease(location).acquire()
        assert lease.held and lease.lost is None
        # The renewals are conditional: a write over another version of the lease fails.
        assert lease.object.atomic and lease.object.replace(b"{}", '"stale"') is None
    assert not location.exists(LEASE_FILE)


def test_rebuild_erases_a_remote_index_but_keeps_file_metadata(
        s3: dict[str, str], tmp_path: Path) -> None:
    from indexing.stores.file_meta import FileMeta, FileMetaStore
    from indexing.stores.keyframes import push_keyframes
    from indexing.stores.lance import erase_index

    uri = f"s3://{BUCKET}/erase"
    store = LanceStore(uri)
    store.record_failure("/media/bad.mp4", "not media", "probe")
    frame = store.db_dir / "keyframes" / "x_0000.jpg"
    frame.parent.mkdir(parents=True, exist_ok=True)
    frame.write_bytes(b"jpeg")
    assert push_keyframes(store.db_dir, [frame]) == 1
    FileMetaStore(store.db_dir).put(FileMeta("m1", "/media/a.mp4", "manifest", {"title": "A"}))
    location = store.location
    assert {"deerin.json", "failures.lance", "keyframes", "file_meta.lance"} <= set(
        location.list())
    with ObjectLease(location):
        erase_index(uri)
    assert location.list() == ["file_meta.lance"]
    assert not frame.exists()  # this machine's copy went too
    with pytest.raises(StoreError, match="no DEERIn index"):
        LanceStore(uri, create=False)
    with pytest.raises(StoreError, match="holds no DEERIn index"):
        erase_index(uri)  # never wipes a prefix that is not an index


@pytest.mark.slow  # 25-40 s: a second process loads the models
def test_a_killed_run_resumes_with_no_clip_doubled_or_lost(
        s3: dict[str, str], leopard: Path, popeye3: Path) -> None:
    uri = f"s3://{BUCKET}/killed"
    batch = [leopard, popeye3]
    proc = subprocess.Popen(
        [sys.executable, "-m", "deerin", "index", *map(str, batch), "--db", uri, "--no-ocr",
         "--no-faces"], cwd=REPO, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **s3, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "200"})
    assert proc.stderr is not None
    deadline = time.monotonic() + 240
    for line in proc.stderr:  # kill -9 right after the first file is written
        if line.startswith("indexed ") or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    location = IndexLocation.parse(uri)
    assert location.exists(LEASE_FILE)  # left behind by the killed writer
    killed_at = len(LanceStore(uri, create=False).media())
    assert killed_at == 1
    # Same host, dead pid: the lease is taken over at once, not after its term.
    report = _index(uri, batch)
    assert not report.failures and report.unchanged == 1 and report.indexed == 1
    store = LanceStore(uri, create=False)
    ids = [c.clip_id for c in store.all_clips()]
    assert len(ids) == len(set(ids))
    for m in store.media():
        assert store.count_clips(m.media_id) == m.clips


@pytest.mark.slow
@pytest.mark.extra("ray")
def test_the_ray_engine_writes_the_same_index_to_s3(s3: dict[str, str], indexed: IndexReport,
                                                     leopard: Path, popeye3: Path) -> None:
    import ray

    from indexing.engines.ray_engine import RayIndexer

    uri = f"s3://{BUCKET}/ray"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        report = RayIndexer(LanceStore(uri), _settings(uri), workers=1).index([leopard, popeye3])
        assert report.indexed == 2 and not report.failures
        again = RayIndexer(LanceStore(uri), _settings(uri), workers=1).index([leopard, popeye3])
        assert again.unchanged == 2
    finally:
        ray.shutdown()
    local, ray_made = (LanceStore(f"s3://{BUCKET}/{p}", create=False) for p in ("idx", "ray"))
    assert (sorted((c.clip_id, c.text) for c in ray_made.all_clips())
            == sorted((c.clip_id, c.text) for c in local.all_clips()))
    assert IndexLocation.parse(uri).list("keyframes") == IndexLocation.parse(
        f"s3://{BUCKET}/idx").list("keyframes")


def test_bad_locations_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unsupported index location"):
        IndexLocation.parse("ftp://host/idx")
    with pytest.raises(StoreError, match="names no bucket"):
        IndexLocation.parse("s3://")
    local = IndexLocation.parse(tmp_path / "db")
    assert not local.remote and local.lance_uri() == str(tmp_path / "db")
    # What typer and Settings make of an s3:// --db value names the same index.
    assert IndexLocation.parse(Path("s3://b/idx")).uri == "s3://b/idx"
