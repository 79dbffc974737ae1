"""A content-hash cache of stage output, so indexing the same files again with the same model
costs a copy rather than a recognition.

The key of an entry is the file's content id (or the picture's bytes), the stage's name and
every model name or setting that changes the stage's output; the value is that output (words
of the transcript, shots and their keyframes, text read from a frame, faces counted, clip
vectors). Two indexes of one collection built with the same recogniser and another LLM,
reranker or embedder then transcribe nothing the second time. The cache wraps the pipeline's
backends (:func:`cached_backends`), so the pipeline itself is unchanged.

Entries live in one SQLite file (atomic writes, safe against a killed run) plus a folder of
keyframe images; a corrupt or foreign entry is recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from indexing.media import file_hash
from indexing.protocols import Embedder, ShotDetector, Transcriber
from indexing.settings import Settings
from indexing.types import Media, Segment, Shot, TextBox, Word, content_id

DB_FILE = "stages.sqlite"
FILES_DIR = "files"
_FORMAT = "1"  # bump when a stored value's layout changes: old entries then miss


class StageCache:
    """Stage outputs by key, in ``root`` (created on first use). Counts hits and misses per
    stage in :attr:`hits` / :attr:`misses` (per instance, for reports)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.root / DB_FILE, check_same_thread=False,
                                   isolation_level=None, timeout=60)
        self._db.execute("CREATE TABLE IF NOT EXISTS stage (key TEXT PRIMARY KEY, value BLOB)")
        self._lock = threading.Lock()
        self.hits: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()

    @staticmethod
    def key(stage: str, *parts: object) -> str:
        """The key of ``stage``'s output for ``parts`` (content id, model, settings)."""
        return f"{stage}:" + content_id(_FORMAT, stage, *(json.dumps(p, sort_keys=True,
                                                                      default=str)
                                                           for p in parts))

    def get(self, key: str) -> bytes | None:
        """The stored value, or ``None`` (counted as a miss of the key's stage)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM stage WHERE key = ?", (key,)).fetchone()
        stage = key.split(":", 1)[0]
        if row is None:
            self.misses[stage] += 1
            return None
        self.hits[stage] += 1
        return bytes(row[0])

    def put(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key`` (replacing an older one)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO stage VALUES (?, ?)", (key, value))

    def files(self, key: str) -> Path:
        """The folder for the files of entry ``key`` (keyframes)."""
        return self.root / FILES_DIR / key.replace(":", "-")

    def close(self) -> None:
        """Close the database (the cache cannot be used afterwards)."""
        with self._lock:
            self._db.close()

    def summary(self) -> dict[str, dict[str, int]]:
        """``{stage: {"hits": n, "misses": n}}`` of this instance's lookups."""
        return {s: {"hits": self.hits[s], "misses": self.misses[s]}
                for s in sorted(set(self.hits) | set(self.misses))}


# -- wrappers of the pipeline's backends ---------------------------------------------------------
class CachedTranscriber:
    """A :class:`~indexing.protocols.Transcriber` answering from the cache for a file whose
    content and recogniser settings it has seen; the inner model loads only on a miss."""

    def __init__(self, inner: Transcriber, cache: StageCache, settings: Settings) -> None:
        self.inner = inner
        self.cache = cache
        self.model_id = inner.model_id
        self._settings = (settings.asr_language, settings.asr_beam_size, settings.asr_vad)
        self._full_hash = settings.full_hash

    def transcribe(self, audio: Path | np.ndarray) -> Iterator[Segment]:
        """Yield the segments of ``audio``: cached ones, or the recogniser's (then stored)."""
        if isinstance(audio, np.ndarray):  # raw samples have no content id: not cached
            yield from self.inner.transcribe(audio)
            return
        key = self.cache.key("transcribe", file_hash(Path(audio), full=self._full_hash),
                             self.model_id, *self._settings)
        stored = _decoded(self.cache.get(key))
        if isinstance(stored, list):
            yield from (_segment(s) for s in stored)
            return
        segments = list(self.inner.transcribe(audio))  # a decode error propagates uncached
        self.cache.put(key, json.dumps([asdict(s) for s in segments]).encode())
        yield from segments


class CachedShots:
    """A :class:`~indexing.protocols.ShotDetector` whose cuts and keyframes come from the
    cache for a file it has seen with the same detector settings."""

    def __init__(self, inner: ShotDetector, cache: StageCache, settings: Settings) -> None:
        self.inner = inner
        self.cache = cache
        self._width = settings.shot_downscale_width

    def detect(self, media: Media, keyframe_dir: Path | None = None) -> list[Shot]:
        """The shots of ``media``, keyframes written to ``keyframe_dir`` (copied on a hit)."""
        key = self.cache.key("shots", media.media_id, self._width, keyframe_dir is not None)
        stored = _decoded(self.cache.get(key))
        files = self.cache.files(key)
        if isinstance(stored, list) and _has_keyframes(stored, files):
            shots = []
            for s in stored:
                name = s.pop("keyframe")
                keyframe = None
                if name and keyframe_dir is not None:
                    keyframe = keyframe_dir / name
                    keyframe_dir.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(files / name, keyframe)
                shots.append(Shot(keyframe=keyframe, **s))
            return shots
        shots = self.inner.detect(media, keyframe_dir)
        files.mkdir(parents=True, exist_ok=True)
        rows = []
        for shot in shots:
            if shot.keyframe is not None and shot.keyframe.exists():
                shutil.copy2(shot.keyframe, files / shot.keyframe.name)
            row = asdict(replace(shot, faces=None))
            row["keyframe"] = shot.keyframe.name if shot.keyframe is not None else None
            rows.append(row)
        self.cache.put(key, json.dumps(rows).encode())
        return shots


