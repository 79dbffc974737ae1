"""The chat in a real browser: Debian chromium, driven by Playwright, against `deerin chat`.

A real index of three files of ../shared/media is built once per session with `deerin index`
(the physics lecture, the Columbia address and a subtitled film clip). The browser asks about the
lecture and must get an answer whose cited clip is an <audio> player pointing at DEERIn's media
route with the clip's ``#t=start,end``, and whose metadata loads through the Range route.

The LLM is the server's default (``DEERIN_LLM`` if set, else the shipped SmolLM2); without one the
assistant quotes the best clip, which is cited and played the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chat_support import free_port

from assistant.web.media import media_url
from indexing.stores.lance import LanceStore

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DEERIN = Path(sys.executable).with_name("deerin")
INDEXED = ("lewin_physicsworks_lecture_audio.webm", "gwb_columbia_address_2003.ogg",
           "his_girl_friday_1940_clip.mp4")
QUESTION = "How many joules does the lecturer say are enough to kill you?"
FOLLOW_UP = "What do they use those devices for?"


def chat_index(base: Path, media_dir: Path) -> Path:
    """The session's index of INDEXED, built by `deerin index` the first time it is asked for.

    Kept under pytest's session temp folder so the browser and load tests share one build.
    """
    db = base / "chat-index"
    done = base / "chat-index.done"
    if not done.exists():
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        run = subprocess.run([str(DEERIN), "index", *(str(media_dir / n) for n in INDEXED),
                              "--db", str(db)], cwd=base, env=env, capture_output=True,
                             text=True, timeout=1200)
        if run.returncode != 0:
            pytest.fail(f"deerin index failed ({run.returncode}):\n{run.stderr[-3000:]}")
        done.touch()
    return db


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def launch_chat(db: Path, workdir: Path) -> tuple[subprocess.Popen[str], str, Path]:
    """Start ``deerin chat`` over ``db`` on a free loopback port; wait until it answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"DEERIN_AUTH", "CHAINLIT_AUTH_SECRET", "CHAINLIT_APP_ROOT"}}
    env.update(XDG_CACHE_HOME=str(workdir / "cache"), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    log = workdir / "server.log"
    proc = subprocess.Popen([str(DEERIN), "chat", "--db", str(db), "--port", str(port)],
                            cwd=workdir, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chat server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url, log
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    stop(proc)
    pytest.fail(f"chat server did not start:\n{log.read_text()}")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def index_db(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Path:
    return chat_index(tmp_path_factory.getbasetemp(), media_dir)


@pytest.fixture(scope="module")
def chat_url(index_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url, log = launch_chat(index_db, tmp_path_factory.mktemp("browser-chat"))
    try:
        yield url
    finally:
        stop(proc)
        print(log.read_text()[-3000:])


def test_question_about_the_lecture_plays_the_cited_clip(
    chat_url: str, index_db: Path, tmp_path: Path
) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: run scripts/setup.sh")
    from playwright.sync_api import sync_playwright

    store = LanceStore(index_db, create=False)
    lecture = next(m for m in store.media() if m.name == INDEXED[0])
    # Every fragment a player of the lecture may legitimately carry: one per indexed clip.
    spans = {media_url(c.media_id, lecture.name, start=c.start, end=c.end): (c.start, c.end)
             for c in store.clips_of(lecture.media_id)}
    assert spans

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
            assert src in spans, f"{src} is not the span of an indexed clip of the lecture"
            start, end = spans[src]
            assert src.endswith(f"#t={_seconds(start)},{_seconds(end)}")
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
            page.wait_for_function("() => document.body.innerText.includes('Searched for:')",
                                   timeout=30_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(tmp_path / "chat-follow-up.png"), full_page=True)
        finally:
            browser.close()
