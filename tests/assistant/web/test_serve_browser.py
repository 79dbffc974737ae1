"""The collection picker of ``deerin serve`` in Debian chromium: each user logs in and is offered
only the collections their groups may see (Chainlit's chat profiles)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.chat import CHROMIUM, CHROMIUM_ARGS, serving
from tests.support.serve import PASSWORDS, Workshop, start_serve

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium")]
ARGS = [*CHROMIUM_ARGS, "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def url(workshop_files: Workshop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(start_serve(workshop_files, tmp_path_factory.mktemp("serve-ui"))) as found:
        yield found


def offered(url: str, user: str) -> list[str]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.goto(url)
            page.fill("#email", user)
            page.fill("#password", PASSWORDS[user])
            page.click("button[type=submit]")
            page.locator("#chat-input").wait_for(timeout=60_000)
            picker = page.locator("#chat-profiles")
            if picker.count() == 0:  # one collection: Chainlit shows no picker, only the chat
                return []
            picker.click()
            options = page.locator("[role=option]")
            options.first.wait_for(timeout=30_000)
            return sorted(options.all_inner_texts())
        finally:
            browser.close()


def test_the_picker_offers_each_user_their_own_collections(url: str, tmp_path: Path) -> None:
    assert offered(url, "anna") == ["a", "broken"]
    assert offered(url, "ben") == []  # ben sees b only: no picker, b's chat at once
    assert offered(url, "root") == ["a", "b", "broken"]
