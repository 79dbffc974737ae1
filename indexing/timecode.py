"""Frame rates and timecodes of sources, as an edit suite counts them.

Broadcast video runs at exact rational rates (30000/1001 is "29.97"), and a master's frames are
numbered from its start timecode (10:00:00:00 on many tapes and files), not from zero. An
exported timeline must cite the master's own frames, so every source is read here as its exact
rate, its start frame and whether its timecode drops frame numbers (29.97 and 59.94 material
usually does, written with ``;`` before the frames). Rates no timecode counts (a variable-rate
phone clip averaging 17.3 fps) are reported, never rounded into a timecode that would drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from indexing.types import Media

# Every rate SMPTE timecode is counted at (SMPTE ST 12-1), with the name editors give it.
TIMECODE_RATES: dict[Fraction, str] = {
    Fraction(24000, 1001): "23.976", Fraction(24): "24", Fraction(25): "25",
    Fraction(30000, 1001): "29.97", Fraction(30): "30", Fraction(48): "48", Fraction(50): "50",
    Fraction(60000, 1001): "59.94", Fraction(60): "60",
}
DROP_FRAME_RATES = frozenset({Fraction(30000, 1001), Fraction(60000, 1001)})
DEFAULT_RATE = Fraction(25)  # a timeline of audio files alone: the European broadcast rate
# A stated rate this close to a timecode rate is that rate: 29.97 is 0.1 % from 30, so the
# tolerance must be well below that; ffprobe's own rounding (2997/100) is far inside it.
_TOLERANCE = 0.0002
_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$")


class TimecodeError(ValueError):
    """A source whose frames no timecode can count; the message names the file."""


@dataclass(frozen=True, slots=True)
class SourceTiming:
    """How one source counts its frames: ``rate`` per second, numbered from ``start`` (the
    frame its start timecode names), with drop-frame timecode or not; ``reel`` is the tape
    or reel name it carries ("" when none)."""

    rate: Fraction
    start: int = 0
    drop_frame: bool = False
    reel: str = ""

    def frame_at(self, seconds: float) -> int:
        """The file's frame (from 0) showing at ``seconds``."""
        return round(Fraction(seconds).limit_denominator(1_000_000) * self.rate)


@dataclass(frozen=True, slots=True)
class Timing:
    """The rate a timeline runs at and the timing of each source (by path). A path with no
    entry (an audio file) is counted at the timeline's rate from frame 0."""

    rate: Fraction = DEFAULT_RATE
    drop_frame: bool = False
    sources: Mapping[str, SourceTiming] = field(default_factory=dict)

    def of(self, path: str) -> SourceTiming:
        """The timing of the source at ``path``."""
        return self.sources.get(path) or SourceTiming(self.rate, 0, self.drop_frame)

    @property
    def name(self) -> str:
        """The rate as editors say it (``29.97 DF``)."""
        return rate_name(self.rate) + (" DF" if self.drop_frame else "")


def rate_name(rate: Fraction) -> str:
    """``29.97`` for 30000/1001; other rates as their decimal value."""
    return TIMECODE_RATES.get(rate) or f"{float(rate):.3f}".rstrip("0").rstrip(".")


def timecode_rate(stated: str | float) -> Fraction | None:
    """The timecode rate ``stated`` is ("30000/1001", "2997/100", 29.97, "25/1"), or ``None``
    when it is none of them."""
    try:
        value = Fraction(stated) if isinstance(stated, str) else Fraction(float(stated))
    except (ValueError, ZeroDivisionError):
        return None
    if value <= 0:
        return None
    for rate in TIMECODE_RATES:
        if abs(value - rate) / rate < _TOLERANCE:
            return rate
    return None


def start_frame(timecode: str, rate: Fraction) -> tuple[int, bool]:
    """The frame number ``timecode`` names at ``rate`` and whether it is drop-frame
    (``;``, ``.`` or ``,`` before the frames). Raises :class:`TimecodeError` for text that is
    no timecode of that rate."""
    match = _TIMECODE.match(timecode.strip())
    if match is None:
        raise TimecodeError(f"{timecode!r} is not a timecode (HH:MM:SS:FF)")
    hh, mm, ss, sep, ff = match.groups()
    hours, minutes, seconds, frames = int(hh), int(mm), int(ss), int(ff)
    base = round(rate)  # the frames a timecode second counts: 30 for 29.97
    if minutes > 59 or seconds > 59 or frames >= base:
        raise TimecodeError(f"{timecode!r} is not a timecode at {rate_name(rate)} fps")
    drop = sep != ":" and rate in DROP_FRAME_RATES
    total = ((hours * 60 + minutes) * 60 + seconds) * base + frames
    if drop:
        # Drop-frame numbering skips the first 2 (4 at 59.94) frame numbers of every minute
        # except each tenth one, so labels keep pace with the clock.
        dropped = base // 15
        all_minutes = hours * 60 + minutes
        if frames < dropped and seconds == 0 and minutes % 10:
            raise TimecodeError(f"{timecode!r} does not exist in drop-frame timecode")
        total -= dropped * (all_minutes - all_minutes // 10)
    return total, drop


def source_timing(media: Media) -> SourceTiming | None:
    """The timing of a probed source; ``None`` for a file with no picture. Raises
    :class:`TimecodeError` (naming the file) when its frame rate is no timecode rate or its
    recorded start timecode cannot be read."""
    if not media.has_video:
        return None
    rate = timecode_rate(media.frame_rate) if media.frame_rate else None
    if rate is None and media.fps > 0:
        rate = timecode_rate(media.fps)
    if rate is None:
        stated = media.frame_rate or f"{media.fps:g}"
        raise TimecodeError(f"{media.name}: frame rate {stated} is no timecode rate (one of "
                            f"{', '.join(TIMECODE_RATES.values())} fps)")
    if not media.timecode:
        return SourceTiming(rate, 0, rate in DROP_FRAME_RATES, media.reel)
    try:
        first, drop = start_frame(media.timecode, rate)
    except TimecodeError as exc:
        raise TimecodeError(f"{media.name}: start timecode {exc}") from None
    return SourceTiming(rate, first, drop, media.reel)


def timeline_timing(sources: Iterable[Media]) -> tuple[Timing, list[str]]:
    """The timing of a timeline cutting ``sources``: the first picture source's rate and
    drop-frame mode (25 fps when there is none), and each source's own timing. Sources whose
    timing cannot be read are left out and returned as one-line problems."""
    timings: dict[str, SourceTiming] = {}
    problems: list[str] = []
    for media in sources:
        try:
            found = source_timing(media)
        except TimecodeError as exc:
            problems.append(str(exc))
            continue
        if found is not None:
            timings[str(media.path)] = found
    first = next(iter(timings.values()), None)
    if first is None:
        return Timing(sources=timings), problems
    return Timing(first.rate, first.drop_frame, timings), problems
