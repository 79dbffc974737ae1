"""Subtitle tracks inside the media file: each text track extracted with ffmpeg as SubRip and
read cue by cue (a malformed cue is skipped and reported, never the track).

Text tracks are those ffmpeg can turn into text: MP4/MOV ``mov_text``, Matroska ``subrip``,
``ass``/``ssa`` and ``webvtt``, plain ``text``, and CEA-608 closed captions carried as their own
track (``eia_608``). Bitmap tracks (DVB, DVD and Blu-ray PGS subtitles) are pictures of text:
each is reported in one line and not read.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from indexing.fmt import one_line
from indexing.stages.subtitles import SubtitleTrack, parse_subtitle_text
from indexing.types import Media, Stream

TEXT_CODECS = frozenset({"mov_text", "subrip", "srt", "ass", "ssa", "webvtt", "text",
                         "eia_608"})
BITMAP_CODECS = frozenset({"dvb_subtitle", "dvd_subtitle", "hdmv_pgs_subtitle", "xsub",
                           "dvb_teletext"})
_TIMEOUT = 600  # seconds per track: extraction reads the whole file once, without decoding it
# ISO 639-2 codes (as containers tag tracks) of the languages subtitle tracks most often have,
# to the ISO 639-1 codes sidecar names and the rest of the index use.
_ISO639_1 = {"eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es",
             "ita": "it", "nld": "nl", "dut": "nl", "por": "pt", "rus": "ru", "jpn": "ja",
             "zho": "zh", "chi": "zh", "kor": "ko", "ara": "ar", "pol": "pl", "swe": "sv",
             "dan": "da", "nor": "no", "fin": "fi", "ces": "cs", "cze": "cs", "hun": "hu",
             "ell": "el", "gre": "el", "tur": "tr", "heb": "he", "hin": "hi", "cat": "ca",
             "eus": "eu", "baq": "eu", "glg": "gl", "ukr": "uk", "ron": "ro", "rum": "ro"}


@dataclass(frozen=True, slots=True)
class EmbeddedTrack:
    """One subtitle track read from inside a file: its stream, language and cues."""

    stream: Stream
    language: str | None
    track: SubtitleTrack


def embedded_tracks(media: Media) -> tuple[list[EmbeddedTrack], list[str]]:
    """Read every text subtitle track of ``media``; the warnings say which tracks were not
    read (bitmaps, unknown codecs, extraction failures) and which cues were skipped."""
    tracks: list[EmbeddedTrack] = []
    warnings: list[str] = []
    for stream in media.streams:
        if stream.kind != "subtitle":
            continue
        label = f"subtitle track {stream.index} ({stream.codec})"
        if stream.codec in BITMAP_CODECS:
            warnings.append(f"{label} holds pictures of text, not text: not read")
            continue
        if stream.codec not in TEXT_CODECS:
            warnings.append(f"{label}: not a subtitle format DEERIn reads")
            continue
        try:
            text = extract_track(media, stream)
            track = parse_subtitle_text(text, f"{media.name} {label}")
        except ValueError as exc:
            warnings.append(f"{label} skipped: {exc}")
            continue
        if track.skipped:
            warnings.append(f"{label}: {len(track.skipped)} cue(s) skipped: "
                            + "; ".join(track.skipped[:3]))
        if track.cues:
            tracks.append(EmbeddedTrack(stream, language_code(stream.language), track))
    return tracks, warnings


def extract_track(media: Media, stream: Stream) -> str:
    """The text of subtitle ``stream`` of ``media`` as SubRip (ffmpeg converts every text
    codec to it); :class:`ValueError` with ffmpeg's reason when it cannot."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(media.path), "-map",
           f"0:{stream.index}", "-c:s", "srt", "-f", "srt", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise ValueError(f"ffmpeg took over {_TIMEOUT} s to extract it") from None
    if proc.returncode != 0:
        raise ValueError(f"ffmpeg could not extract it: "
                         f"{one_line(proc.stderr.decode(errors='replace'))}")
    return proc.stdout.decode("utf-8", errors="replace")


def language_code(tag: str | None) -> str | None:
    """The ISO 639-1 code of a track's language tag (``eng`` -> ``en``); ``None`` for none or
    ``und``; other codes as they are."""
    if not tag:
        return None
    code = tag.strip().lower().replace("_", "-").split("-")[0]
    if code in ("", "und", "unk", "mis", "zxx"):
        return None
    return _ISO639_1.get(code, code)
