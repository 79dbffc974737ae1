"""Cuts as an OpenTimelineIO timeline, written by OTIO's own adapters.

Every clip cites its source's own frames: at the source's exact rate (30000/1001, not 30) and
numbered from its start timecode, so an EDL's source columns read 10:00:01;00 where the master
says 10:00:01;00. The timeline runs at its first picture source's rate. Formats:

- ``.otio``: OTIO JSON, exact rational rates, every citation as clip metadata.
- ``.edl``: CMX 3600 (``otio-cmx3600-adapter``), with its ``FCM`` line; 29.97 and 59.94
  timelines are drop-frame unless the source's timecode is non-drop.
- ``.xml``: Final Cut Pro 7 XML (``otio-fcp-adapter``), which Premiere and Resolve import.

Final Cut Pro X's ``.fcpxml`` is refused: the one OTIO adapter for it (otio-fcpx-xml-adapter
1.0) truncates frame rates and times to whole numbers (29.97 becomes 29, a frame at 36001.2 s
becomes the one before), so its files would cut on the wrong frames.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from indexing.fmt import shorten
from indexing.timecode import SourceTiming, Timing
from interaction.cuts import Cut

ADAPTERS = {".otio": "otio_json", ".edl": "cmx_3600", ".xml": "fcp_xml"}
FCPX_REFUSAL = ("cannot write {name}: the only Final Cut Pro X adapter for OpenTimelineIO "
                "(otio-fcpx-xml-adapter 1.0) rounds 29.97 fps to 29 and times to whole frames "
                "below, so its cuts would land on the wrong frames; export .xml (FCP 7 XML: "
                "Premiere, Resolve) or .otio instead")
FRAME_FORMATS = frozenset({"cmx_3600", "fcp_xml"})  # formats that count every source in frames
_DROP_TIMECODE = re.compile(r"\b\d{2}:\d{2}:\d{2};\d{2}\b")


def frame_range(cut: Cut, timing: SourceTiming) -> tuple[int, int]:
    """The cut as ``(first frame, frame count)`` of its file, frames counted from 0 at the
    source's rate (at least one frame)."""
    first = timing.frame_at(cut.start)
    return first, max(1, timing.frame_at(cut.end) - first)


def to_timeline(cuts: Sequence[Cut], name: str, timing: Timing) -> Any:
    """An ``opentimelineio.schema.Timeline`` of ``cuts`` one after another: a picture track V1
    (every cut, so an EDL lists every event) and a sound track A1."""
    import opentimelineio as otio

    rt = otio.opentime.RationalTime
    tr = otio.opentime.TimeRange
    timeline = otio.schema.Timeline(name=name)
    timeline.metadata["deerin"] = {"rate": str(timing.rate), "drop_frame": timing.drop_frame}
    for kind, track_name in ((otio.schema.TrackKind.Video, "V1"),
                             (otio.schema.TrackKind.Audio, "A1")):
        track = otio.schema.Track(name=track_name, kind=kind)
        for cut in cuts:
            source = timing.of(cut.media_path)
            rate = float(source.rate)
            first, frames = frame_range(cut, source)
            length = max(first + frames, source.frame_at(cut.media_duration))
            ref = otio.schema.ExternalReference(
                target_url=Path(cut.media_path).as_uri(),
                available_range=tr(rt(source.start, rate), rt(length, rate)))
            clip = otio.schema.Clip(
                name=cut.name, media_reference=ref,
                source_range=tr(rt(source.start + first, rate), rt(frames, rate)))
            clip.metadata["deerin"] = citation(cut)
            if source.reel:
                clip.metadata["cmx_3600"] = {"reel": _reel(source.reel)}
            if cut.text:
                clip.markers.append(otio.schema.Marker(
                    name=shorten(cut.text, 60),
                    marked_range=tr(rt(source.start + first, rate), rt(0, rate))))
            track.append(clip)
        timeline.tracks.append(track)
    return timeline


def write_timeline(cuts: Sequence[Cut], path: Path, name: str, timing: Timing) -> Path:
    """Write ``cuts`` as the timeline format ``path``'s suffix names (:data:`ADAPTERS`)."""
    import opentimelineio as otio

    adapter = ADAPTERS[path.suffix.lower()]
    timeline = to_timeline(cuts, name, timing)
    if adapter != "cmx_3600":
        otio.adapters.write_to_file(timeline, str(path), adapter_name=adapter)
        return path
    text = otio.adapters.write_to_string(timeline, adapter_name=adapter,
                                         rate=float(timing.rate))
    path.write_text(edl_with_frame_mode(text, timing), encoding="utf-8")
    return path


def edl_with_frame_mode(text: str, timing: Timing) -> str:
    """The adapter's EDL with the ``FCM`` line it leaves out, and, for a 29.97 timeline on
    non-drop timecode, its timecodes rewritten non-drop (the adapter writes every 29.97 EDL
    drop-frame)."""
    import opentimelineio as otio

    lines = text.splitlines()
    mode = "DROP FRAME" if timing.drop_frame else "NON-DROP FRAME"
    at = 1 if lines and lines[0].startswith("TITLE:") else 0
    lines.insert(at, f"FCM: {mode}")
    if not timing.drop_frame and ";" in text:
        rate = float(timing.rate)

        def non_drop(match: re.Match[str]) -> str:
            frames = otio.opentime.from_timecode(match.group(0), rate)
            return str(otio.opentime.to_timecode(frames, rate, False))

        # Events and their marker (``* LOC:``) lines; the title is the user's own text.
        lines = [ln if ln.startswith("TITLE:") else _DROP_TIMECODE.sub(non_drop, ln)
                 for ln in lines]
    return "\n".join(lines) + "\n"


def citation(cut: Cut) -> dict[str, Any]:
    """Where a cut comes from, as plain JSON: file, id, seconds, words, and the moments in it."""
    return {"media": cut.media_path, "media_id": cut.media_id, "start": round(cut.start, 3),
            "end": round(cut.end, 3), "text": cut.text, "label": cut.label,
            "moments": [{"start": round(o.start, 3), "end": round(o.end, 3), "text": o.text,
                         "kind": o.kind.value, "context": o.context,
                         **({"score": o.score} if o.score != 1.0 else {})}
                        for o in cut.occurrences]}


def _reel(name: str) -> str:
    # CMX 3600 reel names are at most 8 characters with no spaces.
    return re.sub(r"\s+", "_", name.strip())[:8] or "AX"
