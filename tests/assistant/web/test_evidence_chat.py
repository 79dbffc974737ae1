"""Evidence lists in the chat and the HTTP API: a question asking for every moment or recording
that names something is answered with the knowledge graph's whole list, paged, every moment a
link that plays it (assistant/web/evidence_view.py, graph_view.py, graph_chat.py, api.py).

A real index of transcript clips (tests/support/graph.py: the Columbia address, JFK's line, two
Popeye films' subtitles; real LanceDB, MiniLM, spaCy) with its graph. The Chainlit-free parts
are tested in this process; the chat itself in `deerin chat` started for real, spoken to over
Chainlit's socket.io protocol as the web client does, its "More" button pressed through
Chainlit's action route (seconds: no LLM is loaded anywhere, a list is not an LLM answer).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.graph.evidence import EvidenceList, Moment
from assistant.web.evidence_view import EvidencePage, evidence_markdown, evidence_page, more_label
from indexing.graph.extract import EntityExtractor
from indexing.graph.networkx_store import NetworkxGraphStore
from indexing.graph.sync import update
from indexing.graph.types import Entity
from tests.support import REPO
from tests.support.chat import serving, start_chat
from tests.support.graph import NAMES, build_store

RECORDINGS = "Which recordings mention Sinbad?"
MOMENTS = "Every moment where Columbia is named"
PART1, PART2 = "popeye_sinbad_1936_part1.mkv", "popeye_sinbad_1936_part2.mkv"
LINE = re.compile(r"^- \*\*\[(?P<n>\d+)\]\*\* \[(?P<label>[^\]]+(?:\\\][^\]]*)*)\]"
                  r"\((?P<url>/media/(?P<id>[0-9a-f]+)/[^#)]+#t=(?P<start>[0-9.]+),"
                  r"(?P<end>[0-9.]+))\)")


@pytest.fixture(scope="module")
def evidence_db(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Path:
    db = tmp_path_factory.mktemp("evidence-db")
    update(build_store(db, media_dir, NAMES), NetworkxGraphStore(db), EntityExtractor())
    return db


@pytest.fixture(scope="module")
def service(evidence_db: Path) -> Any:
    from assistant.web.chat_service import ChatService
    from indexing.settings import Settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DEERIN_RERANK", "off")  # no model the list needs
        return ChatService(Settings.from_env({}, db_dir=evidence_db))


@pytest.fixture(scope="module")
def clips(evidence_db: Path) -> dict[str, Any]:
    from indexing.stores.lance import LanceStore

    store = LanceStore(evidence_db, create=False)
    return {c.clip_id: c for m in store.media() for c in store.clips_of(m.media_id)}


def lines(text: str) -> list[re.Match[str]]:
    return [m for m in map(LINE.match, text.splitlines()) if m]


def test_a_list_of_recordings_is_counted_paged_and_plays(service: Any,
                                                         clips: dict[str, Any]) -> None:
    from assistant.web.graph_view import ChatGraph

    graph = ChatGraph(service, env={})
    first = graph.evidence_page(RECORDINGS, 1, size=4)
    assert first is not None and first.found.unit == "recording"
    assert first.found.count == 6 and first.pages == 2 and first.next == 2
    text = evidence_markdown(first)
    assert text.startswith("Sinbad is named at 6 moments in 2 recordings.")
    # The recordings, each with its count and a link to its first moment...
    recordings = text.split("**Recordings**")[1].split("**Moments")[0]
    for name in (PART1, PART2):
        escaped = name.replace("_", "\\_")
        assert re.search(rf"- \[{re.escape(escaped)}\]\(/media/[0-9a-f]+/{name}#t=[0-9.,]+\) "
                         r"— 3 moments", recordings), recordings
    # ...then the first page of moments, numbered, each a link playing the words.
    assert "**Moments 1–4 of 6** (page 1 of 2)" in text
    shown = lines(text)
    assert [int(m["n"]) for m in shown] == [1, 2, 3, 4]
    for m, s in zip(shown, first.moments, strict=True):
        clip = clips[s.moment.clip_id]
        assert m["id"] == clip.media_id and m["url"] == s.url
        assert clip.start - 0.01 <= float(m["start"]) < float(m["end"]) <= clip.end + 0.01
        assert "Sinbad" in clip.text[_word_span(clip, float(m["start"]))]
        assert Path(clip.media_path).name.replace("_", "\\_") in m["label"]  # the whole name
        assert m.string.endswith(" — “Sinbad”")  # the name as said
    assert more_label(first) == "More (5–6 of 6)"

    second = graph.evidence_page(RECORDINGS, 2, size=4)
    assert second is not None and second.next is None
    text = evidence_markdown(second)
    assert text.startswith("**Sinbad: moments 5–6 of 6** (page 2 of 2)")
    assert "Recordings" not in text and [int(m["n"]) for m in lines(text)] == [5, 6]
    past = graph.evidence_page(RECORDINGS, 3, size=4)
    assert past is not None and evidence_markdown(past) == \
        "No more moments: the list has 6 moments on 2 pages."

    whole = graph.evidence_page(RECORDINGS)  # the chat's page: twenty moments
    assert whole is not None and whole.next is None and len(whole.moments) == 6
    assert "(page" not in evidence_markdown(whole)


def _word_span(clip: Any, start: float) -> slice:
    """The characters of ``clip``'s timed piece that starts at ``start`` seconds."""
    piece = min(clip.times, key=lambda t: abs(t.start - start))
    return slice(piece.char_start, piece.char_end)


