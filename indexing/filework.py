"""The model work on one file, shared by every engine: probe → transcribe (audio) + subtitles
(sidecars and tracks inside the file) + shots and keyframes (picture) → faces → on-screen text
→ clips → embeddings.

:class:`FileWork` turns a path into a plain, picklable :class:`FileOutput` (or a
:class:`~indexing.types.Failure`) and never touches the store: the local engine calls it in its
loop, the Ray engine in its actors, and both hand the output to the same driver-side writer
(:meth:`indexing.pipeline.Indexer.commit`). Models are built on first use and stay loaded for the
life of the object, so one ``FileWork`` per process (or actor) loads each model once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from indexing.media import MediaError, probe
from indexing.protocols import Embedder, FaceCounter, ShotDetector, TextReader, Transcriber
from indexing.settings import Settings
from indexing.types import Clip, ClipKind, Cue, Failure, FileResult, Media, Segment, Shot


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
            from indexing.backends.faster_whisper import transcriber_from_settings

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
            from indexing.backends.scenedetect import SceneDetectShots

            self._shots = SceneDetectShots.from_settings(self.settings)
        return self._shots

    @property
    def text_reader(self) -> TextReader:
        if self._text_reader is None:
            from indexing.backends.rapidocr import reader_from_settings

            self._text_reader = reader_from_settings(self.settings)
        return self._text_reader

    @property
    def faces(self) -> FaceCounter:
        if self._faces is None:
            from indexing.backends.mtcnn import MtcnnFaces

            self._faces = MtcnnFaces()
        return self._faces

    @property
    def clip(self) -> Any:
        """The CLIP embedder of picture search, or None when ``clip_model`` is unset."""
        if self._clip is None and self.settings.clip_model:
            from indexing.backends.open_clip import clip_from_settings

            self._clip = clip_from_settings(self.settings)
        return self._clip


@dataclass(frozen=True)
class FileOutput:
    """Everything one file yields, ready for the store; plain data, so it crosses processes.

    ``keyframes`` holds the keyframe JPEGs (file name, bytes) when the worker wrote them
    somewhere the driver cannot see (see :meth:`FileWork.run`); empty when they are already in
    the index's keyframe folder.
    """

    media: Media
    clips: tuple[Clip, ...]
    vectors: np.ndarray
    windows: tuple[tuple[int, np.ndarray], ...]
    shots: tuple[Shot, ...]
    embedder: tuple[str, int]  # model id and dimension of the vectors
    language: str
    asr_model: str
    warnings: tuple[str, ...]
    seconds: float  # wall time of the model work (probe to embeddings)
    stage_seconds: tuple[tuple[str, float], ...] = ()
    keyframes: tuple[tuple[str, bytes], ...] = ()
    shot_vectors: tuple[Any, ...] = ()  # ShotVector rows of picture search (none when it is off)
    clip_model: str = ""  # the CLIP model id of ``shot_vectors``

    def placed(self, keyframe_dir: Path) -> FileOutput:
        """This output with its shipped keyframes' paths pointing into ``keyframe_dir``."""
        if not self.keyframes:
            return self
        shots = tuple(replace(s, keyframe=keyframe_dir / s.keyframe.name) if s.keyframe else s
                      for s in self.shots)
        clips = tuple(replace(c, keyframe=str(keyframe_dir / Path(c.keyframe).name))
                      if c.keyframe else c for c in self.clips)
        vectors = tuple(replace(v, frame=str(keyframe_dir / Path(v.frame).name),
                                keyframe=str(keyframe_dir / Path(v.keyframe).name))
                        for v in self.shot_vectors)
        return replace(self, shots=shots, clips=clips, shot_vectors=vectors)


class FileError(Exception):
    """A file that cannot be indexed, and the stage that found out."""

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


