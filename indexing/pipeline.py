"""Runs the stages for each file and writes the results to the store.

Per file: hash → skip if unchanged → probe → transcribe (audio) + sidecar subtitles + shots and
keyframes (picture) → clips → embeddings (:mod:`indexing.filework`, shared by every engine) →
store (here, in the driver). A file's media record is written only after its
clips and shots, so a run killed at any point leaves either a finished file or rows that the next
run recognises as orphans and clears before redoing that file: no duplicates, nothing lost.
A run holds the store's writer lock throughout, so a second writer cannot take this run's
half-written rows for orphans.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from indexing.discover import discover
from indexing.filework import Backends, FileOutput, FileWork, NullProgress, Progress
from indexing.filework import sidecar_language as sidecar_language  # re-exported (older callers)
from indexing.media import MediaError, file_hash, probe
from indexing.settings import Settings
from indexing.stores.base import ClipStore, MediaRecord, StoreError
from indexing.stores.keyframes import push_keyframes
from indexing.types import Failure, FileResult, IndexReport, Media

# Bring the full-text index up to date at least this often during a long run (if rows changed),
# so searches during a run of hours stay fast.
_FINALIZE_EVERY_S = 300.0


class Indexer:
    """Indexes files into one store. Reusable across calls (models stay loaded).

    The driver half of every engine: it screens files (unchanged ones are skipped before any
    model loads), and writes each file's :class:`~indexing.filework.FileOutput` to the store.
    This class runs the model work in its own loop (the local engine);
    :class:`indexing.engines.ray_engine.RayIndexer` runs it in Ray actors.
    """

    def __init__(self, store: ClipStore, settings: Settings,
                 backends: Backends | None = None, progress: Progress | None = None) -> None:
        self.store = store
        self.settings = settings
        built_with = store.embedder()
        self.backends = backends or Backends(settings, built_with[0] if built_with else None)
        self.progress: Progress = progress or NullProgress()
        self.keyframe_dir = store.db_dir / "keyframes"
        self._work: FileWork | None = None
        # Seconds each stage took, summed over the files this indexer wrote (benches): the
        # model stages, and the driver's own `hash` and `store`.
        self.stage_seconds: dict[str, float] = {}

    # -- public --------------------------------------------------------------------------------
    @property
    def id_scheme(self) -> str:
        """How media ids are hashed: ``full`` (every byte) or ``sampled`` (see file_hash)."""
        return "full" if self.settings.full_hash else "sampled"

    @property
    def work(self) -> FileWork:
        """The model stages, run in this process (built on first use, sharing the backends)."""
        if self._work is None:
            self._work = FileWork(self.settings, self.backends, self.progress)
        return self._work

    def index(self, paths: Iterable[Path], *, prune: bool = False,
              wait: float = 0.0) -> IndexReport:
        """Index every media file under ``paths``; return what happened to each.

        Holds the store's writer lock for the whole run, waiting up to ``wait`` seconds for
        another writer (then :class:`StoreError`).
        """
        with self.store.writing(wait):
            files, failures = self.begin(paths)
            results: list[FileResult] = []
            last_finalize = time.monotonic()
            for path in files:
                self.collect(self.index_file(path), results, failures)
                if time.monotonic() - last_finalize > _FINALIZE_EVERY_S:
                    self.store.finalize()  # a no-op unless rows changed
                    last_finalize = time.monotonic()
            return self.end(results, failures, prune=prune)

    def begin(self, paths: Iterable[Path]) -> tuple[list[Path], list[Failure]]:
        """Start a run (holding the writer lock): the files to look at, and the paths that
        could not even be listed. Clears what a killed run left half-written."""
        self.store.ensure_id_scheme(self.id_scheme)
        files, failures = discover(paths)
        for f in failures:
            self.progress.file_failed(f)
        self.store.prune_orphans()
        self.progress.start(files)
        return files, failures

    def collect(self, outcome: FileResult | Failure, results: list[FileResult],
                failures: list[Failure]) -> None:
        """Report one file's outcome and add it to the run's lists."""
        if isinstance(outcome, Failure):
            failures.append(outcome)
            self.progress.file_failed(outcome)
        else:
            results.append(outcome)
            self.progress.file_done(outcome)

    def end(self, results: list[FileResult], failures: list[Failure], *,
            prune: bool = False) -> IndexReport:
        """Finish a run: prune gone files if asked, bring the search indexes up to date."""
        pruned = tuple(self.prune()) if prune else ()
        self.store.finalize()
        return IndexReport(results=tuple(results), failures=tuple(failures), pruned=pruned)

    def prune(self) -> list[str]:
        """Drop files that are no longer on disk from the store; return their paths.

        Call it inside :meth:`index`, or holding ``store.writing()``."""
        gone = [m.path for m in self.store.media() if not Path(m.path).exists()]
        for p in gone:
            self.store.remove_media(p)
        from indexing.proxies import prune_proxies

        prune_proxies(self.store.db_dir, (m.media_id for m in self.store.media()))
        return gone

    def screen(self, path: Path) -> FileResult | Failure | str:
        """What ``path`` needs: a result if it is unchanged (no model is loaded for it), a
        failure if it cannot be read, else its media id (content hash) for the model work."""
        key = str(path)
        try:
            st = path.stat()
        except OSError as exc:
            return Failure(path, f"cannot read: {exc.strerror}", "stat")
        known = self.store.media_by_path(key)
        if known and known.size == st.st_size and known.mtime_ns == st.st_mtime_ns:
            # Picture search switched on after the file was indexed: embed its stored shots;
            # an access copy missing (a killed run, proxies switched on): make it.
            warnings = tuple(self._backfill_shot_vectors(known.media_id, path)
                             + self._backfill_proxy(known.media_id, path))
            return FileResult(path, known.media_id, "unchanged", known.clips, known.shots,
                              known.duration, warnings=warnings)
        try:
            self.progress.stage("hash")
            t = time.monotonic()
            media_id = file_hash(path, full=self.settings.full_hash)
            self._spent("hash", time.monotonic() - t)
        except (MediaError, OSError) as exc:
            return self.fail(path, "probe", str(exc))
        if known and known.media_id == media_id:
            # Same bytes, new mtime (copied or touched): remember the new stat, no model work.
            self.store.put_media(_record_with_stat(known, st.st_size, st.st_mtime_ns))
            return FileResult(path, media_id, "unchanged", known.clips, known.shots,
                              known.duration)
        return media_id

    def index_file(self, path: Path) -> FileResult | Failure:
        """Index one file, or return why it could not be indexed. Never raises for bad media.

        ``path`` must be resolved as :func:`~indexing.discover.discover` does (it is the key the
        file is stored under). Call it inside :meth:`index`, or holding ``store.writing()``.
        """
        need = self.screen(path)
        if not isinstance(need, str):
            return need
        return self.commit(path, self.work.run(path, need, self.keyframe_dir,
                                               meta=self.meta_of(need, path)))

    def meta_of(self, media_id: str, path: Path) -> dict[str, Any]:
        """The file's merged catalogue record (manifest, LLM, hand edits), indexed as its
        ``meta`` clip; empty when it has none."""
        from indexing.stores.file_meta import FileMetaStore, merged

        return merged(FileMetaStore(self.store.db_dir).of(media_id, str(path)))

    def commit(self, path: Path, output: FileOutput | Failure) -> FileResult | Failure:
        """Write one file's model output to the store (or record its failure).

        Clips and shots first, the media record last: the record marks the file complete, so a
        run killed in between leaves orphans that the next run clears (see ``prune_orphans``).
        """
        if isinstance(output, Failure):
            return self.fail(path, output.stage, output.reason)
        self.progress.stage("store")
        for name, seconds in output.stage_seconds:
            self._spent(name, seconds)
        t = time.monotonic()
        if output.keyframes:  # shipped by a worker that does not share our disk
            self.keyframe_dir.mkdir(parents=True, exist_ok=True)
            for name, data in output.keyframes:
                (self.keyframe_dir / name).write_bytes(data)
            output = output.placed(self.keyframe_dir)
        media = output.media
        try:
            self.store.ensure_embedder(*output.embedder)
            # Clear rows of an older version of this file (or of a killed run) before writing.
            self.store.remove_media(str(media.path))
            self.store.add_clips(output.clips, output.vectors, output.windows)
            self.store.add_shots(media.media_id, str(media.path), output.shots)
            # An object-store index gets the keyframes before the file counts as complete.
            push_keyframes(self.store.db_dir, (s.keyframe for s in output.shots))
            if output.shot_vectors:
                from indexing.stores.shot_vectors import ShotVectors

                ShotVectors(self.store.db_dir).add(output.clip_model, list(output.shot_vectors))
        except StoreError:
            raise  # a store problem concerns every file: stop the run
        except Exception as exc:  # rows this file's output cannot make: only this file fails
            return self.fail(path, "store", f"{type(exc).__name__}: {exc}".splitlines()[0])
        record = MediaRecord(
            media_id=media.media_id, path=str(media.path), duration=media.duration,
            size=media.size, mtime_ns=media.mtime_ns, has_audio=media.has_audio,
            has_video=media.has_video, clips=len(output.clips), shots=len(output.shots),
            indexed_at=time.time(), language=output.language, asr_model=output.asr_model,
            warnings="\n".join(output.warnings),
        )
        self.store.put_media(record)  # last: marks the file complete
        self.store.clear_failure(str(path))
        self._spent("store", time.monotonic() - t)
        # After the record: a run killed while transcoding keeps the file's index, and the
        # next run makes the copy it finds missing (see screen).
        warnings = output.warnings + tuple(self._proxy(media))
        return FileResult(media.path, media.media_id, "indexed", len(output.clips),
                          len(output.shots), media.duration, output.seconds, warnings)

    def _proxy(self, media: Media) -> list[str]:
        """Make the browser-playable access copy ``media`` needs, if any (index.proxies)."""
        if not self.settings.proxies:
            return []
        from indexing.proxies import ensure_proxy

        self.progress.stage("proxy")
        t = time.monotonic()
        _, warning = ensure_proxy(media, self.store.db_dir)
        self._spent("proxy", time.monotonic() - t)
        return [warning] if warning else []

    def _backfill_proxy(self, media_id: str, path: Path) -> list[str]:
        """The access copy of an unchanged file that needs one and has none."""
        if not self.settings.proxies:
            return []
        from indexing.proxies import PROXY_DIR, proxy_of

        folder = self.store.db_dir / PROXY_DIR
        if proxy_of(self.store.db_dir, media_id) or (folder / f"{media_id}.none").exists():
            return []
        try:
            media = probe(path, media_id)
        except (MediaError, OSError) as exc:
            return [f"no browser-playable copy: {exc}"]
        return self._proxy(media)

    def _backfill_shot_vectors(self, media_id: str, path: Path) -> list[str]:
        """Embed the stored shots of an unchanged file that has no vectors of the current
        CLIP model (picture search was switched on, or its model changed, after indexing)."""
        if not self.settings.clip_model or not self.settings.shots:
            return []
        from indexing.stores.shot_vectors import ShotVectors

        table = ShotVectors(self.store.db_dir)
        try:
            model_id = self.work.backends.clip.model_id
        except Exception as exc:
            return [f"shot embeddings skipped: {exc}"]
        if table.has(model_id, media_id):
            return []
        warnings: list[str] = []
        rows = self.work.embed_shots(media_id, path, self.store.shots_of(media_id),
                                     self.keyframe_dir, warnings)
        table.add(model_id, rows)
        return warnings

    def _spent(self, stage: str, seconds: float) -> None:
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + seconds

    def fail(self, path: Path, stage: str, reason: str) -> Failure:
        """Record that ``path`` failed at ``stage`` (the next run tries it again)."""
        self.store.record_failure(str(path), reason, stage)
        return Failure(path, reason, stage)


def _record_with_stat(r: MediaRecord, size: int, mtime_ns: int) -> MediaRecord:
    return replace(r, size=size, mtime_ns=mtime_ns)


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
