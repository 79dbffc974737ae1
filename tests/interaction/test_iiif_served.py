"""IIIF served by `deerin chat` (interaction/iiif_web.py), over a real index built by `deerin
index` of Big Buck Bunny (on-screen text: "THE PEACH OPEN MOVIE PROJECT"), His Girl Friday
(speech and subtitles, one shot) and the Columbia address (named entities, "Houston").

Every document must validate as IIIF Presentation 3 and every id in it must be fetchable. The
browser tests load a manifest from a page of another origin (a second local port) in headless
Debian chromium and play the media range it names in a ``<video crossorigin>``: without CORS
the page could neither read the manifest nor play the video.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexing.media import file_hash
from interaction.iiif import PAGE_KINDS, validate
from tests.support.api import PASSWORD, USER, assert_error, basic
from tests.support.chat import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DEERIN,
    ChatServer,
    free_port,
    serving_all,
    start_chat,
)

OCR_TITLE = "PEACH OPEN MOVIE PROJECT"
VIEWER_PAGE = """<!DOCTYPE html>
<title>A IIIF viewer elsewhere</title>
<video id="player" muted playsinline></video>
<script>
// Loads the collection, the manifest of the file named ?file=, the range of its first on-screen
// text, and plays it: what an AV viewer does, in a dozen lines.
window.result = {};
(async () => {
  const args = new URLSearchParams(location.search);
  const credentials = args.get("credentials") || "same-origin";
  try {
    const get = async url => {
      const r = await fetch(url, {credentials});
      if (!r.ok) throw new Error(`${r.status} for ${url}`);
      return r.json();
    };
    const collection = await get(args.get("deerin") + "/iiif/default/manifest.json");
    const ref = collection.items.find(i => i.label.none[0].includes(args.get("file")));
    const manifest = await get(ref.id);
    window.result.manifest = manifest.id;
    const canvas = manifest.items[0];
    const media = canvas.items[0].items[0].body.id;
    const ocr = canvas.annotations.find(p => p.id.endsWith("/page/ocr"));
    window.result.text = ocr.items[0].body.value;
    const [, start, end] = /t=([0-9.]+),([0-9.]+)/.exec(ocr.items[0].target);
    window.result.start = Number(start);
    const player = document.getElementById("player");
    player.crossOrigin = credentials === "include" ? "use-credentials" : "anonymous";
    player.src = `${media}#t=${start},${end}`;
    await player.play();
    window.result.playing = true;
  } catch (e) {
    window.result.error = String(e);
  }
})();
</script>
"""


@pytest.fixture(scope="module")
def iiif_index(tmp_path_factory: pytest.TempPathFactory, bunny: Path, friday: Path,
               columbia: Path) -> Path:
    db = tmp_path_factory.mktemp("iiif") / "index"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    run = subprocess.run([str(DEERIN), "index", str(bunny), str(friday), str(columbia),
                          "--db", str(db)], env=env, capture_output=True, text=True,
                         timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    return db


@pytest.fixture(scope="module")
def viewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second origin: a plain static server on another port, serving the viewer page."""
    root = tmp_path_factory.mktemp("viewer-site")
    (root / "viewer.html").write_text(VIEWER_PAGE, encoding="utf-8")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}"
    finally:
        site.shutdown()
        site.server_close()


@pytest.fixture(scope="module")
def servers(iiif_index: Path, viewer: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[ChatServer, ChatServer]]:
    base = tmp_path_factory.mktemp("iiif-servers")
    # No question is asked: the smallest model keeps the warm-up short.
    open_server = start_chat(iiif_index, base / "open", args=("--llm", "tiny"))
    guarded = start_chat(iiif_index, base / "guarded", auth=f"{USER}:{PASSWORD}",
                         extra_env={"DEERIN_CORS_ORIGINS": viewer}, args=("--llm", "tiny"))
    with serving_all(open_server, guarded):
        yield open_server, guarded


@pytest.fixture(scope="module")
def site(servers: tuple[ChatServer, ChatServer]) -> str:
    return servers[0].url


