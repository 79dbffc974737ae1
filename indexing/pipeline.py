"""Runs the stages for each file and writes the results to the store.

Per file: hash → skip if unchanged → probe → transcribe (audio) + sidecar subtitles + shots and
keyframes (picture) → clips → embeddings → store. A file's media record is written only after its
clips and shots, so a run killed at any point leaves either a finished file or rows that the next
run recognises as orphans and clears before redoing that file: no duplicates, nothing lost.
A run holds the store's writer lock throughout, so a second writer cannot take this run's
half-written rows for orphans.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from indexing.discover import discover
from indexing.media import MediaError, file_hash, probe
from indexing.protocols import Embedder, FaceCounter, ShotDetector, TextReader, Transcriber
from indexing.settings import Settings
from indexing.stores.base import ClipStore, MediaRecord, StoreError
from indexing.types import (
    Clip,
    ClipKind,
    Cue,
    Failure,
    FileResult,
    IndexReport,
    Media,
    Segment,
    Shot,
)

# Bring the full-text index up to date at least this often during a long run (if rows changed),
# so searches during a run of hours stay fast.
_FINALIZE_EVERY_S = 300.0


class Progress(Protocol):
    """What the pipeline reports while it works (the CLI draws it with rich)."""

    def start(self, files: Sequence[Path]) -> None: ...

    def file_started(self, path: Path, duration: float) -> None: ...

    def stage(self, name: str, fraction: float | None = None) -> None: ...

    def file_done(self, result: FileResult) -> None: ...

    def file_failed(self, failure: Failure) -> None: ...


class NullProgress:
    """Reports nothing."""

    def start(self, files: Sequence[Path]) -> None: ...

    def file_started(self, path: Path, duration: float) -> None: ...

    def stage(self, name: str, fraction: float | None = None) -> None: ...

    def file_done(self, result: FileResult) -> None: ...

    def file_failed(self, failure: Failure) -> None: ...


@dataclass
class Backends:
    """The models the pipeline uses, built on first use from :class:`Settings`.

    Building lazily means a re-run over unchanged files loads no model at all.
    """

    settings: Settings
    built_with: str | None = None  # the embedder an existing index records (see embedder)
    _transcriber: Transcriber | None = field(default=None, repr=False)
    _embedder: Embedder | None = field(default=None, repr=False)
    _shots: ShotDetector | None = field(default=None, repr=False)
    _text_reader: TextReader | None = field(default=None, repr=False)
    _faces: FaceCounter | None = field(default=None, repr=False)
    _clip: Any = field(default=None, repr=False)  # OpenClipEmbedder (torch stays unimported)

    @property
    def transcriber(self) -> Transcriber:
        if self._transcriber is None:
            from indexing.stages.transcribe import transcriber_from_settings

            self._transcriber = transcriber_from_settings(self.settings)
        return self._transcriber

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            from indexing.stages.embed import embedder_from_settings

            self._embedder = embedder_from_settings(self.settings, self.built_with)
        return self._embedder

    @property
    def shots(self) -> ShotDetector:
        if self._shots is None:
            from indexing.stages.shots import SceneDetectShots

            self._shots = SceneDetectShots.from_settings(self.settings)
        return self._shots

    @property
    def text_reader(self) -> TextReader:
        if self._text_reader is None:
            from indexing.stages.ocr import reader_from_settings

            self._text_reader = reader_from_settings(self.settings)
        return self._text_reader

    @property
    def faces(self) -> FaceCounter:
        if self._faces is None:
            from indexing.stages.faces import MtcnnFaces

            self._faces = MtcnnFaces()
        return self._faces

    @property
    def clip(self) -> Any:
        """The CLIP embedder of picture search, or None when ``clip_model`` is unset."""
        if self._clip is None and self.settings.clip_model:
            from indexing.stages.clip import clip_from_settings

            self._clip = clip_from_settings(self.settings)
        return self._clip


class _FileError(Exception):
    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


class Indexer:
    """Indexes files into one store. Reusable across calls (models stay loaded)."""

    def __init__(self, store: ClipStore, settings: Settings,
                 backends: Backends | None = None, progress: Progress | None = None) -> None:
        self.store = store
        self.settings = settings
        built_with = store.embedder()
        self.backends = backends or Backends(settings, built_with[0] if built_with else None)
        self.progress: Progress = progress or NullProgress()
        self.keyframe_dir = store.db_dir / "keyframes"
        self._splitter: Any = None  # the OCR word splitter, loaded once per indexer

    # -- public --------------------------------------------------------------------------------
    @property
    def id_scheme(self) -> str:
        """How media ids are hashed: ``full`` (every byte) or ``sampled`` (see file_hash)."""
        return "full" if self.settings.full_hash else "sampled"

    def index(self, paths: Iterable[Path], *, prune: bool = False,
              wait: float = 0.0) -> IndexReport:
        """Index every media file under ``paths``; return what happened to each.

        Holds the store's writer lock for the whole run, waiting up to ``wait`` seconds for
        another writer (then :class:`StoreError`).
        """
        with self.store.writing(wait):
            self.store.ensure_id_scheme(self.id_scheme)
            files, failures = discover(paths)
            for f in failures:
                self.progress.file_failed(f)
            self.store.prune_orphans()
            self.progress.start(files)
            results: list[FileResult] = []
            last_finalize = time.monotonic()
            for path in files:
                outcome = self.index_file(path)
                if isinstance(outcome, Failure):
                    failures.append(outcome)
                    self.progress.file_failed(outcome)
                else:
                    results.append(outcome)
                    self.progress.file_done(outcome)
                if time.monotonic() - last_finalize > _FINALIZE_EVERY_S:
                    self.store.finalize()  # a no-op unless rows changed
                    last_finalize = time.monotonic()
            pruned = tuple(self.prune()) if prune else ()
            self.store.finalize()
        return IndexReport(results=tuple(results), failures=tuple(failures), pruned=pruned)

    def prune(self) -> list[str]:
        """Drop files that are no longer on disk from the store; return their paths.

        Call it inside :meth:`index`, or holding ``store.writing()``."""
        gone = [m.path for m in self.store.media() if not Path(m.path).exists()]
        for p in gone:
            self.store.remove_media(p)
        return gone

    def index_file(self, path: Path) -> FileResult | Failure:
        """Index one file, or return why it could not be indexed. Never raises for bad media.

        ``path`` must be resolved as :func:`~indexing.discover.discover` does (it is the key the
        file is stored under). Call it inside :meth:`index`, or holding ``store.writing()``.
        """
        t0 = time.monotonic()
        key = str(path)
        try:
            st = path.stat()
        except OSError as exc:
            return Failure(path, f"cannot read: {exc.strerror}", "stat")
        known = self.store.media_by_path(key)
        if known and known.size == st.st_size and known.mtime_ns == st.st_mtime_ns:
            # Picture search switched on after the file was indexed: embed its stored shots.
            warnings = tuple(self._backfill_shot_vectors(known.media_id, path))
            return FileResult(path, known.media_id, "unchanged", known.clips, known.shots,
                              known.duration, warnings=warnings)
        try:
            self.progress.stage("hash")
            media_id = file_hash(path, full=self.settings.full_hash)
            if known and known.media_id == media_id:
                # Same bytes, new mtime (copied or touched): remember the new stat, no model work.
                self.store.put_media(_record_with_stat(known, st.st_size, st.st_mtime_ns))
                return FileResult(path, media_id, "unchanged", known.clips, known.shots,
                                  known.duration)
            self.progress.stage("probe")
            media = probe(path, media_id)
        except (MediaError, OSError) as exc:
            return self._fail(path, "probe", str(exc))
        self.progress.file_started(path, media.duration)
        try:
            result = self._index_media(media, t0)
        except _FileError as exc:
            return self._fail(path, exc.stage, exc.reason)
        except StoreError:
            raise  # a store problem concerns every file: stop the run
        except Exception as exc:  # a model or decoder crash on one file must not end the batch
            return self._fail(path, "index", f"{type(exc).__name__}: {exc}".splitlines()[0])
        self.store.clear_failure(key)
        return result

    # -- internals -----------------------------------------------------------------------------
    def _fail(self, path: Path, stage: str, reason: str) -> Failure:
        self.store.record_failure(str(path), reason, stage)
        return Failure(path, reason, stage)

    def _index_media(self, media: Media, t0: float) -> FileResult:
        from indexing.stages.clips import speech_clips, subtitle_clips
        from indexing.stages.embed import clip_vectors
        from indexing.stages.subtitles import find_sidecars, read_cues

        s = self.settings
        warnings: list[str] = []
        segments: list[Segment] = []
        language = ""
        if media.has_audio:
            self.progress.stage("transcribe", 0.0)
            segments = self._transcribe(media)
            language = next((seg.language for seg in segments if seg.language), "") or ""
        # One track per sidecar (film.en.srt and film.de.srt are two tracks, not one stream).
        tracks: list[tuple[str | None, list[Cue]]] = []
        for sidecar in find_sidecars(media.path):
            self.progress.stage("subtitles")
            try:
                cues = read_cues(sidecar)
            except (ValueError, OSError) as exc:
                warnings.append(f"subtitles {sidecar.name} skipped: {exc}")
                continue
            if cues:
                tracks.append((sidecar_language(sidecar, media.path), cues))
        shots: list[Shot] = []
        if media.has_video and s.shots:
            self.progress.stage("shots")
            try:
                shots = self.backends.shots.detect(media, self.keyframe_dir)
            except MediaError as exc:
                if not (segments or tracks):
                    raise _FileError("shots", str(exc)) from exc
                warnings.append(f"picture not decodable, shots skipped: {exc}")
        if shots and s.faces:
            shots = self._count_faces(shots, warnings)
        shot_vectors = self._embed_shots(media.media_id, media.path, shots, warnings)
        if not segments and not tracks and not shots:
            what = "no speech detected" if media.has_audio else "no audio stream"
            raise _FileError("content", f"nothing to index: {what}, no subtitles and no picture")

        clips: list[Clip] = []
        clip_args = {"target": s.clip_target, "max_len": s.clip_max, "min_len": s.clip_min}
        if segments:
            clips += speech_clips(media, segments, shots, **clip_args)
        for lang, cues in tracks:
            track = subtitle_clips(media, cues, shots, **clip_args, language=lang)
            # seq numbers the clips of one kind in a file (for neighbours), across tracks
            first = sum(1 for c in clips if c.kind is ClipKind.SUBTITLE)
            clips += [replace(c, seq=first + c.seq) for c in track]
        if media.has_video and s.ocr and (shots or not s.shots):
            clips += self._read_text(media, shots, warnings)
        if not clips and not shots:
            raise _FileError("clips", "no searchable text found")
        clips += self._meta_clips(media)

        self.progress.stage("embed")
        embedder = self.backends.embedder
        self.store.ensure_embedder(embedder.model_id, embedder.dim)
        vectors, windows = clip_vectors(embedder, clips)
        self.progress.stage("store")
        # Clear rows of an older version of this file (or of a killed run) before writing.
        self.store.remove_media(str(media.path))
        self.store.add_clips(clips, vectors, windows)
        self.store.add_shots(media.media_id, str(media.path), shots)
        if shot_vectors:
            from indexing.stores.shot_vectors import ShotVectors

            ShotVectors(self.store.db_dir).add(self.backends.clip.model_id, shot_vectors)
        if not clips:
            warnings.append("no speech or subtitles: only shots are indexed")
        record = MediaRecord(
            media_id=media.media_id, path=str(media.path), duration=media.duration,
            size=media.size, mtime_ns=media.mtime_ns, has_audio=media.has_audio,
            has_video=media.has_video, clips=len(clips), shots=len(shots),
            indexed_at=time.time(), language=language,
            asr_model=self.backends.transcriber.model_id if segments else "",
            warnings="\n".join(warnings),
        )
        self.store.put_media(record)  # last: marks the file complete
        return FileResult(media.path, media.media_id, "indexed", len(clips), len(shots),
                          media.duration, time.monotonic() - t0, tuple(warnings))

    def _meta_clips(self, media: Media) -> list[Clip]:
        """The file's catalogue record (manifest, LLM catalogue) as a ``meta`` clip, if any."""
        from indexing.stages.meta_clips import meta_clip
        from indexing.stores.file_meta import FileMetaStore, merged

        fields = merged(FileMetaStore(self.store.db_dir).of(media.media_id, str(media.path)))
        clip = meta_clip(media.media_id, str(media.path), media.duration, fields)
        return [clip] if clip is not None else []

    def _count_faces(self, shots: list[Shot], warnings: list[str]) -> list[Shot]:
        from indexing.stages.faces import count_faces

        self.progress.stage("faces")
        try:
            return count_faces(shots, self.backends.faces)
        except ImportError as exc:  # the detector's package is missing: index without counts
            warnings.append(f"faces not counted: {exc}")
            return shots

    def _embed_shots(self, media_id: str, path: Path, shots: list[Shot],
                     warnings: list[str]) -> list[Any]:
        """CLIP vectors of the shots' frames (picture search); none when it is off. A missing
        or broken model only warns: speech, text and shots are indexed all the same."""
        if not shots or not self.settings.clip_model:
            return []
        from indexing.stages.clip import embed_shots

        self.progress.stage("clip")
        try:
            clip = self.backends.clip
            rows, more = embed_shots(media_id, path, shots, clip, self.keyframe_dir,
                                     per_long_shot=self.settings.clip_frames,
                                     long_shot=self.settings.clip_long_shot)
        except Exception as exc:  # no torch/open_clip, bad weights, a crash on a frame
            warnings.append(f"shot embeddings skipped: {type(exc).__name__}: {exc}"
                            .splitlines()[0])
            return []
        warnings.extend(more)
        return rows

    def _backfill_shot_vectors(self, media_id: str, path: Path) -> list[str]:
        """Embed the stored shots of an unchanged file that has no vectors of the current
        CLIP model (picture search was switched on, or its model changed, after indexing)."""
        if not self.settings.clip_model or not self.settings.shots:
            return []
        from indexing.stores.shot_vectors import ShotVectors

        table = ShotVectors(self.store.db_dir)
        warnings: list[str] = []
        try:
            model_id = self.backends.clip.model_id
        except Exception as exc:
            return [f"shot embeddings skipped: {exc}"]
        if table.has(model_id, media_id):
            return []
        rows = self._embed_shots(media_id, path, self.store.shots_of(media_id), warnings)
        table.add(model_id, rows)
        return warnings

    def _read_text(self, media: Media, shots: list[Shot], warnings: list[str]) -> list[Clip]:
        """On-screen text as ``ocr`` clips; a reader that is missing or fails only warns."""
        from indexing.stages.ocr import ocr_clips
        from indexing.stages.ocr_text import WordSplitter

        s = self.settings
        self.progress.stage("ocr")
        if self._splitter is None:
            self._splitter = WordSplitter()
        try:
            return ocr_clips(media, shots, self.backends.text_reader, self._splitter,
                             every=s.ocr_every, max_per_minute=s.ocr_per_minute)
        except ImportError as exc:
            warnings.append(f"on-screen text not read: {exc}")
        except Exception as exc:  # an OCR crash on one file must not lose its speech and shots
            warnings.append(f"on-screen text not read: {type(exc).__name__}: {exc}"
                            .splitlines()[0])
        return []

    def _transcribe(self, media: Media) -> list[Segment]:
        # The transcriber streams the file from ffmpeg chunk by chunk, so a feature-length film
        # never sits in memory whole; an undecodable or empty audio track raises MediaError
        # before the first segment.
        self.progress.stage("transcribe", 0.0)
        segments = []
        try:
            for seg in self.backends.transcriber.transcribe(media.path):
                segments.append(seg)
                self.progress.stage("transcribe", min(seg.end / media.duration, 1.0))
        except MediaError as exc:
            if media.has_video:
                return []  # the picture may still be indexable
            raise _FileError("audio", str(exc)) from exc
        return segments