class _Clock:
    """Forwards stage reports to a :class:`Progress` and adds up the seconds of each stage."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.spent: dict[str, float] = {}
        self._name = ""
        self._since = time.monotonic()

    def stage(self, name: str, fraction: float | None = None) -> None:
        self.progress.stage(name, fraction)
        if name != self._name:
            self.stop()
            self._name = name

    def stop(self) -> None:
        now = time.monotonic()
        if self._name:
            self.spent[self._name] = self.spent.get(self._name, 0.0) + now - self._since
        self._name, self._since = "", now


class FileWork:
    """Runs the model stages on one file at a time. Reusable: models stay loaded."""

    def __init__(self, settings: Settings, backends: Backends | None = None,
                 progress: Progress | None = None) -> None:
        self.settings = settings
        self.backends = backends or Backends(settings)
        self.progress: Progress = progress or NullProgress()
        self._splitter: Any = None  # the OCR word splitter, loaded once

    def run(self, path: Path, media_id: str, keyframe_dir: Path, *,
            ship_keyframes: bool = False,
            meta: dict[str, Any] | None = None) -> FileOutput | Failure:
        """Index ``path`` (whose content hash is ``media_id``) into a :class:`FileOutput`.

        Keyframes are written to ``keyframe_dir``; with ``ship_keyframes`` their bytes also
        travel in the output (and the files are deleted), for a worker whose disk the driver
        does not share. ``meta`` is the file's catalogue record (manifest, LLM), indexed as its
        ``meta`` clip. Bad media gives a :class:`Failure` naming the stage; never raises for it.
        """
        t0 = time.monotonic()
        clock = _Clock(self.progress)
        try:
            clock.stage("probe")
            media = probe(path, media_id)
        except (MediaError, OSError) as exc:
            return Failure(path, str(exc), "probe")
        self.progress.file_started(path, media.duration)
        try:
            out = self._stages(media, keyframe_dir, clock, meta or {})
        except FileError as exc:
            return Failure(path, exc.reason, exc.stage)
        except Exception as exc:  # a model or decoder crash on one file must not end the batch
            return Failure(path, f"{type(exc).__name__}: {exc}".splitlines()[0], "index")
        clock.stop()
        out = replace(out, seconds=time.monotonic() - t0,
                      stage_seconds=tuple(sorted(clock.spent.items())))
        return _shipped(out) if ship_keyframes else out

    def _stages(self, media: Media, keyframe_dir: Path, clock: _Clock,
                meta: dict[str, Any]) -> FileOutput:
        from indexing.stages.clips import speech_clips, subtitle_clips
        from indexing.stages.embed import clip_vectors
        from indexing.stages.meta_clips import meta_clip

        s = self.settings
        warnings: list[str] = []
        segments: list[Segment] = []
        language = ""
        if media.has_audio:
            segments = self._transcribe(media, clock)
            language = next((seg.language for seg in segments if seg.language), "") or ""
        tracks = self._subtitles(media, warnings, clock)
        shots: list[Shot] = []
        if media.has_video and s.shots:
            clock.stage("shots")
            try:
                shots = self.backends.shots.detect(media, keyframe_dir)
            except MediaError as exc:
                if not (segments or tracks):
                    raise FileError("shots", str(exc)) from exc
                warnings.append(f"picture not decodable, shots skipped: {exc}")
        if shots and s.faces:
            shots = self._count_faces(shots, warnings, clock)
        shot_vectors = self.embed_shots(media.media_id, media.path, shots, keyframe_dir,
                                        warnings, clock)
        if not segments and not tracks and not shots:
            what = "no speech detected" if media.has_audio else "no audio stream"
            raise FileError("content", f"nothing to index: {what}, no subtitles and no picture")

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
            clips += self._read_text(media, shots, warnings, clock)
        if not clips and not shots:
            raise FileError("clips", "no searchable text found")
        described = meta_clip(media.media_id, str(media.path), media.duration, meta)
        if described is not None:
            clips.append(described)

        clock.stage("embed")
        embedder = self.backends.embedder
        vectors, windows = clip_vectors(embedder, clips)
        if not clips:
            warnings.append("no speech or subtitles: only shots are indexed")
        return FileOutput(
            media=media, clips=tuple(clips), vectors=vectors, windows=tuple(windows),
            shots=tuple(shots), embedder=(embedder.model_id, embedder.dim), language=language,
            asr_model=self.backends.transcriber.model_id if segments else "",
            warnings=tuple(warnings), seconds=0.0, shot_vectors=tuple(shot_vectors),
            clip_model=self.backends.clip.model_id if shot_vectors else "")

    def _subtitles(self, media: Media, warnings: list[str],
                   clock: _Clock) -> list[tuple[str | None, list[Cue]]]:
        """One ``(language, cues)`` track per sidecar (film.en.srt and film.de.scc are two
        tracks) and per text subtitle track inside the file; what was skipped only warns."""
        from indexing.stages.embedded_subtitles import embedded_tracks
        from indexing.stages.subtitles import find_sidecars, on_file_clock, read_subtitles

        tracks: list[tuple[str | None, list[Cue]]] = []
        for sidecar in find_sidecars(media.path):
            clock.stage("subtitles")
            try:
                found = read_subtitles(sidecar)
            except (ValueError, OSError) as exc:
                warnings.append(f"subtitles {sidecar.name} skipped: {exc}")
                continue
            if found.skipped:
                warnings.append(f"subtitles {sidecar.name}: {len(found.skipped)} cue(s) "
                                f"skipped: " + "; ".join(found.skipped[:3]))
            cues, note = on_file_clock(list(found.cues), media)
            if note:
                warnings.append(f"subtitles {sidecar.name}: {note}")
            if cues:
                tracks.append((sidecar_language(sidecar, media.path), cues))
        if any(s.kind == "subtitle" for s in media.streams):
            clock.stage("subtitles")
            inside, more = embedded_tracks(media)
            warnings.extend(more)
            tracks += [(t.language, list(t.track.cues)) for t in inside]
        return tracks

    def embed_shots(self, media_id: str, path: Path, shots: list[Shot], keyframe_dir: Path,
                    warnings: list[str], clock: _Clock | None = None) -> list[Any]:
        """CLIP vectors of the shots' frames (picture search); none when it is off. A missing
        or broken model only warns: speech, text and shots are indexed all the same."""
        if not shots or not self.settings.clip_model:
            return []
        from indexing.stages.picture import embed_shots

        if clock is not None:
            clock.stage("clip")
        try:
            rows, more = embed_shots(media_id, path, shots, self.backends.clip, keyframe_dir,
                                     per_long_shot=self.settings.clip_frames,
                                     long_shot=self.settings.clip_long_shot)
        except Exception as exc:  # no torch/open_clip, bad weights, a crash on a frame
            warnings.append(f"shot embeddings skipped: {type(exc).__name__}: {exc}"
                            .splitlines()[0])
            return []
        warnings.extend(more)
        return rows

    def _count_faces(self, shots: list[Shot], warnings: list[str],
                     clock: _Clock) -> list[Shot]:
        from indexing.stages.faces import count_faces

        clock.stage("faces")
        try:
            return count_faces(shots, self.backends.faces)
        except ImportError as exc:  # the detector's package is missing: index without counts
            warnings.append(f"faces not counted: {exc}")
            return shots

    def _read_text(self, media: Media, shots: list[Shot], warnings: list[str],
                   clock: _Clock) -> list[Clip]:
        """On-screen text as ``ocr`` clips; a reader that is missing or fails only warns."""
        from indexing.stages.ocr import ocr_clips
        from indexing.stages.ocr_text import WordSplitter

        s = self.settings
        clock.stage("ocr")
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

    def _transcribe(self, media: Media, clock: _Clock) -> list[Segment]:
        # The transcriber streams the file from ffmpeg chunk by chunk, so a feature-length film
        # never sits in memory whole; an undecodable or empty audio track raises MediaError
        # before the first segment.
        clock.stage("transcribe", 0.0)
        segments = []
        try:
            for seg in self.backends.transcriber.transcribe(media.path):
                segments.append(seg)
                clock.stage("transcribe", min(seg.end / media.duration, 1.0))
        except MediaError as exc:
            if media.has_video:
                return []  # the picture may still be indexable
            raise FileError("audio", str(exc)) from exc
        return segments


def _shipped(out: FileOutput) -> FileOutput:
    """``out`` carrying its keyframe files' bytes (which are then deleted from the worker)."""
    files = sorted({s.keyframe for s in out.shots if s.keyframe is not None}
                   | {Path(v.frame) for v in out.shot_vectors})
    shipped = tuple((f.name, f.read_bytes()) for f in files if f.exists())
    for f in files:
        f.unlink(missing_ok=True)
    return replace(out, keyframes=shipped)


def sidecar_language(sidecar: Path, media_path: Path) -> str | None:
    """The language a sidecar's name declares: ``film.en.vtt`` or ``film.pt-BR.forced.srt`` ->
    ``en`` / ``pt`` (ISO 639-1); ``film.srt`` -> None."""
    tags = sidecar.name[len(media_path.stem):].split(".")[1:-1]
    for tag in tags:
        code = tag.replace("_", "-").split("-")[0]
        if len(code) == 2 and code.isascii() and code.isalpha():
            return code.lower()
    return None
