"""Index updates while readers search: a reader sees the old or the new index, never a half-written
one.

The store test runs a writer process (tests/support/index_update_writer.py: the pipeline's write
order, under the writer lock) adding and then re-indexing files, while this process keeps
opening the index as the chat does (``LanceStore(create=False)`` anew each time) and searching.
Every view must be whole: each hit's file is listed, and each listed file has exactly its clips.

The chat test serves a copy of the chat index with `deerin chat` while `deerin index` adds two
real recordings to it, with clients asking through the chat's socket.io protocol all along."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from indexing.stores.lance import LanceStore
from indexing.stores.lance_versions import VERSIONS_FILE, published
from indexing.types import ClipKind
from tests.support import REPO
from tests.support.chat import DEERIN, chat_index, serving, start_chat

WRITER = REPO / "tests" / "support" / "index_update_writer.py"


def run_writer(db: Path, *runs: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, str(WRITER), str(db), *runs], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def check_view(db: Path, rng: np.random.Generator) -> tuple[int, set[str]]:
    """Open the index as a reader and check it is whole; return (files, hit media ids)."""
    store = LanceStore(db, create=False)
    media = {m.media_id: m for m in store.media()}
    for m in media.values():
        assert store.count_clips(m.media_id) == m.clips, f"{m.path}: clips half-written"
        assert len(store.shots_of(m.media_id)) == m.shots, f"{m.path}: shots half-written"
    vec = rng.standard_normal(16).astype(np.float32)
    hits = store.search("pendulum energy said", vec / np.linalg.norm(vec), k=50, depth=50,
                        kinds=[ClipKind.SPEECH])
    seen = {h.clip.media_id for h in hits}
    assert seen <= set(media), f"hits from unlisted files: {sorted(seen - set(media))}"
    assert store.count_clips() == sum(m.clips for m in media.values())
    return len(media), seen


def test_readers_never_see_a_half_written_file(tmp_path: Path) -> None:
    db = tmp_path / "index"
    rng = np.random.default_rng(3)
    sizes: list[int] = []
    seen = threading.Condition()  # notified at every view the reader checks
    stop = threading.Event()
    problems: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            if published(db) is None:  # the writer has not finished its first file yet
                time.sleep(0.05)
                continue
            try:
                size = check_view(db, rng)[0]
            except BaseException as exc:  # reported by the test thread
                problems.append(exc)
                with seen:
                    seen.notify_all()
                return
            with seen:
                sizes.append(size)
                seen.notify_all()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        # Nine new files, then four of them change content and are indexed again.
        writer = run_writer(db, "0.4", "0:9:0", "0:4:1")
        out = writer.communicate(timeout=300)[0]
        assert writer.returncode == 0, out
        with seen:  # until the reader has checked the finished index (or failed)
            seen.wait_for(lambda: problems or (sizes and sizes[-1] == 9), timeout=60)
    finally:
        stop.set()
        reader.join(60)
    assert not problems, problems[0]
    # The reader saw the collection grow file by file, never shrink (a re-indexed file is
    # replaced in one step), up to all nine.
    assert sizes and sizes[-1] == 9, sizes
    assert sizes == sorted(sizes), sizes
    assert len(set(sizes)) > 2, f"the reader saw only {sorted(set(sizes))} files"
    final = LanceStore(db, create=False)
    assert sum(m.media_id.endswith("rev1") for m in final.media()) == 4
    assert (db / VERSIONS_FILE).exists()


def test_writer_store_and_old_indexes_see_the_latest(tmp_path: Path) -> None:
    """Without a publication (an index from before) readers see the latest rows; a reader
    store that writes works on the latest versions and publishes them."""
    from tests.support.index_update_writer import file_rows, write

    db = tmp_path / "index"
    write(db, 0, 2, 0)
    (db / VERSIONS_FILE).unlink()
    reader = LanceStore(db, create=False)
    assert len(reader.media()) == 2
    record, clips, vectors, _ = file_rows(2, 0)
    reader.add_clips(clips, vectors)
    reader.put_media(record)
    assert published(db) is not None
    assert len(LanceStore(db, create=False).media()) == 3
    assert reader.count_clips(record.media_id) == len(clips)
    # A reader opened before a file is completed keeps its view; a new one sees the file.
    old = LanceStore(db, create=False)
    write(db, 3, 1, 0)
    assert len(old.media()) == 3 and old.count_clips() == 3 * len(clips)
    assert len(LanceStore(db, create=False).media()) == 4


# -- the chat keeps serving while `deerin index` adds files -----------------------------------

ADDED = ("jfk_inaugural_1961.flac", "mdn_bear_transcript_demo.mp3")
QUESTIONS = ("What is the conservation of mechanical energy?",
             "What happened to the space shuttle Columbia?",
             "Ask not what your country can do for you",
             "Is this an audio fact file about bears?")
MEDIA_ID = re.compile(r"/media/([0-9a-f]+)/")


# Slow: builds (or reuses) the chat index, starts the chat and indexes two files (minutes on
# two busy cores).
@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_chat_serves_while_an_index_update_runs(tmp_path_factory: pytest.TempPathFactory,
                                                media_dir: Path, tmp_path: Path) -> None:
    from test_chat_load import ask

    base = chat_index(tmp_path_factory.getbasetemp(), media_dir)
    db = tmp_path / "index"
    shutil.copytree(base, db)
    before = {m.media_id for m in LanceStore(db, create=False).media()}
    server = start_chat(db, tmp_path / "chat", extra_env={
        "DEERIN_LLM": "llamacpp:/nonexistent/model.gguf", "DEERIN_RERANK": "off"})
    outcomes = []
    with serving(server) as url:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        update = subprocess.Popen([str(DEERIN), "index", *(str(media_dir / n) for n in ADDED),
                                   "--db", str(db)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)

        async def clients() -> None:
            # Four clients keep asking until the update is done, then ask once more.
            finished = False
            while not finished:
                finished = update.poll() is not None
                outcomes.extend(await asyncio.gather(*(ask(url, q) for q in QUESTIONS)))

        asyncio.run(clients())
        out = update.communicate(timeout=600)[0]
        assert update.returncode == 0, out
        after = {m.media_id for m in LanceStore(db, create=False).media()}
        # Every player the chat gave cites a file of the old or the new index, and plays.
        import httpx

        for o in outcomes:
            assert not o.errors, (o.question, o.errors)
            assert o.answer, o.question
        players = {p.split("#")[0] for o in outcomes for p in o.players}
        with httpx.Client(base_url=url, timeout=30) as client:
            for player in sorted(players):
                found = MEDIA_ID.search(player)
                assert found and found.group(1) in before | after, player
                got = client.get(player, headers={"Range": "bytes=0-99"})
                assert got.status_code == 206, (player, got.status_code)
    assert len(after) == len(before) + len(ADDED)
    new_files = after - before
    assert len(outcomes) >= 2 * len(QUESTIONS)
    # After the update the chat finds the new recordings.
    last = outcomes[-len(QUESTIONS):]
    cited = {MEDIA_ID.search(p).group(1) for o in last for p in o.players  # type: ignore[union-attr]
             if MEDIA_ID.search(p)}
    assert cited & new_files, [(o.question, o.answer[:80]) for o in last]