def test_a_list_of_moments_names_what_is_said(service: Any) -> None:
    from assistant.web.graph_view import ChatGraph

    page = ChatGraph(service, env={}).evidence_page(MOMENTS)
    assert page is not None and page.found.unit == "moment" and not page.files
    text = evidence_markdown(page)
    assert text.splitlines()[0] == "Space Shuttle Columbia is named at 3 moments in 1 recording."
    assert "**Moments 1–3 of 3**" in text and "Recordings" not in text
    assert len(lines(text)) == 3 and text.count("“Columbia”") == 2
    assert "gwb\\_columbia\\_address\\_2003.ogg @ 02:55–03:01" in text


def test_other_questions_and_the_settings_get_the_ordinary_answer(
        service: Any, tmp_path: Path) -> None:
    from assistant.web.chat_service import ChatService
    from assistant.web.graph_view import ChatGraph, chat_graph, evidence_lists_on
    from indexing.settings import Settings

    graph = ChatGraph(service, env={})
    assert graph.evidence("What happened to the space shuttle Columbia?") is None  # one answer
    assert graph.evidence("Which astronauts were on board?") is None  # people, not places
    assert graph.evidence("Which recordings mention Nicaragua?") is None  # not in the graph
    assert graph.evidence_page("Which recordings mention Nicaragua?") is None
    assert graph.evidence("   ") is None
    assert evidence_lists_on({}) and not evidence_lists_on({"DEERIN_EVIDENCE_LISTS": "no"})
    for off in ({"DEERIN_EVIDENCE_LISTS": "no"}, {"DEERIN_GRAPH": "off"}):
        assert ChatGraph(service, env=off).evidence(RECORDINGS) is None, off
    # No index at all: no list, no error (the ordinary answer says how to index).
    missing = ChatService(Settings.from_env({}, db_dir=tmp_path / "none"))
    assert ChatGraph(missing, env={}).evidence(RECORDINGS) is None
    # One graph view per service, shared by the chat's handlers and the API.
    assert chat_graph(service) is chat_graph(service)
    assert chat_graph(missing) is not chat_graph(service)


