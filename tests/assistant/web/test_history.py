"""Verdicts as question-sheet rows, and what a participant's reply to a verdict says, against a
real SQLite database through the tables ``deerin serve`` creates."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

from assistant.web.history import (
    SHEET_COLUMNS,
    Moment,
    read_judged,
    sheet_rows,
    shown_url,
)
from assistant.web.verdicts import parse_reply
from eval.sheet import read_sheet
from tests.support.workshop_db import fill


def test_verdicts_become_sheet_rows_that_convert(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    asyncio.run(fill(url))
    judged = asyncio.run(read_judged(url, "a"))
    assert [j.answer.id for j in judged] == ["1", "2", "3", "4", "5"]
    rows, skipped = sheet_rows(judged)
    assert [(r["id"], r["file"], r["start"], r["end"], r["expected words"], r["answerable"])
            for r in rows] == [
        ("1", "speech.ogg", "10.00", "14.50", "president; liberty", "yes"),
        ("2", "", "", "", "", "no"),
        ("3", "speech.ogg", "30.00", "35.00", "crowd; square", "yes")]
    assert skipped == ["4: judged wrong without the right moment"]
    sheet = tmp_path / "sheet.csv"
    with sheet.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SHEET_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    result = read_sheet(sheet)
    assert not result.errors and len(result.questions) == 3


def test_a_reply_names_a_comment_and_a_moment() -> None:
    assert parse_reply("skip", "a.ogg") == ("", None)
    assert parse_reply("close @1:02", "a.ogg") == ("close", Moment("a.ogg", 62.0, 67.0))
    assert parse_reply("see film.mp4@0:01:05-0:01:09.5 words: hat", None) == (
        "see  words: hat", Moment("film.mp4", 65.0, 69.5))
    assert parse_reply("at @12 but no file", None) == ("at  but no file", None)


def test_database_passwords_are_masked() -> None:
    assert shown_url("postgresql+asyncpg://deerin:s3cret@db/ws") == \
        "postgresql+asyncpg://deerin:***@db/ws"
