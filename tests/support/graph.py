"""A small real index for the graph tests, made without speech recognition.

Its clips are the reference transcripts and sidecar subtitles of real recordings in
../shared/media (the Columbia address with its timestamps, JFK's inaugural line, two Popeye
films' subtitles), embedded with the shipped MiniLM and written to a real LanceDB store, so the
graph tests cost seconds instead of a transcription pass.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from indexing.media import file_hash
from indexing.settings import Settings
from indexing.stages.embed import embedder_from_settings
from indexing.stages.subtitles import read_cues
from indexing.stores.base import MediaRecord
from indexing.stores.lance import LanceStore
from indexing.types import Clip, ClipKind, TextTime

_LINE = re.compile(r"\[(\d+):(\d+):([\d.]+) --> (\d+):(\d+):([\d.]+)\]\s*(.*)")


def _seconds(h: str, m: str, s: str) -> float:
    return int(h) * 3600 + int(m) * 60 + float(s)


def transcript_clips(media_dir: Path, name: str) -> list[Clip]:
    """Clips of ``name`` from its reference transcript (timestamped lines two by two, or one
    clip for an untimed transcript) or its sidecar subtitles (three cues a clip)."""
    path = media_dir / name
    media_id = file_hash(path)
    srt = path.with_suffix(".srt")
    groups: list[tuple[list[tuple[float, float, str]], ClipKind]] = []
    if srt.exists():
        cues = [(c.start, c.end, c.text) for c in read_cues(srt)]
        groups = [(cues[i:i + 3], ClipKind.SUBTITLE) for i in range(0, len(cues), 3)]
    else:
        text = (media_dir / "transcripts" / f"{path.stem}.txt").read_text(encoding="utf-8")
        lines = [(_seconds(*g[:3]), _seconds(*g[3:6]), g[6].strip())
                 for g in (m.groups() for m in map(_LINE.match, text.splitlines()) if m)]
        if not lines:
            lines = [(0.0, 11.0, text.strip())]
        groups = [(lines[i:i + 2], ClipKind.SPEECH) for i in range(0, len(lines), 2)]
    clips = []
    for seq, (group, kind) in enumerate(groups):
        parts, times, at = [], [], 0
        for s, e, t in group:  # each line or cue is timed, like recognised words
            parts.append(t)
            times.append(TextTime(at, at + len(t), s, e))
            at += len(t) + 1
        clips.append(Clip(media_id=media_id, media_path=str(path), kind=kind,
                          start=group[0][0], end=group[-1][1], text=" ".join(parts), seq=seq,
                          language="en" if kind == ClipKind.SPEECH else None,
                          times=tuple(times)))
    return clips


NAMES = ("gwb_columbia_address_2003.ogg", "jfk_inaugural_1961.flac",
         "popeye_sinbad_1936_part1.mkv", "popeye_sinbad_1936_part2.mkv")


def build_store(db: Path, media_dir: Path, names: tuple[str, ...] = NAMES) -> LanceStore:
    """A real LanceDB index of the transcript clips of ``names``."""
    store = LanceStore(db)
    embedder = embedder_from_settings(Settings.from_env({}, db_dir=db))
    store.ensure_embedder(embedder.model_id, embedder.dim)
    for name in names:
        add_file(store, embedder, media_dir, name)
    store.finalize()
    return store


def add_file(store: LanceStore, embedder: object, media_dir: Path, name: str) -> None:
    """Index ``name``'s transcript clips into ``store`` (clips, then the media record)."""
    clips = transcript_clips(media_dir, name)
    vectors = embedder.embed_texts([c.embedding_text() for c in clips])  # type: ignore[attr-defined]
    store.add_clips(clips, vectors)
    path = media_dir / name
    st = path.stat()
    store.put_media(MediaRecord(
        media_id=clips[0].media_id, path=str(path), duration=max(c.end for c in clips),
        size=st.st_size, mtime_ns=st.st_mtime_ns, has_audio=True, has_video=False,
        clips=len(clips), shots=0, indexed_at=time.time()))
