"""Frame rates and timecodes: exact rational rates from what ffprobe states, start frames of
drop-frame and non-drop timecodes, as OpenTimelineIO counts them."""

from __future__ import annotations

from fractions import Fraction

import pytest

from indexing.timecode import TimecodeError, start_frame, timecode_rate


def test_rates_and_timecodes_are_read_exactly() -> None:
    assert timecode_rate("30000/1001") == Fraction(30000, 1001)
    assert timecode_rate("2997/100") == Fraction(30000, 1001)  # ffprobe's rounded form
    assert timecode_rate(23.976) == Fraction(24000, 1001)
    assert timecode_rate("25/1") == 25 and timecode_rate(30.0) == 30
    assert timecode_rate("17.3") is None and timecode_rate("0/0") is None
    import opentimelineio as otio

    for tc, rate in (("10:00:00;00", Fraction(30000, 1001)), ("10:00:00:00", Fraction(30000,
                     1001)), ("01:00:00:00", Fraction(24000, 1001)), ("23:59:59;29",
                     Fraction(30000, 1001)), ("00:10:00;00", Fraction(60000, 1001))):
        first, drop = start_frame(tc, rate)
        assert drop == (";" in tc)
        assert first == otio.opentime.from_timecode(tc, float(rate)).value
    with pytest.raises(TimecodeError, match="does not exist"):
        start_frame("00:01:00;00", Fraction(30000, 1001))  # frames 0 and 1 are dropped
    with pytest.raises(TimecodeError, match="not a timecode"):
        start_frame("10h00", Fraction(25))