def get_json(url: str, **kwargs: Any) -> Any:
    r = httpx.get(url, timeout=120, **kwargs)
    assert r.status_code == 200, (url, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/ld+json")
    return r.json()


def test_collection_and_manifests_validate_and_every_id_resolves(site: str) -> None:
    from iiif_prezi3 import Collection

    collection = get_json(f"{site}/iiif/default/manifest.json")
    assert collection["type"] == "Collection" and collection["id"] == \
        f"{site}/iiif/default/manifest.json"
    Collection.model_validate({k: v for k, v in collection.items() if k != "@context"})
    assert len(collection["items"]) == 3
    for ref in collection["items"]:
        manifest = get_json(ref["id"])
        validate(manifest)
        assert manifest["id"] == ref["id"]
        canvas = manifest["items"][0]
        body = canvas["items"][0]["items"][0]["body"]
        played = httpx.get(body["id"], headers={"Range": "bytes=0-99"})
        assert played.status_code == 206 and played.headers["content-type"] == body["format"]
        for page in canvas.get("annotations", []):
            served = get_json(page["id"])
            assert served["@context"] == "http://iiif.io/api/presentation/3/context.json"
            assert {k: v for k, v in served.items() if k != "@context"} == page


def test_pages_hold_the_transcript_entities_and_on_screen_text(site: str) -> None:
    collection = get_json(f"{site}/iiif/default/manifest.json")
    by_name = {ref["label"]["none"][0]: ref["id"] for ref in collection["items"]}
    bunny = get_json(by_name["big buck bunny"])
    canvas = bunny["items"][0]
    pages = {p["id"].rsplit("/", 1)[1]: p for p in canvas["annotations"]}
    assert "ocr" in pages and "shots" in pages
    title = [a for a in pages["ocr"]["items"] if OCR_TITLE in a["body"]["value"]]
    assert len(title) == 1 and title[0]["motivation"] == "supplementing"
    # Where and when: a region of the picture, while the caption is on screen.
    target = title[0]["target"]
    assert target.startswith(canvas["id"] + "#xywh=") and "&t=" in target
    x, y, w, h = (int(v) for v in target.split("xywh=")[1].split("&")[0].split(","))
    assert 0 <= x < x + w <= canvas["width"] and 0 <= y < y + h <= canvas["height"]
    columbia = get_json(by_name["gwb columbia address"])
    pages = {p["id"].rsplit("/", 1)[1]: p for p in columbia["items"][0]["annotations"]}
    assert {"transcript", "entities"} <= set(pages) and "shots" not in pages
    assert "Houston" in [a["body"]["value"] for a in pages["entities"]["items"]]
    assert any("Columbia" in a["body"]["value"] for a in pages["transcript"]["items"])
    friday = get_json(by_name["his girl friday clip"])
    pages = {p["id"].rsplit("/", 1)[1]: p for p in friday["items"][0]["annotations"]}
    assert pages["transcript"]["items"][0]["body"]["language"] == "en"
    assert set(PAGE_KINDS) == {"captions", "transcript", "shots", "entities", "ocr"}
    # The captions viewers show: one WebVTT file per transcript kind, readable cross-origin.
    files = {a["body"]["id"].rsplit("/", 1)[1]: a["body"] for a in pages["captions"]["items"]}
    assert set(files) == {"speech.vtt", "subtitle.vtt"}
    vtt = httpx.get(files["subtitle.vtt"]["id"], headers={"Origin": "https://viewer.example"})
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.headers["access-control-allow-origin"] == "*"
    assert vtt.text.startswith("WEBVTT") and "Hildy!" in vtt.text and " --> " in vtt.text
    assert "00:00:0" in httpx.get(files["speech.vtt"]["id"]).text


def test_unknown_collection_file_or_page_is_a_json_404(site: str, jfk: Path) -> None:
    collection = get_json(f"{site}/iiif/default/manifest.json")
    media_id = collection["items"][0]["id"].split("/")[-2]
    not_indexed = file_hash(jfk)
    for path, word in (("/iiif/other/manifest.json", "other"),
                       (f"/iiif/other/{media_id}/manifest.json", "other"),
                       (f"/iiif/default/{not_indexed}/manifest.json", not_indexed),
                       ("/iiif/default/..%2F..%2Fetc%2Fpasswd/manifest.json", ""),
                       (f"/iiif/default/{media_id}/page/painting", "painting"),
                       (f"/iiif/default/{media_id}/page/nonsense", "nonsense"),
                       (f"/iiif/default/{media_id}/captions/ocr.vtt", "ocr"),
                       ("/iiif/default", ""), ("/iiif/", "")):
        assert_error(httpx.get(site + path), 404, word)


def test_cors_answers_viewers_of_any_origin(site: str) -> None:
    origin = {"Origin": "https://viewer.example.org"}
    manifest = httpx.get(f"{site}/iiif/default/manifest.json", headers=origin)
    assert manifest.headers["access-control-allow-origin"] == "*"
    media = manifest.json()["items"][0]["id"]
    body = get_json(media)["items"][0]["items"][0]["items"][0]["body"]["id"]
    ranged = httpx.get(body, headers={**origin, "Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.headers["access-control-allow-origin"] == "*"
    assert "Content-Range" in ranged.headers["access-control-expose-headers"]
    pre = httpx.options(body, headers={**origin, "Access-Control-Request-Method": "GET",
                                       "Access-Control-Request-Headers": "range"})
    assert pre.status_code == 204 and "GET" in pre.headers["access-control-allow-methods"]
    # The API is not for other sites' scripts.
    api = httpx.get(f"{site}/api/files", headers=origin)
    assert api.status_code == 200 and "access-control-allow-origin" not in api.headers


def test_guarded_iiif_needs_the_login_and_trusts_the_listed_origin(
        servers: tuple[ChatServer, ChatServer], viewer: str) -> None:
    guarded = servers[1].url
    url = f"{guarded}/iiif/default/manifest.json"
    refused = httpx.get(url, headers={"Origin": viewer})
    assert_error(refused, 401, "authentication")
    # The viewer may read the refusal (and say "log in"); the cookie may go with its requests.
    assert refused.headers["access-control-allow-origin"] == viewer
    assert refused.headers["access-control-allow-credentials"] == "true"
    assert get_json(url, headers=basic(USER, PASSWORD))["type"] == "Collection"
    stranger = httpx.get(url, headers={"Origin": "https://elsewhere.example",
                                       **basic(USER, PASSWORD)})
    assert stranger.status_code == 200
    assert "access-control-allow-origin" not in stranger.headers  # its script cannot read it
    token = httpx.post(f"{guarded}/api/token", headers=basic(USER, PASSWORD)).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert get_json(url, headers=bearer)["type"] == "Collection"


def _play(viewer: str, deerin: str, tmp_path: Path, *, login: bool = False) -> dict[str, Any]:
    """Open the viewer page in chromium; return what it found and how far the video played."""
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: run scripts/setup.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            *CHROMIUM_ARGS, "--disable-component-update", "--no-first-run"])
        try:
            context = browser.new_context()
            if login:  # the chat's own login: its session cookie lands in this browser
                r = context.request.post(f"{deerin}/login",
                                         form={"username": USER, "password": PASSWORD})
                assert r.ok, r.text()
            page = context.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            credentials = "include" if login else "omit"
            page.goto(f"{viewer}/viewer.html?deerin={deerin}&file=big%20buck%20bunny"
                      f"&credentials={credentials}")
            page.wait_for_function("() => window.result.playing || window.result.error",
                                   timeout=120_000)
            result: dict[str, Any] = page.evaluate("() => window.result")
            if "error" in result:
                page.screenshot(path=str(tmp_path / "viewer.png"))
                pytest.fail(f"the viewer failed: {result['error']}; console: {errors}")
            # Playing, not only loaded: the clock moves from the range's start.
            page.wait_for_function(
                "s => document.getElementById('player').currentTime > s + 0.5",
                arg=result["start"], timeout=60_000)
            result["time"] = page.evaluate("() => document.getElementById('player').currentTime")
            return result
        finally:
            browser.close()


@pytest.mark.browser
def test_a_viewer_on_another_origin_loads_the_manifest_and_plays_its_range(
        site: str, viewer: str, tmp_path: Path) -> None:
    result = _play(viewer, site, tmp_path)
    assert result["manifest"].startswith(f"{site}/iiif/default/")
    assert OCR_TITLE in result["text"]
    assert result["start"] + 0.5 < result["time"] < result["start"] + 30
    print(f"played from {result['start']} s to {result['time']:.2f} s cross-origin")


@pytest.mark.browser
def test_a_trusted_viewer_plays_with_the_chat_login(
        servers: tuple[ChatServer, ChatServer], viewer: str, tmp_path: Path) -> None:
    result = _play(viewer, servers[1].url, tmp_path, login=True)
    assert OCR_TITLE in result["text"] and result["time"] > result["start"] + 0.5


def test_manifests_name_the_public_address_when_set(iiif_index: Path, tmp_path: Path) -> None:
    server = start_chat(iiif_index, tmp_path / "public", args=("--llm", "tiny"), extra_env={
        "DEERIN_PUBLIC_URL": "https://deerin.example.org/archive",
        "DEERIN_COLLECTION": "newsreels"})
    try:
        server.wait_ready()
        collection = get_json(f"{server.url}/iiif/newsreels/manifest.json")
        assert collection["id"] == "https://deerin.example.org/archive/iiif/newsreels/" \
                                   "manifest.json"
        assert all(ref["id"].startswith("https://deerin.example.org/archive/iiif/newsreels/")
                   for ref in collection["items"])
        assert_error(httpx.get(f"{server.url}/iiif/default/manifest.json"), 404, "newsreels")
        files = httpx.get(f"{server.url}/api/files").json()
        assert files["collection"] == "newsreels"
        assert files["files"][0]["url"].startswith("https://deerin.example.org/archive/media/")
    finally:
        server.stop()