def _record_with_stat(r: MediaRecord, size: int, mtime_ns: int) -> MediaRecord:
    return replace(r, size=size, mtime_ns=mtime_ns)


def sidecar_language(sidecar: Path, media_path: Path) -> str | None:
    """The language a sidecar's name declares: ``film.en.vtt`` or ``film.pt-BR.forced.srt`` ->
    ``en`` / ``pt`` (ISO 639-1); ``film.srt`` -> None."""
    tags = sidecar.name[len(media_path.stem):].split(".")[1:-1]
    for tag in tags:
        code = tag.replace("_", "-").split("-")[0]
        if len(code) == 2 and code.isascii() and code.isalpha():
            return code.lower()
    return None


def open_store(settings: Settings, *, create: bool = True) -> ClipStore:
    """Open (or create) the store named by ``settings.db_dir``."""
    from indexing.stores.lance import LanceStore

    return LanceStore(settings.db_dir, create=create)


def index_paths(paths: Iterable[Path], settings: Settings, *, prune: bool = False,
                wait: float = 0.0, progress: Progress | None = None,
                store_factory: Callable[[Settings], ClipStore] = open_store) -> IndexReport:
    """Index ``paths`` into the store of ``settings`` (the one-call public API)."""
    store = store_factory(settings)
    return Indexer(store, settings, progress=progress).index(paths, prune=prune, wait=wait)
