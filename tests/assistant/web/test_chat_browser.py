"""The chat in a real browser: Debian chromium, driven by Playwright, against `deerin chat`.

A real index of three files of ../shared/media is built once per session with `deerin index`
(the physics lecture, the Columbia address and a subtitled film clip). The browser asks about the
lecture and must get an answer whose citation is an <audio> player pointing at DEERIn's media
route with the cited span as ``#t=start,end`` (inside an indexed clip), and whose metadata loads
through the Range route.

The LLM is the server's default (``DEERIN_LLM`` if set, else the shipped default tier); without
one the assistant quotes the best clip, which is cited and played the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexing.stores.lance import LanceStore
from tests.support.chat import (
    CHAT_INDEXED,
    CHROMIUM,
    CHROMIUM_ARGS,
    chat_index,
    serving,
    start_chat,
)

pytestmark = pytest.mark.browser

QUESTION = "How many joules does the lecturer say are enough to kill you?"
FOLLOW_UP = "What do they use those devices for?"
# A player's source: DEERIn's media route for one file, then the span to play.
PLAYER_SRC = re.compile(r"/media/(?P<id>[0-9a-f]+)/[^#]+#t=(?P<start>[0-9.]+),(?P<end>[0-9.]+)$")


@pytest.fixture(scope="module")
def index_db(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Path:
    return chat_index(tmp_path_factory.getbasetemp(), media_dir)


@pytest.fixture(scope="module")
def chat_url(index_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = start_chat(index_db, tmp_path_factory.mktemp("browser-chat"), keep_llm_env=True)
    with serving(server) as url:
        yield url


def test_question_about_the_lecture_plays_the_cited_clip(
    chat_url: str, index_db: Path, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: run scripts/setup.sh")
    from playwright.sync_api import sync_playwright

    store = LanceStore(index_db, create=False)
    lecture = next(m for m in store.media() if m.name == CHAT_INDEXED[0])
    clips = store.clips_of(lecture.media_id)
    assert clips

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1200})
            media_responses: list[tuple[int, str]] = []
            page.on("response", lambda r: media_responses.append(
                (r.status, r.headers.get("content-range", ""))) if "/media/" in r.url else None)
            page.goto(chat_url)
            # The start screen offers questions built from the collection.
            page.wait_for_selector("#starters", timeout=60_000)
            assert "lewin physicsworks lecture" in page.inner_text("#starters")
            page.fill("#chat-input", QUESTION)
            # The send button exists (instead of the stop button) once the chat's start-up task
            # has ended, and is enabled once the socket is connected and there is text.
            page.click("#chat-submit:not([disabled])", timeout=120_000)
            page.wait_for_function("q => !document.querySelector('#chat-input').value "
                                   "&& document.body.innerText.includes(q)", arg=QUESTION,
                                   timeout=60_000)
            try:
                player = page.wait_for_selector(f"audio[src*='/media/{lecture.media_id}/']",
                                                state="attached", timeout=600_000)
            except Exception:
                page.screenshot(path=str(tmp_path / "no-player.png"), full_page=True)
                pytest.fail(f"no player for the lecture; the page says:\n{page.inner_text('body')}")
            assert player is not None
            src = player.get_attribute("src") or ""
            found = PLAYER_SRC.search(src)
            assert found and found["id"] == lecture.media_id, src
            start, end = float(found["start"]), float(found["end"])
            # The player opens on the cited words: a span inside one indexed clip of the lecture
            # (the whole clip when the citation could not be narrowed).
            assert any(c.start - 0.01 <= start < end <= c.end + 0.01 for c in clips), (
                src, [(c.start, c.end) for c in clips])
            # Metadata comes through the Range route, and the player opens at the clip.
            page.wait_for_function("el => el.readyState >= 1", arg=player, timeout=60_000)
            now = player.evaluate("el => el.currentTime")
            assert abs(now - start) < 0.5, (now, start)
            assert any(status == 206 and crange.startswith("bytes ")
                       for status, crange in media_responses), media_responses
            body = page.inner_text("body")
            assert "Retrieved clips" in body
            assert "[1]" in body and "lewin_physicsworks… @" in body
            shot = tmp_path / "chat-answer.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            print(f"screenshot: {shot}")

            # A follow-up that only makes sense with the first question in mind: the chat's
            # history reaches the assistant, which searches for a standalone question (shown in
            # the retrieval step). How well a 135M model rewrites it is the assistant's matter.
            page.fill("#chat-input", FOLLOW_UP)
            page.click("#chat-submit:not([disabled])", timeout=120_000)
            page.wait_for_function(
                "() => document.body.innerText.split('Retrieved clips').length > 2 "
                "&& !document.querySelector('#stop-button')", timeout=600_000)
            page.get_by_text("Retrieved clips").last.click()
            # a loaded machine may take a while to open the step (a full run once timed out)
            page.wait_for_function("() => document.body.innerText.includes('Searched for:')",
                                   timeout=120_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(tmp_path / "chat-follow-up.png"), full_page=True)
        finally:
            browser.close()
