"""Human-readable formatting shared by every layer: times and one-line reasons."""

from __future__ import annotations


def fmt_time(seconds: float) -> str:
    """``mm:ss``, or ``h:mm:ss`` from an hour on, rounded to the second."""
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


def one_line(reason: object, limit: int = 200) -> str:
    """The last non-empty line of an error text or exception, at most ``limit`` characters.

    Tools (ffmpeg, decoders) print the real reason last, after context lines.
    """
    text = str(reason)
    for line in reversed(text.strip().splitlines()):
        if line.strip():
            return line.strip()[:limit]
    return type(reason).__name__ if isinstance(reason, BaseException) else "unknown error"
