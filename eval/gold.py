"""The gold question format of the eval suite, and a strict loader for it.

A gold set is a JSONL file, one question per line::

    {"id": "columbia-houston", "question": "Which control centre lost touch with the shuttle?",
     "media": "gwb_columbia_address_2003.ogg", "start": 9.0, "end": 17.0,
     "expect": ["Houston"], "answerable": true}

``media`` is the file *name* (no directory), ``start``/``end`` the gold time span in seconds
where the answer is said or shown, ``expect`` short words or phrases of which at least one should
appear in a correct answer. Questions the collection cannot answer have ``"answerable": false``
and ``null`` media, start and end. Blank lines and lines starting with ``//`` are ignored, so a
set can carry comments. Keys beyond the seven above are tolerated (a set may carry notes or
tags), but every one of the seven must be present: a misspelt key then shows up as a missing one.
An answer said in several places lists them all in an optional ``spans`` key
(``[{"media": ..., "start": ..., "end": ...}, ...]``, the first repeating media/start/end): a
clip at any of them is a hit, and :func:`eval.metrics.set_recall` reads them all. Optional keys:
``expect_all`` (true: a list question, every ``expect`` item must be in the answer), ``kind``
(what the question tests: fact, paraphrase, yes_no, position, list, german, mixed, near_miss,
off_collection; reports break figures down by it) and ``lang`` (the question's language code).

Loading is strict because a silently wrong gold line (swapped times, a path instead of a name)
turns into a wrong metric that nobody notices.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REQUIRED_KEYS: tuple[str, ...] = (
    "id", "question", "media", "start", "end", "expect", "answerable",
)


@dataclass(frozen=True, slots=True)
class GoldQuestion:
    """One gold question: where in which file the answer is, and what a correct answer contains.

    For an unanswerable question ``media``, ``start`` and ``end`` are all ``None``; for an
    answerable one they are all set, with ``0 <= start <= end``.
    """

    id: str
    question: str
    media: str | None
    start: float | None
    end: float | None
    expect: tuple[str, ...]
    answerable: bool
    # Every gold span, for questions whose answer is said in several places (optional key
    # ``spans``: [{"media", "start", "end"}, ...]); empty = the one span above.
    spans: tuple[tuple[str, float, float], ...] = ()
    expect_all: bool = False  # a list question: every expect item must be in the answer
    kind: str = ""  # what the question tests (see the module docstring); "" = not said
    lang: str = ""  # the question's language code, "" = not said (English)

    @property
    def gold_spans(self) -> tuple[tuple[str, float, float], ...]:
        """Every gold span: ``spans``, or the single (media, start, end)."""
        if self.spans:
            return self.spans
        if self.media is None or self.start is None or self.end is None:
            return ()
        return ((self.media, self.start, self.end),)

    @property
    def duration(self) -> float | None:
        """Length of the gold span in seconds, ``None`` for an unanswerable question."""
        if self.start is None or self.end is None:
            return None
        return self.end - self.start


def load_gold(path: str | Path) -> list[GoldQuestion]:
    """Read and validate a gold JSONL file.

    Every non-blank, non-``//`` line must be a JSON object with the keys of :data:`REQUIRED_KEYS`.
    Raises ``ValueError("FILE:LINE: problem")`` on the first invalid line: bad JSON, a missing key,
    a wrong type, an empty question or expect item, an answerable question without media or span,
    an unanswerable one with them, ``start > end``, negative or non-finite times, a path where a
    file name belongs, or an id already used on an earlier line. An empty set (no questions) is also
    an error, since every metric over it would be undefined.
    """
    p = Path(path)
    questions: list[GoldQuestion] = []
    first_line_of: dict[str, int] = {}
    with p.open(encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line or line.startswith("//"):
                continue
            where = f"{p}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: invalid JSON ({exc.msg})") from None
            q = _parse(obj, where)
            if q.id in first_line_of:
                raise ValueError(
                    f"{where}: duplicate id {q.id!r} (first used on line {first_line_of[q.id]})")
            first_line_of[q.id] = lineno
            questions.append(q)
    if not questions:
        raise ValueError(f"{p}: no questions in gold file")
    return questions


def parse_question(obj: Any, where: str) -> GoldQuestion:
    """Validate one decoded JSON object and build its :class:`GoldQuestion`; raise
    ``ValueError("WHERE: problem")`` as :func:`load_gold` does (the question sheet reuses it)."""
    return _parse(obj, where)


def _parse(obj: Any, where: str) -> GoldQuestion:
    """Validate one decoded JSON line and build its :class:`GoldQuestion`."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in obj]
    if missing:
        raise ValueError(f"{where}: missing field(s): {', '.join(missing)}")

    qid = obj["id"]
    if not isinstance(qid, str) or not qid.strip():
        raise ValueError(f"{where}: 'id' must be a non-empty string")
    where = f"{where} (id {qid!r})"

    question = obj["question"]
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"{where}: 'question' must be a non-empty string")

    answerable = obj["answerable"]
    if not isinstance(answerable, bool):
        raise ValueError(f"{where}: 'answerable' must be true or false")

    expect = obj["expect"]
    if not isinstance(expect, list):
        raise ValueError(f"{where}: 'expect' must be a list of strings")
    for item in expect:
        # An item with no letters or digits normalises to nothing and would match any answer.
        if not isinstance(item, str) or not any(ch.isalnum() for ch in item):
            raise ValueError(f"{where}: 'expect' items must be strings with letters or digits, "
                             f"got {item!r}")

    extra = _optional(obj, where)
    media, start, end = obj["media"], obj["start"], obj["end"]
    if not answerable:
        if media is not None or start is not None or end is not None:
            raise ValueError(f"{where}: an unanswerable question must have null media, start "
                             "and end")
        return GoldQuestion(id=qid, question=question, media=None, start=None, end=None,
                            expect=tuple(expect), answerable=False, **extra)

    if not isinstance(media, str) or not media.strip():
        raise ValueError(f"{where}: an answerable question needs 'media' (a file name)")
    if "/" in media or "\\" in media:
        raise ValueError(f"{where}: 'media' must be a file name, not a path: {media!r}")
    if media != media.strip():
        raise ValueError(f"{where}: 'media' has leading or trailing whitespace: {media!r}")
    start_s = _seconds(start, "start", where)
    end_s = _seconds(end, "end", where)
    if start_s > end_s:
        raise ValueError(f"{where}: start {start_s} is after end {end_s}")
    if not expect:
        # Without expected words the answer-hit metric cannot judge the question.
        raise ValueError(f"{where}: an answerable question needs at least one 'expect' item")
    return GoldQuestion(id=qid, question=question, media=media, start=start_s, end=end_s,
                        expect=tuple(expect), answerable=True, spans=_spans(obj, where), **extra)


