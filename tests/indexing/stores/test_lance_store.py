"""The LanceDB store on a real on-disk database: clip times and language, index format and id
scheme, and full-text index upkeep that writes nothing when nothing changed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import lancedb
import numpy as np
import pytest

from indexing.media import file_hash
from indexing.stores.base import MediaRecord, StoreError
from indexing.stores.lance import LanceStore, erase_index
from indexing.stores.meta import INDEX_FORMAT
from indexing.types import Clip, ClipKind, TextTime

DIM = 8


def _clip(text: str, start: float, seq: int, media: str = "m1", language: str | None = "en",
          kind: ClipKind = ClipKind.SPEECH) -> Clip:
    """A clip whose times give each word 0.5 s, as clips.py would."""
    times, pos, t = [], 0, start
    for word in text.split():
        times.append(TextTime(pos, pos + len(word), round(t, 3), round(t + 0.4, 3)))
        pos += len(word) + 1
        t += 0.5
    return Clip(media_id=media, media_path=f"/footage/{media}.mp4", kind=kind, start=start,
                end=round(t, 3), text=text, seq=seq, language=language, times=tuple(times))


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _record(media: str) -> MediaRecord:
    return MediaRecord(media_id=media, path=f"/footage/{media}.mp4", duration=60.0, size=1,
                       mtime_ns=0, has_audio=True, has_video=True, clips=1, shots=0,
                       indexed_at=0.0)


def _store(path: Path) -> LanceStore:
    store = LanceStore(path)
    store.ensure_embedder("test/random", DIM)
    return store


def _versions(db: Path) -> dict[str, int]:
    conn = lancedb.connect(str(db))
    return {name: conn.open_table(name).version for name in conn.list_tables().tables}


def test_clip_times_and_language_round_trip(tmp_path: Path) -> None:
    store = _store(tmp_path / "db")
    clips = [_clip("the keeper climbed the stairs of the lighthouse.", 0.0, 0),
             _clip("der Leuchtturm wurde 1892 gebaut.", 5.0, 1, language="de"),
             _clip("no language known here.", 9.0, 2, language=None,
                   kind=ClipKind.SUBTITLE)]
    assert store.add_clips(clips, _vectors(3)) == 3
    store.finalize()
    by_id = {c.clip_id: c for c in clips}
    assert {c.clip_id: c for c in store.all_clips()} == by_id
    assert sorted(store.clips_of("m1"), key=lambda c: c.start) == clips
    [hit] = store.search("lighthouse", None, k=1)
    assert hit.clip == clips[0]
    assert hit.clip.span_of(4, 10) == (0.5, 0.9)  # "keeper"
    assert store.neighbours(clips[0], radius=1) == [clips[1]]
    hits = store.search("Leuchtturm", _vectors(1, seed=5)[0], k=3)
    assert {h.clip.language for h in hits} == {"en", "de", None}


def test_old_format_is_refused_with_the_rebuild_command(tmp_path: Path) -> None:
    db = tmp_path / "db"
    _store(db).add_clips([_clip("a few words here.", 0.0, 0)], _vectors(1))
    meta = json.loads((db / "deerin.json").read_text())
    assert meta["format"] == INDEX_FORMAT == 2
    (db / "deerin.json").write_text(json.dumps({**meta, "format": 1}))
    with pytest.raises(StoreError, match=r"index format 1 is older .*--rebuild"):
        LanceStore(db, create=False)
    (db / "deerin.json").write_text(json.dumps({**meta, "format": 3}))
    with pytest.raises(StoreError, match="newer"):
        LanceStore(db)
    (db / "keep.txt").write_text("not ours")
    erase_index(db)
    assert sorted(p.name for p in db.iterdir()) == ["keep.txt"]
    assert LanceStore(db).count_clips() == 0
    with pytest.raises(StoreError, match="no DEERIn index"):
        erase_index(tmp_path)  # a folder without deerin.json is never wiped


def test_store_refuses_to_mix_id_schemes(tmp_path: Path) -> None:
    store = _store(tmp_path / "db")
    store.ensure_id_scheme("sampled")
    store.ensure_id_scheme("sampled")
    with pytest.raises(StoreError, match=r"sampled content hashes.*refusing"):
        store.ensure_id_scheme("full")
    assert LanceStore(tmp_path / "db").id_scheme() == "sampled"


def test_large_files_are_hashed_from_samples_unless_full(tmp_path: Path) -> None:
    big = tmp_path / "master.mxf"
    data = bytearray(os.urandom(13 << 20))  # just over the 12 MiB sampling threshold
    big.write_bytes(data)
    sampled, full = file_hash(big), file_hash(big, full=True)
    assert sampled != full
    # Samples: 4 MiB at the head, the middle (4.5-8.5 MiB) and the tail; 4.25 MiB is unsampled.
    data[(4 << 20) + (256 << 10)] ^= 0xFF
    big.write_bytes(data)
    assert file_hash(big) == sampled
    assert file_hash(big, full=True) != full
    small = tmp_path / "clip.wav"
    small.write_bytes(bytes(data[: 1 << 20]))
    assert file_hash(small) == file_hash(small, full=True)


def test_finalize_writes_nothing_when_nothing_changed(tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = _store(db)
    store.add_clips([_clip("alpha words here.", 0.0, 0), _clip("beta words there.", 3.0, 1)],
                    _vectors(2))
    store.put_media(_record("m1"))
    assert store.finalize() is True
    before = _versions(db)
    assert store.finalize() is False
    assert LanceStore(db).finalize() is False  # a fresh object (a re-run) agrees
    store.prune_orphans()  # nothing is stale: no delete is written either
    store.remove_media("/footage/none.mp4")
    assert _versions(db) == before


def test_finalize_folds_new_rows_into_the_full_text_index(tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = _store(db)
    store.add_clips([_clip("alpha words here.", 0.0, 0)], _vectors(1))
    store.finalize()
    # Rows a killed run wrote through another store object, never finalized:
    LanceStore(db).add_clips([_clip("zebra crossing ahead.", 0.0, 0, media="m2")], _vectors(1))
    def unindexed() -> int:
        return lancedb.connect(str(db)).open_table("clips").index_stats("text_idx") \
            .num_unindexed_rows

    assert unindexed() == 1
    assert LanceStore(db).finalize() is True
    assert unindexed() == 0
    assert [h.clip.text for h in LanceStore(db).search("zebra", None, k=3)] == \
        ["zebra crossing ahead."]
    with store.writing():  # a writer sees the latest rows, whoever wrote them
        store.remove_media("/footage/m2.mp4")
        assert store.finalize() is True
    assert LanceStore(db).search("zebra", None, k=3) == []
