"""Indexes written before the `box` (clips) and `faces` (shots) columns keep working."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from indexing.stores.lance import LanceStore
from indexing.stores.lance_schema import SHOT_SCHEMA, clip_schema
from indexing.types import Clip, ClipKind, Shot


def _without(schema: pa.Schema, name: str) -> pa.Schema:
    return schema.remove(schema.get_field_index(name))


def test_old_tables_read_as_unknown_and_gain_the_columns_on_write(tmp_path: Path) -> None:
    store = LanceStore(tmp_path / "db")
    store.ensure_embedder("test-embedder", 4)
    # Tables as an index of the previous version wrote them (real LanceDB on disk).
    store._db.create_table("clips", schema=_without(clip_schema(4), "box"))
    store._db.create_table("shots", schema=_without(SHOT_SCHEMA, "faces"))
    old = Clip("m1", "/a.mp4", ClipKind.SPEECH, 0.0, 5.0, "hello there old index")
    store._db.open_table("clips").add([{
        "id": old.clip_id, "media_id": "m1", "media_path": "/a.mp4", "kind": "speech",
        "start": 0.0, "end": 5.0, "seq": 0, "shot_index": 0, "keyframe": "", "language": "",
        "text": old.text, "times": [], "vector": [1.0, 0.0, 0.0, 0.0]}])
    store._db.open_table("shots").add([{
        "id": "m1:0", "media_id": "m1", "media_path": "/a.mp4", "idx": 0, "start": 0.0,
        "end": 5.0, "keyframe": "", "keyframe_time": 2.5}])

    reader = LanceStore(tmp_path / "db", create=False)
    assert reader.clips_of("m1")[0].box is None
    assert reader.shots_of("m1")[0].faces is None
    assert reader.search("hello", np.array([1, 0, 0, 0], np.float32), k=1)[0].clip.text == old.text

    new = Clip("m1", "/a.mp4", ClipKind.OCR, 1.0, 3.0, "EXTRA EXTRA", box=(0.1, 0.2, 0.6, 0.3))
    store.add_clips([new], np.array([[0, 1, 0, 0]], np.float32))
    store.add_shots("m1", "/a.mp4", [Shot(0, 0.0, 5.0, keyframe_time=2.5, faces=2)])
    reader = LanceStore(tmp_path / "db", create=False)
    clips = {c.kind: c for c in reader.clips_of("m1")}
    assert clips[ClipKind.OCR].box == (0.1, 0.2, 0.6, 0.3)
    assert clips[ClipKind.SPEECH].box is None
    assert reader.shots_of("m1")[0].faces == 2