class CachedPictures:
    """Face counts (:class:`~indexing.protocols.FaceCounter`) or text readings
    (:class:`~indexing.protocols.TextReader`) per picture, keyed by the picture's pixels."""

    def __init__(self, factory: Callable[[], Any], model_id: str, stage: str,
                 cache: StageCache, setting: object = None) -> None:
        self._factory = factory
        self._inner: Any = None
        self.model_id = model_id
        self._stage = stage
        self._setting = setting
        self.cache = cache

    def _pictures(self, images: Sequence[np.ndarray], compute: Callable[[Any, list[np.ndarray]],
                  list[Any]], encode: Callable[[Any], Any],
                  decode: Callable[[Any], Any]) -> list[Any]:
        keys = [self.cache.key(self._stage, hashlib.sha256(np.ascontiguousarray(im).data)
                               .hexdigest(), im.shape, self.model_id, self._setting)
                for im in images]
        out: list[Any] = [None] * len(images)
        todo = []
        for i, key in enumerate(keys):
            stored = _decoded(self.cache.get(key))
            if stored is None:
                todo.append(i)
            else:
                out[i] = decode(stored)
        if todo:
            if self._inner is None:
                self._inner = self._factory()
            for i, value in zip(todo, compute(self._inner, [images[i] for i in todo]),
                                strict=True):
                self.cache.put(keys[i], json.dumps(encode(value)).encode())
                out[i] = value
        return out

    def count(self, images: Sequence[np.ndarray]) -> list[int]:
        """Faces per picture (see :class:`~indexing.protocols.FaceCounter`)."""
        return self._pictures(images, lambda m, ims: m.count(ims), int, int)

    def read(self, images: Sequence[np.ndarray]) -> list[list[TextBox]]:
        """Lines of text per picture (see :class:`~indexing.protocols.TextReader`)."""
        return self._pictures(
            images, lambda m, ims: m.read(ims),
            lambda boxes: [[b.text, b.confidence, list(b.box)] for b in boxes],
            lambda rows: [TextBox(t, float(c), (float(x[0]), float(x[1]), float(x[2]),
                                                float(x[3]))) for t, c, x in rows])


class CachedEmbedder:
    """An :class:`~indexing.protocols.Embedder` storing each text's vector, so a clip embedded
    once with a model is never embedded again with it (queries are not cached)."""

    def __init__(self, inner: Embedder, cache: StageCache) -> None:
        self.inner = inner
        self.cache = cache
        self.model_id = inner.model_id

    @property
    def dim(self) -> int:
        """The vector length, remembered so that a full hit never loads the model."""
        key = self.cache.key("dim", self.model_id)
        stored = _decoded(self.cache.get(key))
        if isinstance(stored, int):
            return stored
        dim = int(self.inner.dim)
        self.cache.put(key, json.dumps(dim).encode())
        return dim

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``: stored ones, the rest embedded in one batch and stored."""
        if isinstance(texts, str):
            raise TypeError("embed_texts takes a sequence of strings, not a single string")
        keys = [self.cache.key("embed", self.model_id, t) for t in texts]
        found = [self.cache.get(k) for k in keys]
        todo = [i for i, v in enumerate(found) if v is None]
        rows: list[np.ndarray | None] = [
            None if v is None else np.frombuffer(v, dtype=np.float32) for v in found]
        if todo:
            fresh = self.inner.embed_texts([texts[i] for i in todo])
            for i, vec in zip(todo, fresh, strict=True):
                vec = np.ascontiguousarray(vec, dtype=np.float32)
                self.cache.put(keys[i], vec.tobytes())
                rows[i] = vec
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([r for r in rows if r is not None]).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        """A query's vector, from the model (queries are what an experiment varies)."""
        return self.inner.embed_query(text)


def cached_backends(settings: Settings, cache: StageCache, built_with: str | None = None) -> Any:
    """The pipeline's :class:`~indexing.pipeline.Backends` with every stage behind ``cache``.

    Models are built (not loaded: they load on their first miss) from ``settings`` as the
    pipeline builds them.
    """
    from indexing.backends.faster_whisper import transcriber_from_settings
    from indexing.backends.mtcnn import MtcnnFaces
    from indexing.backends.rapidocr import MODEL_LABEL as OCR_MODEL
    from indexing.backends.rapidocr import reader_from_settings
    from indexing.backends.scenedetect import SceneDetectShots
    from indexing.pipeline import Backends
    from indexing.stages.embed import embedder_from_settings

    return Backends(
        settings, built_with,
        _transcriber=CachedTranscriber(transcriber_from_settings(settings), cache, settings),
        _embedder=CachedEmbedder(embedder_from_settings(settings, built_with), cache),
        _shots=CachedShots(SceneDetectShots.from_settings(settings), cache, settings),
        _text_reader=CachedPictures(lambda: reader_from_settings(settings), OCR_MODEL, "ocr",
                                    cache, settings.ocr_side),
        _faces=CachedPictures(MtcnnFaces, MtcnnFaces.model_id, "faces", cache),
    )


def _decoded(value: bytes | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None  # a damaged entry is recomputed


def _segment(row: dict[str, Any]) -> Segment:
    words = tuple(Word(**w) for w in row.pop("words", ()))
    return Segment(words=words, **row)


def _has_keyframes(rows: list[dict[str, Any]], files: Path) -> bool:
    return all(not r.get("keyframe") or (files / r["keyframe"]).is_file() for r in rows)
