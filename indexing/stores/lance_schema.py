"""Arrow schemas of the LanceDB tables, and SQL-filter quoting."""

from __future__ import annotations

from dataclasses import fields

import pyarrow as pa

from indexing.stores.base import MediaRecord


def quote(value: str) -> str:
    """Quote a string for a LanceDB SQL filter."""
    return "'" + value.replace("'", "''") + "'"


def media_schema() -> pa.Schema:
    types = {float: pa.float64(), int: pa.int64(), bool: pa.bool_(), str: pa.string()}
    hints = {"float": float, "int": int, "bool": bool, "str": str}
    return pa.schema([pa.field(f.name, types[hints[str(f.type)]]) for f in fields(MediaRecord)])


# One Clip.times entry: text[c0:c1] is heard or shown from s to e seconds. float32 keeps a
# millisecond at 4 hours, finer than word timings; the whole column costs a few bytes a word.
TEXT_TIME = pa.struct([
    pa.field("c0", pa.int32()), pa.field("c1", pa.int32()),
    pa.field("s", pa.float32()), pa.field("e", pa.float32()),
])


# Columns added after format 2. Tables written before lack them: readers take a missing column
# as "unknown" and the next writer adds it (all null), so old indexes keep working unrebuilt.
# Where on-screen text is (left, top, right, bottom as fractions of the frame); null otherwise.
BOX_FIELD = pa.field("box", pa.list_(pa.float32(), 4))
# Faces counted on a shot's keyframe; null = not counted.
FACES_FIELD = pa.field("faces", pa.int32())
ADDED_FIELDS = {"clips": (BOX_FIELD,), "shots": (FACES_FIELD,)}


def clip_schema(dim: int) -> pa.Schema:
    return pa.schema([
        pa.field("id", pa.string()),
        pa.field("media_id", pa.string()),
        pa.field("media_path", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("start", pa.float64()),
        pa.field("end", pa.float64()),
        pa.field("seq", pa.int32()),
        pa.field("shot_index", pa.int32()),
        pa.field("keyframe", pa.string()),
        pa.field("text", pa.string()),
        pa.field("language", pa.string()),
        pa.field("times", pa.list_(TEXT_TIME)),
        pa.field("vector", pa.list_(pa.float32(), dim)),
        BOX_FIELD,
    ])


def window_schema(dim: int) -> pa.Schema:
    return pa.schema([
        pa.field("id", pa.string()),
        pa.field("clip_id", pa.string()),
        pa.field("media_id", pa.string()),
        pa.field("media_path", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("vector", pa.list_(pa.float32(), dim)),
    ])


SHOT_SCHEMA = pa.schema([
    pa.field("id", pa.string()),
    pa.field("media_id", pa.string()),
    pa.field("media_path", pa.string()),
    pa.field("idx", pa.int32()),
    pa.field("start", pa.float64()),
    pa.field("end", pa.float64()),
    pa.field("keyframe", pa.string()),
    pa.field("keyframe_time", pa.float64()),
    FACES_FIELD,
])

FAILURE_SCHEMA = pa.schema([
    pa.field("path", pa.string()), pa.field("reason", pa.string()),
    pa.field("stage", pa.string()), pa.field("at", pa.float64()),
])
