"""``deerin workshop report`` over a real SQLite workshop database: the shares, the comparisons
and which side was preferred, the moments cited most with links that play them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from assistant.web.history import (
    AnswerRecord,
    record_answer,
    record_preference,
    record_verdict,
)
from tests.support.workshop_db import CITED, fill


async def _comparisons(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)

    async def execute(query: str, parameters: dict[str, object]) -> None:
        async with engine.begin() as conn:
            await conn.execute(text(query), parameters)

    for i, preferred in enumerate(("A", "A", "B", None)):
        await record_answer(execute, AnswerRecord(
            f"c{i}", "a", "Which is better?", "…", False, (), user="ben",
            llm="A: default | B: fast", kind="compare"))
        if preferred:
            await record_preference(execute, f"c{i}", preferred, "ben")
    # An evidence list, judged: reported apart from the answers.
    await record_answer(execute, AnswerRecord(
        "l1", "a", "Which recordings mention the bear?",
        "bear is named at 3 moments in 1 recording.", False, CITED[:1], user="ben",
        kind="list"))
    await record_verdict(execute, "l1", "partly", "misses the cub", None, "ben")
    await engine.dispose()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links += [v for k, v in attrs if k == "href" and v]


def test_the_report_of_a_collection(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    asyncio.run(fill(url))
    asyncio.run(_comparisons(url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEERIN_")}
    env |= {"DEERIN_DATABASE": url, "DEERIN_CONFIG": str(tmp_path / "deerin.toml")}
    out = subprocess.run([sys.executable, "-m", "deerin", "workshop", "report", "--collection",
                          "a", "--out", str(tmp_path / "r"), "--base-url",
                          "https://ws.example.org"], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    md = (tmp_path / "r" / "report.md").read_text()
    # 5 questions: 4 answered, 1 refused; 4 judged: right 2, partly 1, wrong 1.
    assert "| asked | 5 | |" in md and "| answered | 4 | 80 % |" in md
    assert "| refused | 1 | 20 % |" in md and "| judged right | 2 | 50 % of judged |" in md
    assert "| A: default \\| B: fast | 2 | 1 | 0 | 1 |" in md
    media_id = CITED[0].media_id
    link = f"https://ws.example.org/c/a/media/{media_id}/speech.ogg#t=10,14.5"
    assert f"[speech.ogg 0:10.0–0:14.5]({link}) | 4 |" in md
    parser = _Links()
    parser.feed((tmp_path / "r" / "report.html").read_text())
    assert parser.links == [link]
    assert "Other collection" not in md  # collection b's answers are not a's
    # The list is not one of the 5 questions: it has its own table, with its verdict.
    assert "## Evidence lists" in md and ("| Which recordings mention the bear? | bear is named "
                                          "at 3 moments in 1 recording. | partly | misses the "
                                          "cub |") in md
    assert "misses the cub" in (tmp_path / "r" / "report.html").read_text()
