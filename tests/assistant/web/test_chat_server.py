"""The chat server over HTTP: `deerin chat` started for real, on loopback, over a real index.

The index holds real files of ../shared/media, probed with ffprobe and hashed as the indexer
does, plus a keyframe grabbed with ffmpeg; no model runs (the routes only need the records), so
the servers start in seconds. Two servers run: one open, one with DEERIN_AUTH.
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assistant.answer import Answer, Citation
from assistant.web.chat_service import short_name, suggest_questions, title_of
from assistant.web.media import media_url
from assistant.web.render import answer_markdown, citation_label, hits_table
from indexing.media import file_hash, probe
from indexing.stores.base import MediaRecord
from indexing.stores.lance import LanceStore
from indexing.types import Clip, ClipKind, Hit, Shot
from tests.support import REPO
from tests.support.chat import (
    DEERIN,
    ChatServer,
    connect_webapp,
    free_port,
    serving_all,
    start_chat,
)

USER, PASSWORD = "archivist", "correct horse:battery"


# --- fixtures ----------------------------------------------------------------------------------


@dataclass
class Collection:
    db: Path
    records: dict[str, MediaRecord]  # by file name
    keyframe_name: str
    keyframe: Path
    stray_keyframe: Path


def _record(path: Path) -> MediaRecord:
    path = path.resolve()
    media = probe(path, file_hash(path))
    st = path.stat()
    return MediaRecord(
        media_id=media.media_id, path=str(path), duration=media.duration, size=st.st_size,
        mtime_ns=st.st_mtime_ns, has_audio=media.has_audio, has_video=media.has_video,
        clips=0, shots=1 if media.has_video else 0, indexed_at=time.time(),
    )


def _grab_frame(video: Path, out: Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "1", "-i", str(video), "-frames:v", "1",
                    str(out)], check=True, timeout=60)


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory, columbia: Path, friday: Path,
               lecture: Path) -> Collection:
    db = tmp_path_factory.mktemp("chat-db") / "index"
    store = LanceStore(db)
    records = {}
    for f in (columbia, friday, lecture):
        rec = _record(f)
        records[f.name] = rec
    friday_rec = records[friday.name]
    keyframes = db / "keyframes"
    keyframes.mkdir()
    frame = keyframes / f"{friday_rec.media_id}_0000.jpg"
    _grab_frame(friday, frame)
    # A JPEG a shot points at but that lies outside <db>/keyframes: never served.
    stray = db.parent / "stray.jpg"
    shutil.copy(frame, stray)
    store.add_shots(friday_rec.media_id, friday_rec.path,
                    [Shot(0, 0.0, 3.0, keyframe=frame, keyframe_time=1.0),
                     Shot(1, 3.0, friday_rec.duration, keyframe=stray, keyframe_time=4.0)])
    for rec in records.values():
        store.put_media(rec)  # last, as the indexer does: the file is complete
    store.finalize()
    return Collection(db, records, frame.stem, frame, stray)


@pytest.fixture(scope="module")
def servers(collection: Collection, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[ChatServer, ChatServer]]:
    base = tmp_path_factory.mktemp("chat-servers")
    # Both start at once: each spends most of its start-up importing Chainlit and LanceDB.
    open_server = start_chat(collection.db, base / "open")
    guarded = start_chat(collection.db, base / "guarded", auth=f"{USER}:{PASSWORD}")
    with serving_all(open_server, guarded):
        yield open_server, guarded


@pytest.fixture(scope="module")
def server(servers: tuple[ChatServer, ChatServer]) -> ChatServer:
    return servers[0]


@pytest.fixture(scope="module")
def guarded(servers: tuple[ChatServer, ChatServer]) -> ChatServer:
    return servers[1]


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# --- media through the whole app ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "content_type"), [
    ("gwb_columbia_address_2003.ogg", "audio/ogg"),
    ("his_girl_friday_1940_clip.mp4", "video/mp4"),
    ("lewin_physicsworks_lecture_audio.webm", "audio/webm"),
])
def test_media_range_request_is_206(server: ChatServer, collection: Collection, name: str,
                                    content_type: str) -> None:
    rec = collection.records[name]
    data = Path(rec.path).read_bytes()
    url = server.url + media_url(rec.media_id, name, start=9, end=17).split("#")[0]
    r = httpx.get(url, headers={"Range": "bytes=1000-1999"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["content-type"] == content_type
    assert r.content == data[1000:2000]
    # An open-ended range, as a <video> element sends first.
    r = httpx.get(url, headers={"Range": "bytes=0-"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 0-{len(data) - 1}/{len(data)}"
    assert len(r.content) == len(data)


def test_unindexed_and_traversal_are_refused(server: ChatServer, collection: Collection,
                                             jfk: Path) -> None:
    not_indexed = file_hash(jfk)  # a real file, a well-formed id, but never indexed
    assert all(r.media_id != not_indexed for r in collection.records.values())
    for path in (
        f"/media/{not_indexed}",
        f"/media/{not_indexed}/jfk_inaugural_1961.flac",
        "/media/..%2F..%2F..%2Fetc%2Fpasswd",
        "/media/%2Fetc%2Fpasswd",
        "/media/a/b/c/d",
        f"/media/{collection.records['gwb_columbia_address_2003.ogg'].media_id}/x/..%2F..%2Fetc",
        "/keyframes/..%2F..%2Fetc%2Fpasswd.jpg",
        "/keyframes/nested/dir/frame.jpg",
    ):
        r = httpx.get(server.url + path)
        # Refused by DEERIn's routes, not answered 200 with the chat page by Chainlit's catch-all.
        assert r.status_code in (403, 404), (path, r.status_code)
        assert b"root:" not in r.content and b"<html" not in r.content.lower(), path


def test_keyframes_only_from_the_index_folder(server: ChatServer, collection: Collection) -> None:
    r = httpx.get(f"{server.url}/keyframes/{collection.keyframe_name}.jpg")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.content == collection.keyframe.read_bytes()
    # The stray frame is recorded in the index but lies outside <db>/keyframes.
    assert httpx.get(f"{server.url}/keyframes/stray.jpg").status_code == 404
    assert httpx.get(f"{server.url}/keyframes/{'0' * 24}_0000.jpg").status_code == 404


def test_chainlit_is_mounted_and_our_routes_win(server: ChatServer, collection: Collection) -> None:
    root = httpx.get(server.url + "/")
    assert root.status_code == 200
    assert "text/html" in root.headers["content-type"]
    assert '<div id="root">' in root.text
    # Any other path is Chainlit's (its catch-all serves the page); ours are not shadowed.
    assert httpx.get(server.url + "/some/chat/page").status_code == 200
    rec = collection.records["his_girl_friday_1940_clip.mp4"]
    r = httpx.get(f"{server.url}/media/{rec.media_id}", headers={"Range": "bytes=0-3"})
    assert r.status_code == 206 and r.headers["content-type"] == "video/mp4"
    # The welcome page is DEERIn's, read from its own app root whatever the cwd.
    settings = httpx.get(server.url + "/project/settings").json()
    assert settings["markdown"] == (REPO / "chainlit.md").read_text()
    assert settings["ui"]["name"] == "DEERIn"
    assert settings["features"]["spontaneous_file_upload"]["enabled"] is False


def test_nothing_is_written_to_the_working_directory(server: ChatServer) -> None:
    assert sorted(p.name for p in server.cwd.iterdir()) == ["cache", "server.log"]
    root = server.cwd / "cache" / "deerin" / "chainlit"
    assert (root / "chainlit.md").read_text() == (REPO / "chainlit.md").read_text()
    assert (root / ".chainlit" / "config.toml").is_file()


def test_packaged_welcome_page_is_the_repo_one() -> None:
    assert (REPO / "deerin" / "chainlit.md").read_text() == (REPO / "chainlit.md").read_text()


# --- authentication ----------------------------------------------------------------------------


def test_media_needs_the_same_login_as_the_chat(guarded: ChatServer,
                                                collection: Collection) -> None:
    rec = collection.records["gwb_columbia_address_2003.ogg"]
    url = f"{guarded.url}/media/{rec.media_id}"
    ranged = {"Range": "bytes=0-99"}
    r = httpx.get(url, headers=ranged)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(url, headers={**ranged, **basic(USER, "wrong")}).status_code == 401
    # Unknown ids and unmatched paths answer 401 too: nothing to learn without a login.
    assert httpx.get(f"{guarded.url}/media/{'0' * 24}").status_code == 401
    assert httpx.get(f"{guarded.url}/media/a/b/c").status_code == 401
    assert httpx.get(f"{guarded.url}/keyframes/{collection.keyframe_name}.jpg"
                     ).status_code == 401
    r = httpx.get(url, headers={**ranged, **basic(USER, PASSWORD)})
    assert r.status_code == 206 and len(r.content) == 100
    # This server made its signing key at start-up: a token says it lapses with a restart.
    token = httpx.post(f"{guarded.url}/api/token", headers=basic(USER, PASSWORD)).json()
    assert "CHAINLIT_AUTH_SECRET" in token["note"]
    bearer = {"Authorization": f"Bearer {token['access_token']}", **ranged}
    assert httpx.get(url, headers=bearer).status_code == 206

    # Chainlit's login page is on, and its session cookie opens the media routes too.
    config = httpx.get(guarded.url + "/auth/config").json()
    assert config["requireLogin"] and config["passwordAuth"]
    with httpx.Client(base_url=guarded.url) as browser:
        bad = browser.post("/login", data={"username": USER, "password": "nope"})
        assert bad.status_code == 401
        ok = browser.post("/login", data={"username": USER, "password": PASSWORD})
        assert ok.status_code == 200, ok.text
        assert browser.cookies.get("access_token")
        r = browser.get(f"/media/{rec.media_id}", headers=ranged)
        assert r.status_code == 206
        assert r.content == Path(rec.path).read_bytes()[:100]
        kf = browser.get(f"/keyframes/{collection.keyframe_name}.jpg")
        assert kf.status_code == 200


async def _chat_start_messages(url: str) -> list[str]:
    """What a new chat shows first, over Chainlit's socket.io protocol (as the web client)."""
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    messages: list[str] = []
    ended = asyncio.Event()
    began = asyncio.Event()

    @client.on("new_message")
    async def new_message(step: dict[str, object]) -> None:
        if step.get("type") == "assistant_message":  # not the steps Chainlit wraps handlers in
            messages.append(str(step.get("output") or ""))

    @client.on("task_start")
    async def task_start(*_: object) -> None:
        began.set()

    @client.on("task_end")
    async def task_end(*_: object) -> None:
        if began.is_set():
            ended.set()

    await connect_webapp(client, url)
    try:
        await asyncio.wait_for(ended.wait(), 60)
    finally:
        await client.disconnect()
    return messages


