"""One writer per index, checked with real processes on a real index.

Before the lock, two `deerin index` runs on one index each pruned the other's in-flight rows as
orphans. Now a second writer fails at once with one clear line, or waits with --wait; readers
never block.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexing.stores.lance import LanceStore
from indexing.stores.lock import LOCK_FILE

DEERIN = [sys.executable, "-m", "deerin"]
_ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "200"}
# Holds the writer lock of the index in argv[1] until its stdin is closed.
_HOLDER = """
import sys
from pathlib import Path
from indexing.stores.lock import WriterLock
with WriterLock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DEERIN, *args], capture_output=True, text=True, timeout=600,
                          env=_ENV, check=False)


def _folder(root: Path, media_dir: Path, *names: str) -> Path:
    root.mkdir()
    for n in names:
        os.symlink(media_dir / n, root / n)
    return root


def _check_rows(db: Path, files: int) -> None:
    """Every file complete, no clip lost or duplicated."""
    store = LanceStore(db)
    media = store.media()
    assert len(media) == files
    ids = [c.clip_id for c in store.all_clips()]
    assert len(ids) == len(set(ids)), "duplicate clips"
    assert len(ids) == store.count_clips() == sum(m.clips for m in media) > 0


def _wait_for_lock(db: Path, pid: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (db / LOCK_FILE).read_text().strip() == str(pid):
                return
        except FileNotFoundError:
            pass
        assert proc.poll() is None, "the first writer ended before it was seen holding the lock"
        time.sleep(0.05)
    pytest.fail("the first writer never took the lock")


def _wait_for_open(proc: subprocess.Popen[bytes], path: Path, timeout: float) -> None:
    """Until ``proc`` holds ``path`` open: a writer opens the lock file, then polls it while it
    waits (Linux: read from /proc/PID/fd)."""
    fds = Path(f"/proc/{proc.pid}/fd")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if any(os.path.realpath(fd) == str(path.resolve()) for fd in fds.iterdir()):
                return
        except OSError:  # an fd closed while it was listed
            pass
        time.sleep(0.05)
    pytest.fail(f"the waiting writer never opened {path.name} (exit {proc.poll()})")


def test_second_writer_fails_fast_or_waits(tmp_path: Path, media_dir: Path) -> None:
    db = tmp_path / "db"
    tapes = _folder(tmp_path / "tapes", media_dir, "picovoice_leopard_test_en.wav")
    more = _folder(tmp_path / "more", media_dir,
                   "librivox_sense_and_sensibility_01_austen_64kb-0880.wav")
    assert _cli("index", str(tapes), "--db", str(db)).returncode == 0
    before = LanceStore(db).count_clips()

    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, env=_ENV)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        t0 = time.monotonic()
        out = _cli("index", str(more), "--db", str(db))
        assert out.returncode == 1
        assert f"another `deerin index` (pid {holder.pid}) is writing to {db}" in out.stderr
        assert "--wait" in out.stderr and "Traceback" not in out.stderr
        assert time.monotonic() - t0 < 60  # no model was loaded: it failed before any work
        out = _cli("remove", str(tapes / "picovoice_leopard_test_en.wav"), "--db", str(db))
        assert out.returncode == 1 and f"(pid {holder.pid})" in out.stderr
        # Readers never take the lock.
        status = _cli("status", "--db", str(db), "--json")
        assert status.returncode == 0, status.stderr
        assert LanceStore(db).count_clips() == before

        waiter = subprocess.Popen([*DEERIN, "index", str(more), "--db", str(db), "--wait", "300"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_ENV)
        _wait_for_open(waiter, db / LOCK_FILE, timeout=120)
        assert waiter.poll() is None, "the waiting writer did not wait"
        assert (db / LOCK_FILE).read_text().strip() == str(holder.pid)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    _, err = waiter.communicate(timeout=600)
    assert waiter.returncode == 0, err
    _check_rows(db, files=2)
    assert LanceStore(db).count_clips() > before


@pytest.mark.slow  # ~75 s on 2 busy cores; the test above covers the lock in the default run
def test_two_index_runs_on_one_index_lose_nothing(tmp_path: Path, media_dir: Path) -> None:
    db = tmp_path / "db"
    first = _folder(tmp_path / "a", media_dir, "picovoice_leopard_test_en.wav",
                    "mdn_bear_transcript_demo.mp3",
                    "librivox_sense_and_sensibility_01_austen_64kb-0870.wav")
    second = _folder(tmp_path / "b", media_dir,
                     "librivox_sense_and_sensibility_01_austen_64kb-0880.wav")
    one = subprocess.Popen([*DEERIN, "index", str(first), "--db", str(db)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_ENV)
    _wait_for_lock(db, one.pid, one, timeout=120)
    busy = _cli("index", str(second), "--db", str(db))
    assert one.poll() is None, "the first run ended too soon for this test to mean anything"
    assert busy.returncode == 1 and f"(pid {one.pid})" in busy.stderr
    two = subprocess.Popen([*DEERIN, "index", str(second), "--db", str(db), "--wait", "600"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_ENV)
    _, err_one = one.communicate(timeout=600)
    assert one.returncode == 0, err_one
    _, err_two = two.communicate(timeout=600)
    assert two.returncode == 0, err_two
    _check_rows(db, files=4)