def test_a_failing_graph_falls_back_to_the_ordinary_answer(
        service: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.web.graph_view import ChatGraph

    graph = ChatGraph(service, env={})

    def broken(*_: object) -> None:
        raise RuntimeError("the graph is broken")

    monkeypatch.setattr(graph, "_find", broken)
    with caplog.at_level(logging.ERROR, logger="deerin.chat"):
        assert graph.evidence(RECORDINGS) is None
        assert graph.evidence_page(RECORDINGS) is None
    assert "answering as usual" in caplog.text and "the graph is broken" in caplog.text
    caplog.clear()
    monkeypatch.undo()
    monkeypatch.setattr(graph, "clip", broken)  # the index fails while a page is made
    with caplog.at_level(logging.ERROR, logger="deerin.chat"):
        assert graph.evidence(RECORDINGS) is not None
        assert graph.evidence_page(RECORDINGS) is None
    assert "page 1 of the evidence list" in caplog.text


def test_markdown_escapes_names_and_links_only_what_plays() -> None:
    entity = Entity(key="a*b", name="A*B [x]", label="PERSON", aliases=(), mentions=())
    moments = tuple(Moment(f"c{i}", "/m/odd_[name]*.mp4", 10.0 * i, 10.0 * i + 5, 0, 0,
                           ("A*B",)) for i in range(1, 4))
    found = EvidenceList((entity,), moments, "recording")

    def url_of(clip: Any, start: float, end: float) -> str:
        return f"/media/ab12/odd%5Bname%5D%2A.mp4#t={start:g},{end:g}"

    class FakeClip:
        media_id = "ab12"

    page: EvidencePage = evidence_page(
        "q", found, 1, lambda cid: None if cid == "c2" else FakeClip(),  # type: ignore[arg-type,return-value]
        url_of, size=2)
    text = evidence_markdown(page, {"ab12": "A *title*"})
    assert text.startswith("A\\*B \\[x\\] is named at 3 moments in 1 recording.")
    assert "- [A \\*title\\* — odd\\_\\[name\\]\\*.mp4](/media/ab12/" in text
    assert "- **[1]** [odd\\_\\[name\\]\\*.mp4 @ 00:10–00:15](/media/ab12/odd%5Bname%5D%2A.mp4" \
           "#t=10,15) — “A\\*B”" in text
    # A clip gone from the index since the graph was built: listed, not linked.
    assert "- **[2]** odd\\_\\[name\\]\\*.mp4 @ 00:20–00:25 — “A\\*B”" in text
    assert page.moments[1].url is None and page.next == 2


def test_the_api_answers_with_the_whole_list(service: Any) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from assistant.web.api import _evidence_answer, api_router
    from assistant.web.api_ask import AskGate
    from assistant.web.auth import AuthConfig
    from assistant.web.media import media_router

    app = FastAPI()
    app.include_router(api_router(service, AuthConfig(), AskGate(1, 0)))
    app.include_router(media_router(service.resolve_media))
    client = TestClient(app)
    with client.stream("POST", "/api/ask", json={"question": RECORDINGS}) as r:
        assert r.status_code == 200
        events = _events(r.read().decode())
    assert [name for name, _ in events] == ["answer", "done"]
    answer = events[0][1]
    assert answer["text"] == "Sinbad is named at 6 moments in 2 recordings."
    assert not answer["refused"] and answer["citations"] == [] and "evidence" in answer["timings"]
    listed = answer["evidence"]
    assert listed["unit"] == "recording" and listed["count"] == 6
    assert listed["names"] == ["Sinbad"]
    assert [(Path(f["media"]).name, f["moments"]) for f in listed["files"]] == \
        [(PART1, 3), (PART2, 3)]
    for m in listed["moments"]:
        assert m["url"].startswith("http://testserver/media/") and "#t=" in m["url"]
        start, end = map(float, m["url"].split("#t=")[1].split(","))
        assert abs(start - m["start"]) < 0.01 and abs(end - m["end"]) < 0.01
        assert m["clip_start"] - 0.01 <= start < end <= m["clip_end"] + 0.01
        assert "Sinbad" in m["names"]
    # The links play: the media route serves the file's bytes.
    played = client.get(listed["moments"][0]["url"].split("#")[0], headers={"Range": "bytes=0-99"})
    assert played.status_code == 206 and len(played.content) == 100
    # Any other question is not a list (and would go on to the LLM's answer).
    assert _evidence_answer(service, "What happened to Columbia?", "") is None


def test_an_openai_client_gets_the_list_as_links_and_data(service: Any) -> None:
    """``/v1/chat/completions``: the count, the recordings and the first page as Markdown
    links that play, the whole list in ``evidence``; streamed the same."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from assistant.web.api_ask import AskGate
    from assistant.web.media import media_router
    from assistant.web.openai_compat import openai_router

    app = FastAPI()
    app.include_router(openai_router(service, AskGate(1, 0)))
    app.include_router(media_router(service.resolve_media))
    client = TestClient(app)
    body = {"model": "deerin", "messages": [{"role": "user", "content": RECORDINGS}]}
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    reply = r.json()
    text = reply["choices"][0]["message"]["content"]
    assert text.startswith("Sinbad is named at 6 moments in 2 recordings.")
    assert "**Recordings**" in text and f"{PART1}" in text and f"{PART2}" in text
    links = re.findall(r"\]\((http://testserver/media/[^)#]+#t=([0-9.]+),([0-9.]+))\)", text)
    listed = reply["evidence"]
    assert listed["count"] == 6 and len(listed["moments"]) == 6
    # Each moment's link in the text is the one in the data, and it plays.
    assert {m["url"] for m in listed["moments"]} <= {url for url, _, _ in links}
    assert client.get(links[0][0].split("#")[0], headers={"Range": "bytes=0-9"}).status_code == 206
    assert reply["citations"] == [] and reply["choices"][0]["finish_reason"] == "stop"

    with client.stream("POST", "/v1/chat/completions",
                       json={**body, "stream": True,
                             "stream_options": {"include_usage": True}}) as r:
        chunks = [json.loads(line[6:]) for line in r.read().decode().splitlines()
                  if line.startswith("data: {")]
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks
                       if c["choices"])
    assert streamed == text
    last = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
    assert last["evidence"] == listed and chunks[-1]["usage"]["completion_tokens"] == 0


def test_an_openai_reply_says_where_the_rest_of_a_long_list_is(
        service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.web.evidence_view as view
    from assistant.web.openai_compat import _listed

    monkeypatch.setattr(view.evidence_page, "__defaults__", (2,))  # pages of two moments
    listed = _listed(service, RECORDINGS, "http://archive.example")
    assert listed is not None
    text, evidence = listed
    assert len(re.findall(r"^- \*\*\[\d\]\*\* \[", text, re.M)) == 2, text
    assert text.endswith("… and 4 more moments: the whole list is this reply's `evidence` "
                         "data, and pages through in DEERIn's chat.")
    assert len(evidence["moments"]) == 6
    assert _listed(service, "What happened to Columbia?", "") is None


def _events(body: str) -> list[tuple[str, Any]]:
    out = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            out.append((fields.get("event", ""), json.loads(fields["data"])))
    return out


# -- the chat, end to end -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chat_url(evidence_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Pages of two moments, so that six have a "More": the server imports this shim first.
    shim = tmp_path_factory.mktemp("page-shim")
    (shim / "sitecustomize.py").write_text("import assistant.graph.evidence as e\ne.PAGE = 2\n")
    server = start_chat(evidence_db, tmp_path_factory.mktemp("evidence-chat"), extra_env={
        "PYTHONPATH": f"{shim}:{REPO}", "DEERIN_LLM": "llamacpp:/nonexistent/model.gguf",
        "DEERIN_RERANK": "off"})
    with serving(server) as url:
        yield url


def test_the_chat_shows_the_list_with_players_and_more(chat_url: str) -> None:
    import socketio

    async def run() -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
        client = socketio.AsyncClient(reconnection=False)
        messages: list[str] = []
        elements: list[dict[str, Any]] = []
        actions: list[dict[str, Any]] = []
        ended = asyncio.Queue[None]()

        @client.on("task_end")
        async def task_end(*_: Any) -> None:
            ended.put_nowait(None)

        @client.on("new_message")
        async def new_message(step: dict[str, Any]) -> None:
            if step.get("type") == "assistant_message":
                messages.append(step.get("output") or "")

        @client.on("element")
        async def element(el: dict[str, Any]) -> None:
            elements.append(el)

        @client.on("action")
        async def action(a: dict[str, Any]) -> None:
            actions.append(a)

        session = str(uuid.uuid4())
        await client.connect(chat_url, socketio_path="/ws/socket.io", transports=["websocket"],
                             auth={"clientType": "webapp", "sessionId": session, "threadId": "",
                                   "userEnv": "{}", "chatProfile": ""}, wait_timeout=30)
        try:
            await client.emit("connection_successful")
            await asyncio.wait_for(ended.get(), 120)  # the chat started (a bare task_end)
            while not ended.empty():
                ended.get_nowait()
            await client.emit("client_message", {"message": {
                "id": str(uuid.uuid4()), "threadId": "", "name": "User", "type": "user_message",
                "output": RECORDINGS, "createdAt": datetime.now(UTC).isoformat()},
                "fileReferences": []})
            deadline = asyncio.get_running_loop().time() + 300
            while not any("moments 1–2" in m.lower() for m in messages) or not actions:
                await asyncio.wait_for(ended.get(), deadline - asyncio.get_running_loop().time())
            more = next(a for a in actions if a["name"] == "deerin_evidence_more")
            async with httpx.AsyncClient(base_url=chat_url, timeout=120) as http:
                r = await http.post("/project/action", json={"action": more,
                                                             "sessionId": session})
                assert r.status_code == 200, r.text
                for _ in range(100):
                    if any("moments 3–4" in m for m in messages):
                        break
                    await asyncio.sleep(0.2)
                played = await http.get(elements[0]["url"].split("#")[0],
                                        headers={"Range": "bytes=0-99"})
                assert played.status_code == 206
        finally:
            await client.disconnect()
        return messages, elements, actions

    messages, elements, actions = asyncio.run(run())
    first = next(m for m in messages if "is named at" in m)
    assert first.startswith("Sinbad is named at 6 moments in 2 recordings."), messages
    assert "**Recordings**" in first and "**Moments 1–2 of 6** (page 1 of 3)" in first
    shown = lines(first)
    assert [int(m["n"]) for m in shown] == [1, 2]
    assert all(PART1.replace("_", "\\_") in m["label"] for m in shown)
    players = [e for e in elements if e.get("type") in {"audio", "video"}]
    assert players and all("/media/" in p["url"] and "#t=" in p["url"] for p in players)
    assert {p["url"] for p in players[:2]} == {m["url"] for m in shown}
    assert not any("The answer failed" in m for m in messages)
    second = next(m for m in messages if "moments 3–4" in m)
    assert second.startswith("**Sinbad: moments 3–4 of 6** (page 2 of 3)")
    assert [int(m["n"]) for m in lines(second)] == [3, 4]
    assert [a["payload"]["page"] for a in actions if a["name"] == "deerin_evidence_more"] == \
        [2, 3]
