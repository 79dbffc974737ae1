"""The knowledge graph in the chat: the entities an answer used, an entity's appearances as
players, and start questions from the biggest communities.

A real index of transcript clips (tests/support/graph.py: the Columbia address and JFK's line,
real LanceDB, MiniLM, spaCy) with its graph; the browser test runs `deerin chat` over it in a
subprocess (this worktree's code: PYTHONPATH) and drives Debian chromium. No LLM is loaded: the
server's model spec points at a missing file, so the assistant quotes its best clip, cited and
played like any answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexing.graph.extract import EntityExtractor
from indexing.graph.networkx_store import NetworkxGraphStore
from indexing.graph.sync import update
from tests.support import REPO
from tests.support.chat import CHROMIUM, CHROMIUM_ARGS, serving, start_chat
from tests.support.graph import build_store

COLUMBIA = "gwb_columbia_address_2003.ogg"
NAMES = (COLUMBIA, "jfk_inaugural_1961.flac")
PLAYER_SRC = re.compile(r"/media/(?P<id>[0-9a-f]+)/[^#]+#t=(?P<start>[0-9.]+),(?P<end>[0-9.]+)$")


@pytest.fixture(scope="module")
def chat_graph_db(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Path:
    db = tmp_path_factory.mktemp("chat-graph-db")
    update(build_store(db, media_dir, NAMES), NetworkxGraphStore(db), EntityExtractor())
    return db


def test_entities_appearances_and_community_questions(chat_graph_db: Path) -> None:
    from assistant.web.chat_service import ChatService
    from assistant.web.graph_view import ChatGraph, appearances_markdown, entities_markdown
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    service = ChatService(Settings.from_env({}, db_dir=chat_graph_db))
    graph = ChatGraph(service)
    store = LanceStore(chat_graph_db, create=False)
    columbia = next(m for m in store.media() if m.name == COLUMBIA)
    clips = store.clips_of(columbia.media_id)
    cited = [c.clip_id for c in clips if "Houston" in c.text]
    used = graph.entities_used("Where was contact with Columbia lost?", cited)
    names = [e.name for e in used]
    shuttle = next(e for e in used if "Columbia" in e.name)  # "Space Shuttle Columbia"
    assert "Houston" in names and used.index(shuttle) < 2, names  # what the question names first
    assert "**Houston**" in entities_markdown(used)

    entity, shown = graph.appearances(shuttle.key)
    assert entity is not None and len(shown) == entity.clips >= 2
    for a in shown:  # each appearance plays inside its clip, at the words when timed
        assert a.clip.start - 0.01 <= a.start < a.end <= a.clip.end + 0.01
        found = PLAYER_SRC.search(service.media_url(a.clip, start=a.start, end=a.end))
        assert found and found["id"] == columbia.media_id
        assert abs(float(found["start"]) - a.start) < 0.01
    text = appearances_markdown(entity, shown)
    assert text.startswith(f"**{shuttle.name}** appears in") and text.count("- **[") == len(shown)
    assert graph.appearances("no such entity") == (None, [])

    questions = graph.community_questions()
    assert questions and all(q.startswith("Which recordings mention ") for _, q in questions)
    assert graph.entities_used("anything", []) == []


@pytest.fixture(scope="module")
def graph_chat_url(chat_graph_db: Path, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[str]:
    server = start_chat(chat_graph_db, tmp_path_factory.mktemp("graph-chat"), extra_env={
        "PYTHONPATH": str(REPO), "DEERIN_LLM": "llamacpp:/nonexistent/model.gguf",
        "DEERIN_RERANK": "off"})
    with serving(server) as url:
        yield url


@pytest.mark.browser
def test_an_answers_entity_plays_where_it_appears(graph_chat_url: str, chat_graph_db: Path,
                                                  tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: run scripts/setup.sh")
    from playwright.sync_api import sync_playwright

    from indexing.stores.lance import LanceStore

    store = LanceStore(chat_graph_db, create=False)
    columbia = next(m for m in store.media() if m.name == COLUMBIA)
    clips = store.clips_of(columbia.media_id)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(graph_chat_url)
            page.wait_for_selector("#starters", timeout=60_000)
            assert "Where does" in page.inner_text("#starters")  # a community's question
            page.fill("#chat-input", "Where did mission control lose contact with Columbia?")
            page.click("#chat-submit:not([disabled])", timeout=120_000)
            try:
                page.wait_for_function(
                    "() => document.body.innerText.includes('Entities in this answer')",
                    timeout=180_000)
                page.get_by_role("button", name="Houston").click(timeout=30_000)
                player = page.wait_for_selector(f"audio[src*='/media/{columbia.media_id}/']",
                                                state="attached", timeout=60_000)
            except Exception:
                page.screenshot(path=str(tmp_path / "no-entity.png"), full_page=True)
                pytest.fail(f"no entity player; the page says:\n{page.inner_text('body')}")
            assert player is not None
            found = PLAYER_SRC.search(player.get_attribute("src") or "")
            assert found and found["id"] == columbia.media_id
            start, end = float(found["start"]), float(found["end"])
            assert any(c.start - 0.01 <= start < end <= c.end + 0.01 and "Houston" in c.text
                       for c in clips)
            # The player may be attached before the message's text is rendered around it.
            page.wait_for_function(
                "() => document.body.innerText.includes('Houston appears in')", timeout=30_000)
            assert "Houston appears in" in page.inner_text("body")
            page.screenshot(path=str(tmp_path / "entity.png"), full_page=True)
        finally:
            browser.close()
