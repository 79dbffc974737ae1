"""Human-readable formatting shared by every layer: times, one-line reasons, shortened text."""

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


def exception_text(exc: BaseException, limit: int = 200, *, all_lines: bool = False) -> str:
    """An exception's message on one line of at most ``limit`` characters: its first line, or
    with ``all_lines`` every line with white space folded (for messages that spread the reason
    over several lines). An empty message gives the exception's type name.
    """
    if all_lines:
        return " ".join(str(exc).split())[:limit] or type(exc).__name__
    return (str(exc).splitlines() or [type(exc).__name__])[0][:limit]


def shorten(text: str, limit: int, *, ellipsis_within: bool = True) -> str:
    """``text`` on one line (white space folded), cut at a word boundary with an ellipsis when
    it is longer than ``limit`` characters.

    With ``ellipsis_within`` the result, ellipsis included, fits in ``limit``; without it up
    to ``limit`` characters of words are kept and the ellipsis follows them.
    """
    words = " ".join(text.split())
    if len(words) <= limit:
        return words
    kept = limit - 1 if ellipsis_within else limit
    return words[:kept].rsplit(" ", 1)[0] + "…"


def srt_time(seconds: float) -> str:
    """``seconds`` as an SRT timestamp: ``HH:MM:SS,mmm``."""
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"