def _optional(obj: dict[str, Any], where: str) -> dict[str, Any]:
    """The optional ``expect_all``, ``kind`` and ``lang`` keys, validated."""
    out: dict[str, Any] = {}
    if "expect_all" in obj:
        if not isinstance(obj["expect_all"], bool):
            raise ValueError(f"{where}: 'expect_all' must be true or false")
        out["expect_all"] = obj["expect_all"]
    for key in ("kind", "lang"):
        if key in obj:
            if not isinstance(obj[key], str) or not obj[key].strip():
                raise ValueError(f"{where}: '{key}' must be a non-empty string")
            out[key] = obj[key].strip()
    return out


def _spans(obj: dict[str, Any], where: str) -> tuple[tuple[str, float, float], ...]:
    """The optional ``spans`` list of an answerable question, validated like media/start/end."""
    raw = obj.get("spans")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{where}: 'spans' must be a non-empty list of "
                         '{"media", "start", "end"} objects')
    out = []
    for i, span in enumerate(raw, start=1):
        at = f"{where} span {i}"
        if not isinstance(span, dict) or not isinstance(span.get("media"), str) \
                or not span["media"].strip() or "/" in span["media"] or "\\" in span["media"]:
            raise ValueError(f"{at}: needs 'media' (a file name), 'start' and 'end'")
        start, end = _seconds(span.get("start"), "start", at), _seconds(span.get("end"), "end", at)
        if start > end:
            raise ValueError(f"{at}: start {start} is after end {end}")
        out.append((span["media"], start, end))
    return tuple(out)


def _seconds(value: Any, name: str, where: str) -> float:
    """A validated time in seconds: a finite, non-negative JSON number (booleans rejected)."""
    if value is None:
        raise ValueError(f"{where}: an answerable question needs '{name}' (seconds)")
    # bool is an int subclass; `true` as a time is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: '{name}' must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{where}: '{name}' must be a finite, non-negative number, got {value!r}")
    return seconds


def read_questions(path: Path) -> list[str]:
    """Questions from a text file (one a line) or a JSONL file whose lines carry ``question``
    or ``query`` (the eval sets); ``//`` comment lines and blank lines are skipped."""
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        if line.startswith("{"):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: invalid JSON: {exc.msg}") from exc
            text = row.get("question") or row.get("query")
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{path}:{n}: no \"question\" or \"query\" text")
            questions.append(text.strip())
        else:
            questions.append(line)
    if not questions:
        raise ValueError(f"{path}: no questions")
    return questions