def test_missing_index_opens_a_chat_that_explains(tmp_path: Path) -> None:
    missing = tmp_path / "no-index-here"
    srv = start_chat(missing, tmp_path / "work")
    try:
        srv.wait_ready()
        messages = asyncio.run(_chat_start_messages(srv.url))
        assert len(messages) == 1, messages
        assert "There is no DEERIn index" in messages[0]
        assert f"deerin index /path/to/footage --db {missing}" in messages[0]
        # Nothing is suggested for an empty collection, and no index was created by asking.
        assert httpx.get(srv.url + "/project/settings").json()["starters"] == []
        # The API says the same: nothing listed; what needs an index is unavailable, in JSON.
        assert httpx.get(srv.url + "/api/files").json()["total"] == 0
        for r in (httpx.get(srv.url + "/api/search", params={"q": "anything"}),
                  httpx.post(srv.url + "/api/ask", json={"question": "anything?"}),
                  httpx.get(srv.url + "/api/clips/" + "0" * 20)):
            assert r.status_code == 503 and "no DEERIn index" in r.json()["error"]["message"]
        assert not missing.exists()
    finally:
        srv.stop()


def test_open_server_needs_no_login(server: ChatServer) -> None:
    config = httpx.get(server.url + "/auth/config").json()
    assert not config["requireLogin"]


