"""The map of the collection: points, layout, clusters, the offline page, and the page in a
real browser (Debian chromium through Playwright), from disk and at the chat app's ``/map``.

Screenshots are kept as artefacts in ``$DEERIN_ARTEFACTS`` (default: the test's tmp folder).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from deerin.cli import app
from exploration.cluster import clusters, labels
from exploration.points import points
from exploration.project import project
from indexing.stores.lance import LanceStore
from tests.support import REPO
from tests.support.chat import CHROMIUM, CHROMIUM_ARGS, ChatServer, free_port

runner = CliRunner()


def _artefacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DEERIN_ARTEFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_points_at_three_levels(speech_index: Path) -> None:
    store = LanceStore(speech_index, create=False)
    clips, vectors = points(store, "clips")
    assert len(clips) == len(vectors) == store.count_clips()
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    files, fvec = points(store, "files")
    assert len(files) == len(store.media()) == len(fvec)
    shots, _ = points(store, "shots")
    # Shots with words: the subtitled Popeye and His Girl Friday; every one has a keyframe.
    assert shots and {Path(p.media_path).name for p in shots} == {
        "popeye_sinbad_1936_part3.mkv", "his_girl_friday_1940_clip.mp4"}
    assert all(p.keyframe for p in shots)
    with pytest.raises(ValueError):
        points(store, "frames")


def test_layout_clusters_and_labels() -> None:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 32))
    x = np.vstack([c + 0.05 * rng.normal(size=(20, 32)) for c in centres]).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for method in ("umap", "tsne"):
        layout = project(x, method)
        assert layout.shape == (60, 2) and np.abs(layout).max() <= 1.0 + 1e-6
        assigned = clusters(layout, 3)
        # Each generated group lands in one cluster.
        assert all(len(set(assigned[i * 20:(i + 1) * 20].tolist())) == 1 for i in range(3))
    texts = ["rocket shuttle launch"] * 20 + ["energy joule kinetic"] * 20 + ["popeye ship"] * 20
    names = labels(texts, np.repeat([0, 1, 2], 20))
    assert names[0].startswith(("rocket", "shuttle", "launch")) and "energy" in names[1]
    assert project(x[:1]).shape == (1, 2) and project(x[:4]).shape == (4, 2)


@pytest.fixture(scope="module")
def map_file(speech_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("map") / "map.html"
    res = runner.invoke(app, ["map", "--db", str(speech_index), "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_map_page_is_offline_and_self_contained(map_file: Path) -> None:
    text = map_file.read_text()
    # No external script, stylesheet or image: plotly.js and the data are inline.
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link[^>]+href=[\"']?https?:", text)
    assert not re.search(r"<img[^>]+src=[\"']?https?:", text)
    assert "Plotly.newPlot" in text and 'id="deerin-data"' in text
    assert "file:///" in text  # players load the files from disk
    assert "data:image/jpeg;base64," in text  # keyframes inlined


def test_map_bad_input(speech_index: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["map", "--db", str(speech_index), "--by", "frames"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["map", "--db", str(tmp_path / "none"),
                              "-o", str(tmp_path / "no" / "m.html")])
    assert res.exit_code == 1 and "does not exist" in res.output


def _hover_and_click(page, kind_wanted: str | None = None) -> dict:
    """Hover the first point of the map, check the tooltip, click it, and return what the
    player loaded (its src and where it stands after loading metadata)."""
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.wait_for_function("() => document.getElementById('deerin-map')?.dataset.ready "
                               "=== '1'", timeout=120_000)
    except Exception:
        pytest.fail(f"the map never drew; page errors: {errors}; page starts: "
                    f"{page.content()[:300]!r}")
    dots = page.locator(".scatterlayer path.point")
    n = dots.count()
    assert n > 0
    chosen = None
    for i in range(n):
        box = dots.nth(i).bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(5, 5)  # off the plot: the tooltip goes
        page.wait_for_selector("#tip", state="hidden", timeout=10_000)
        page.mouse.move(x, y, steps=4)
        page.wait_for_selector("#tip:not([hidden])", timeout=10_000)
        shown = page.evaluate("() => { const t = document.getElementById('tip'); return {i: "
                              "Number(t.dataset.point), where: t.querySelector('.where')"
                              ".textContent, said: t.querySelector('.said').textContent}; }")
        index = shown["i"]
        point = page.evaluate("i => window.deerinPoint(i)", index)
        # Hovering shows the point's words and where it is.
        assert shown["said"] == point["text"] and point["text"]
        assert point["file"] in shown["where"]
        if kind_wanted is None or (point["video"] == (kind_wanted == "video")):
            chosen = (x, y, index, point)
            break
    assert chosen is not None, f"no {kind_wanted} point on the map"
    x, y, index, point = chosen
    page.mouse.click(x, y)
    tag = "video" if point["video"] else "audio"
    player = page.wait_for_selector(f"#player:not([hidden]) {tag}", timeout=10_000)
    assert page.get_attribute("#player", "data-point") == str(index)
    page.wait_for_function("el => el.readyState >= 1", arg=player, timeout=60_000)
    return {"src": player.get_attribute("src"), "now": player.evaluate("el => el.currentTime"),
            "point": point, "index": index}


@pytest.mark.slow
@pytest.mark.browser
def test_map_in_chromium_from_disk(map_file: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: run scripts/setup.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(map_file.as_uri())
            played = _hover_and_click(page, "video")
            start = played["point"]["start"]
            assert played["src"].startswith("file:///") and played["src"].endswith(f"#t={start}")
            assert abs(played["now"] - start) < 0.5, played
            shot = _artefacts(tmp_path) / "map-from-disk.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
            print(f"screenshot: {shot}")
        finally:
            browser.close()


@pytest.fixture(scope="module")
def chat_server(speech_index: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[ChatServer]:
    """`deerin chat` from this checkout (PYTHONPATH), its caches in a temp folder."""
    work = tmp_path_factory.mktemp("map-chat")
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"DEERIN_AUTH", "CHAINLIT_AUTH_SECRET", "CHAINLIT_APP_ROOT", "DEERIN_LLM"}}
    env.update(XDG_CACHE_HOME=str(work / "cache"), PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", DEERIN_RERANK="off",
               DEERIN_LLM="tiny")  # the chat's warm-up loads the LLM: the smallest will do
    log = work / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "deerin", "chat", "--db",
                                 str(speech_index), "--port", str(port)], cwd=work, env=env,
                                stdout=out, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    server = ChatServer(f"http://127.0.0.1:{port}", proc, work, log)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.browser
def test_map_at_chat_route_plays_through_the_media_route(chat_server: ChatServer,
                                                         tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            ranges: list[int] = []
            page.on("response", lambda r: ranges.append(r.status) if "/media/" in r.url
                    else None)
            page.goto(chat_server.url + "/map", timeout=180_000)
            played = _hover_and_click(page, "video")
            start = played["point"]["start"]
            assert re.fullmatch(rf"/media/[0-9a-f]+/[^#]+#t={re.escape(str(start))}",
                                played["src"]), played
            assert abs(played["now"] - start) < 0.5, played
            assert 206 in ranges, ranges
            thumb = played["point"]["thumb"]
            assert thumb and thumb.startswith("/keyframes/")
            assert httpx.get(chat_server.url + thumb).status_code == 200
            shot = _artefacts(tmp_path) / "map-at-chat.png"
            page.screenshot(path=str(shot))
            print(f"screenshot: {shot}")
        finally:
            browser.close()
    assert httpx.get(chat_server.url + "/map?by=nothing").status_code == 400


@pytest.mark.slow
def test_montage_command_renders_and_the_app_streams_it(chat_server: ChatServer,
                                                        speech_index: Path) -> None:
    from assistant.web.chat_service import ChatService
    from indexing.settings import Settings
    from interaction.chat import MontageCommand

    # The same cache folder as the server's: the command renders, the server streams.
    command = MontageCommand(chat_server.cwd / "cache" / "deerin" / "montages")
    service = ChatService(Settings.from_env({}, db_dir=speech_index))
    reply = command.run(service, "my fellow Americans")
    assert reply.text.startswith("**2 moments**")
    assert "gwb_columbia_address_2003.ogg @" in reply.text and "jfk_inaugural_1961.flac @" in \
        reply.text
    (player,) = reply.players
    assert player.audio and player.url.startswith("/montage/media/")
    got = httpx.get(chat_server.url + player.url, headers={"Range": "bytes=0-99"})
    assert got.status_code == 206 and len(got.content) == 100
    assert httpx.get(chat_server.url + "/montage/media/0123456789abcdef/x.mp4").status_code \
        == 404
    assert httpx.get(chat_server.url + "/montage/anything/else").status_code == 404
    nowhere = command.run(service, "purple elephant umbrella")
    assert "said nowhere" in nowhere.text and not nowhere.players


@pytest.mark.slow
@pytest.mark.browser
def test_montage_typed_in_the_chat_plays_from_the_app(chat_server: ChatServer,
                                                      tmp_path: Path) -> None:
    """`/montage phrase` typed into the Chainlit page: the reply lists the moments and a player
    whose source is the app's montage route (streamed, not copied by cl.Video(path=...))."""
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: run scripts/setup.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1200})
            page.goto(chat_server.url, timeout=180_000)
            page.fill("#chat-input", "/montage my fellow Americans", timeout=120_000)
            page.click("#chat-submit:not([disabled])", timeout=120_000)
            try:
                player = page.wait_for_selector("audio[src*='/montage/media/']",
                                                state="attached", timeout=240_000)
            except Exception:
                page.screenshot(path=str(_artefacts(tmp_path) / "montage-missing.png"),
                                full_page=True)
                pytest.fail(f"no montage player; the page says:\n{page.inner_text('body')}")
            assert player is not None
            body = page.inner_text("body")
            assert "2 moments" in body and "gwb_columbia_address_2003.ogg" in body
            src = player.get_attribute("src") or ""
            got = httpx.get(chat_server.url + src, headers={"Range": "bytes=0-99"})
            assert got.status_code == 206 and len(got.content) == 100
            page.screenshot(path=str(_artefacts(tmp_path) / "montage-in-chat.png"),
                            full_page=True)
        finally:
            browser.close()
