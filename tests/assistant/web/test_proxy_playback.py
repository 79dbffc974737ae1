"""An MXF master plays in the chat: `deerin index` makes its H.264/AAC access copy, `deerin
chat` serves that copy on the master's media URL (video/mp4, with HTTP Range), and Debian
chromium plays it from the cited second, while the master stays as it was."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from indexing.stores.lance import LanceStore
from tests.support.chat import CHROMIUM, CHROMIUM_ARGS, DEERIN, serving, start_chat
from tests.support.media import make_video

pytestmark = pytest.mark.browser

SRT = "1\n00:00:02,000 --> 00:00:04,000\nThe harbour master rings the bell\n"


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    films = tmp_path_factory.mktemp("mxf-films")
    mxf = make_video(films / "harbour.mxf", seconds=6.0, size="320x240",
                     video=("-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-top", "1"),
                     audio=("-c:a", "pcm_s16le"))
    (films / "harbour.srt").write_text(SRT, encoding="utf-8")
    return mxf


@pytest.fixture(scope="module")
def index_db(master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("mxf-index") / "db"
    run = subprocess.run([str(DEERIN), "index", str(master.parent), "--db", str(db),
                          "--no-shots", "--no-ocr", "--no-faces"],
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return db


@pytest.fixture(scope="module")
def chat_url(index_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = start_chat(index_db, tmp_path_factory.mktemp("mxf-chat"))
    with serving(server) as url:
        yield url


def test_an_mxf_source_plays_in_the_chat(master: Path, index_db: Path, chat_url: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: run scripts/setup.sh")
    from playwright.sync_api import sync_playwright

    before = hashlib.sha256(master.read_bytes()).hexdigest(), master.stat().st_mtime_ns
    (media,) = LanceStore(index_db, create=False).media()
    url = f"{chat_url}/media/{media.media_id}/{master.name}"
    ranged = httpx.get(url, headers={"Range": "bytes=0-1023"}, timeout=30)
    assert ranged.status_code == 206
    assert ranged.headers["content-type"] == "video/mp4"
    assert ranged.headers["content-range"].startswith("bytes 0-1023/")
    assert len(ranged.content) == 1024 and ranged.content[4:8] == b"ftyp"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[
            *CHROMIUM_ARGS, "--disable-component-update", "--no-first-run",
            "--autoplay-policy=no-user-gesture-required"])
        try:
            page = browser.new_page()
            page.goto(chat_url)
            # A player as the chat writes one for a citation: the media URL and the cited span.
            page.evaluate("""src => { const v = document.createElement('video');
                v.id = 'cited'; v.muted = true; v.src = src; document.body.appendChild(v);
                v.play(); }""", f"{url}#t=2,4")
            page.wait_for_function("""() => { const v = document.getElementById('cited');
                return v.error || (v.readyState >= 3 && v.currentTime > 2.3); }""",
                                   timeout=60_000)
            state = page.evaluate("""() => { const v = document.getElementById('cited');
                return {error: v.error && v.error.code, width: v.videoWidth,
                        duration: v.duration, time: v.currentTime}; }""")
        finally:
            browser.close()
    assert state["error"] is None
    assert state["width"] == 320 and abs(state["duration"] - 6.0) < 0.2
    assert 2.0 < state["time"] <= 4.2  # playing inside the cited span
    assert (hashlib.sha256(master.read_bytes()).hexdigest(), master.stat().st_mtime_ns) == before


def test_the_iiif_manifest_paints_what_the_route_serves(index_db: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from deerin.cli import app

    result = CliRunner().invoke(app, ["export", "iiif", "--db", str(index_db), "--out",
                                      str(tmp_path), "--no-entities"])
    assert result.exit_code == 0, result.output
    (written,) = tmp_path.glob("*.manifest.json")
    import json

    body = json.loads(written.read_text())["items"][0]["items"][0]["items"][0]["body"]
    assert body["format"] == "video/mp4" and body["id"].endswith("/harbour.mxf")
    assert (body["width"], body["height"]) == (320, 240)
