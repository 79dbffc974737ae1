"""The chat's side of workshop feedback: keep each checked answer, offer right / partly / wrong
under it, and read the participant's comment, right moment and expected words.

Used by the Chainlit module under ``deerin serve`` only (where a data layer is configured); the
storage itself is :mod:`assistant.web.history`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.web.history import VERDICTS, AnswerRecord, Moment, record_answer

if TYPE_CHECKING:
    from assistant.answer import Answer
    from assistant.web.evidence_view import EvidencePage

ACTION = "verdict"
LABELS = {"right": "✓ Right", "partly": "≈ Partly", "wrong": "✗ Wrong"}
# FILE@m:ss, @m:ss, @h:mm:ss, @83.5, with an optional -END: the moment the participant means.
_MOMENT = re.compile(r"(?:(?P<file>[^\s@]+))?@(?P<start>\d+(?::\d{1,2}){0,2}(?:\.\d+)?)"
                     r"(?:-(?P<end>\d+(?::\d{1,2}){0,2}(?:\.\d+)?))?")
MOMENT_SECONDS = 5.0  # a moment given as one time covers this much after it
ASK_TEXT = ("Noted: **{verdict}**. Anything to add? A comment; the right moment as `FILE@m:ss` "
            "(or `@m:ss` in the first cited file, `@m:ss-m:ss` for a span); the words a right "
            "answer holds as `words: a; b`. Or reply `skip`.")


def record_of(answer: Answer, answer_id: str, collection: str, *, thread_id: str | None,
              user: str | None, llm: str | None, kind: str = "chat") -> AnswerRecord:
    """What is kept of a checked answer."""
    cited = tuple(Moment(Path(c.clip.media_path).name, round(c.start, 2), round(c.end, 2),
                         c.clip.media_id) for c in answer.citations)
    return AnswerRecord(answer_id, collection, answer.question, answer.text, answer.refused,
                        cited, thread_id, user, llm, kind)


def record_of_list(page: EvidencePage, answer_id: str, collection: str, *,
                   thread_id: str | None, user: str | None) -> AnswerRecord:
    """What is kept of an evidence list (kind ``list``): its summary sentence, and the moments
    of the first page, the one the verdict buttons sit under (the whole list is the graph's,
    asked again)."""
    shown = tuple(Moment(Path(s.moment.media_path).name, round(s.start, 2), round(s.end, 2),
                         s.clip.media_id if s.clip is not None else "")
                  for s in page.moments)
    return AnswerRecord(answer_id, collection, page.question, page.found.summary(), False,
                        shown, thread_id, user, None, "list")


async def keep(execute: Any, record: AnswerRecord) -> None:
    """Store ``record`` (``execute``: the data layer's ``execute_sql``)."""
    await record_answer(execute, record)


def seconds(text: str) -> float:
    """``83.5``, ``1:23`` or ``1:02:03`` as seconds."""
    value = 0.0
    for part in text.split(":"):
        value = value * 60 + float(part)
    return value


def parse_reply(text: str, default_file: str | None) -> tuple[str, Moment | None]:
    """The comment and the moment in a participant's reply (``skip``: neither)."""
    text = text.strip()
    if text.lower() in ("", "skip", "no", "-"):
        return "", None
    found = _MOMENT.search(text)
    moment: Moment | None = None
    if found is not None:
        file = found.group("file") or default_file
        if file:
            start = seconds(found.group("start"))
            end = seconds(found.group("end")) if found.group("end") else start + MOMENT_SECONDS
            moment = Moment(file, start, max(end, start))
        text = (text[:found.start()] + text[found.end():]).strip()
    return text, moment


def check_verdict(value: object) -> str:
    """``value`` when it is a verdict; raise :class:`ValueError` otherwise."""
    if value not in VERDICTS:
        raise ValueError(f"not a verdict: {value!r}")
    return str(value)