def test_exposed_without_auth_warns_loudly(collection: Collection, tmp_path: Path) -> None:
    exposed = start_chat(collection.db, tmp_path / "exposed", host="0.0.0.0")
    try:
        exposed.wait_ready()
        out = exposed.output()
        assert "WARNING" in out and "WITHOUT AUTHENTICATION" in out and "DEERIN_AUTH" in out
    finally:
        exposed.stop()


def test_malformed_auth_is_a_usage_error(collection: Collection, tmp_path: Path) -> None:
    env = {**os.environ, "DEERIN_AUTH": "just-a-name", "XDG_CACHE_HOME": str(tmp_path)}
    done = subprocess.run([str(DEERIN), "chat", "--db", str(collection.db), "--port",
                           str(free_port())], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert "DEERIN_AUTH" in done.stderr
    assert "just-a-name" not in done.stderr


# --- helpers of the chat module ----------------------------------------------------------------


def test_short_names() -> None:
    assert short_name("gwb_columbia_address_2003.ogg") == "gwb_columbia…"
    assert short_name("jfk_inaugural_1961.flac") == "jfk_inaugural_1961.flac"
    assert short_name("lewin_physicsworks_lecture_audio.webm") == "lewin_physicsworks…"
    assert short_name("averyveryverylongnamewithoutbreaks.mp4") == "averyveryverylongn…"


def test_titles_and_suggested_questions() -> None:
    assert title_of("lewin_physicsworks_lecture_audio.webm") == "lewin physicsworks lecture"
    assert title_of("popeye_sinbad_1936_part3.mkv") == "popeye sinbad 1936"
    lecture = MediaRecord("a" * 24, "/m/lewin_physicsworks_lecture_audio.webm", 203.0, 1, 1,
                          True, False, 3, 0, 0.0)
    speech = MediaRecord("b" * 24, "/m/gwb_columbia_address_2003.ogg", 198.0, 1, 1, True,
                         False, 2, 0, 0.0)
    texts = {
        lecture.media_id: ["the conservation of mechanical energy", "potential energy becomes "
                           "kinetic energy", "energy again, and the pendulum"],
        # "energy" is said here too, so it is less particular to the lecture, but still its word.
        speech.media_id: ["the shuttle Columbia is lost", "the crew of the shuttle Columbia",
                          "Columbia carried energy"],
    }
    found = suggest_questions([lecture, speech], texts)
    assert found == [
        ("Energy — lewin physicsworks lecture",
         "What is said about energy in lewin physicsworks lecture?"),
        ("Columbia — gwb columbia address 2003",
         "What is said about columbia in gwb columbia address 2003?"),
    ]


# --- the chat's text ---------------------------------------------------------------------------


def _clip(language: str | None, start: float = 9.0, end: float = 17.0) -> Clip:
    return Clip("c" * 24, "/m/gwb_columbia_address_2003.ogg", ClipKind.SPEECH, start, end,
                "Mission Control in Houston lost contact with the shuttle Columbia.",
                language=language)


def test_sources_and_retrieved_clips_show_the_language() -> None:
    german = _clip("de")
    answer = Answer("Wer?", "Wer?", "Houston lost contact [1].", False,
                    (Citation(1, german, 0.8),), (Hit(german, 0.8, ("fts",)),))
    text = answer_markdown(answer)
    assert "- **[1]** gwb\\_columbia… @ 00:09–00:17 (de) — “Mission Control" in text
    table = hits_table((Hit(german, 0.8, ("fts", "vector")), Hit(_clip(None), 0.5)))
    lines = table.splitlines()
    assert lines[0] == "| # | clip | kind | language | score | found by | words |"
    assert lines[2].startswith("| 1 | gwb\\_columbia… @ 00:09–00:17 | speech | de | 0.800 |")
    assert lines[3].startswith("| 2 | gwb\\_columbia… @ 00:09–00:17 | speech | - | 0.500 | - |")


def test_no_language_column_when_no_clip_knows_its_language() -> None:
    plain = _clip(None)
    table = hits_table((Hit(plain, 0.8, ("fts",)),))
    assert table.splitlines()[0] == "| # | clip | kind | score | found by | words |"
    answer = Answer("q", "q", "Houston [1].", False, (Citation(1, plain, 0.8),), ())
    assert "00:09–00:17 — “Mission" in answer_markdown(answer)


def test_sources_and_players_name_the_cited_seconds() -> None:
    clip = _clip(None, 9.0, 27.0)
    narrowed = Citation(1, clip, 0.8, start=12.5, end=15.0)
    assert citation_label(narrowed) == "gwb_columbia… @ 00:12–00:15"
    assert citation_label(Citation(1, clip, 0.8)) == "gwb_columbia… @ 00:09–00:27"
    answer = Answer("q", "q", "Houston [1].", False, (narrowed,), ())
    assert "**[1]** gwb\\_columbia… @ 00:12–00:15 — “Mission" in answer_markdown(answer)
