"""The HTTP API through a real client: `deerin chat` started for real on loopback over a real
index (the session's chat index: a lecture, a speech and a subtitled film clip, built by
`deerin index`), spoken to with httpx and, for server-sent events, httpx-sse.

The open server answers with the shipped `fast` tier (the stream's shape is what is tested, and
a grounded answer with a citation is what the 0.5B model gives for the lecture question); the
guarded one has an account and answers with `tiny` (see conftest.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from indexing.media import file_hash
from indexing.stores.lance import LanceStore
from tests.support.api import PASSWORD, USER, assert_error, basic
from tests.support.chat import CHAT_INDEXED, serving, start_chat

QUESTION = "How many joules does the lecturer say are enough to kill you?"
API_PATHS = {"/api/files", "/api/files/{media_id}", "/api/clips/{clip_id}", "/api/search",
             "/api/ask", "/api/token", "/v1/models", "/v1/chat/completions"}


@pytest.fixture
def index_db(api_index: Path) -> Path:
    return api_index


@pytest.fixture
def guarded(guarded_api: httpx.Client) -> httpx.Client:
    return guarded_api


def ask_events(client: httpx.Client, body: dict[str, Any]) -> list[tuple[str, Any, float]]:
    """Every event of one ``POST /api/ask`` as (name, data, seconds since the request)."""
    t0 = time.perf_counter()
    out = []
    with connect_sse(client, "POST", "/api/ask", json=body) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        assert source.response.headers["cache-control"] == "no-cache"
        for event in source.iter_sse():
            out.append((event.event, json.loads(event.data), time.perf_counter() - t0))
    return out


# --- the document ----------------------------------------------------------------------------


def test_openapi_document_holds_the_api_only(api: httpx.Client) -> None:
    from openapi_spec_validator import validate

    doc = api.get("/api/openapi.json").json()
    validate(doc)
    assert set(doc["paths"]) == API_PATHS
    ask = doc["paths"]["/api/ask"]["post"]
    assert "text/event-stream" in ask["responses"]["200"]["content"]
    # The errors are documented as they are answered: {"error": {...}}, not FastAPI's detail.
    assert "error" in ask["responses"]["422"]["content"]["application/json"]["schema"][
        "properties"]
    assert "securitySchemes" not in doc.get("components", {})  # no accounts on this server
    page = api.get("/api/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()


def test_guarded_document_names_both_ways_in(guarded: httpx.Client) -> None:
    doc = guarded.get("/api/openapi.json").json()  # open: it shows nothing of the collection
    assert set(doc["components"]["securitySchemes"]) == {"basic", "bearer"}
    assert doc["security"] == [{"basic": []}, {"bearer": []}]


# --- files, clips, search --------------------------------------------------------------------


def test_files_list_the_collection_and_play(api: httpx.Client, index_db: Path) -> None:
    listed = api.get("/api/files").json()
    store = LanceStore(index_db, create=False)
    assert listed["collection"] == "default" and listed["total"] == 3
    assert sorted(f["name"] for f in listed["files"]) == sorted(CHAT_INDEXED)
    assert [f["path"] for f in listed["files"]] == sorted(m.path for m in store.media())
    friday = next(f for f in listed["files"] if f["kind"] == "video")
    assert friday["name"] == "his_girl_friday_1940_clip.mp4" and friday["shots"] == 1
    played = httpx.get(friday["url"], headers={"Range": "bytes=0-99"})
    assert played.status_code == 206 and len(played.content) == 100
    assert api.get(f"/api/files/{friday['media_id']}").json() == friday
    page = api.get("/api/files", params={"offset": 1, "limit": 1}).json()
    assert page["total"] == 3 and [f["media_id"] for f in page["files"]] == [
        listed["files"][1]["media_id"]]
    assert api.get("/api/files", params={"collection": "default"}).status_code == 200


def test_search_finds_playable_clips_and_clip_details(api: httpx.Client) -> None:
    found = api.get("/api/search", params={"q": "joules enough to kill you", "k": 3}).json()
    assert found["query"] == "joules enough to kill you" and len(found["hits"]) == 3
    best = found["hits"][0]
    assert "150 joules" in best["text"] and best["file"] == CHAT_INDEXED[0]
    assert best["url"].endswith(f"#t={best['start']:g},{best['end']:g}")
    assert best["score"] >= found["hits"][1]["score"]
    assert httpx.get(best["url"].split("#")[0], headers={"Range": "bytes=0-9"}
                     ).status_code == 206
    detail = api.get(f"/api/clips/{best['id']}").json()
    assert {k: detail[k] for k in best if k not in ("score", "found_by")} == {
        k: v for k, v in best.items() if k not in ("score", "found_by")}
    words = detail["words"]
    assert words and " ".join(w["text"] for w in words).startswith("150 joules")
    assert all(best["start"] - 0.01 <= w["start"] <= w["end"] <= best["end"] + 0.01
               for w in words)
    subtitles = api.get("/api/search", params={"q": "lord of the universe", "kind": "subtitle",
                                               "rerank": "false"}).json()["hits"]
    assert subtitles and {h["kind"] for h in subtitles} == {"subtitle"}


# --- ask -------------------------------------------------------------------------------------


def test_ask_streams_clips_then_tokens_then_the_checked_answer(api: httpx.Client) -> None:
    ask_events(api, {"question": "warm up the model", "k": 1})  # loads nothing twice below
    events = ask_events(api, {"question": QUESTION})
    names = [name for name, _, _ in events]
    assert names[0] == "clips" and names[-2:] == ["answer", "done"], names
    assert set(names[1:-2]) == {"token"}, names
    clips = events[0][1]["clips"]
    assert clips and all("#t=" in c["url"] for c in clips)
    assert any("150 joules" in c["text"] for c in clips)
    answer = events[-2][1]
    assert not answer["refused"] and "150" in answer["text"], answer
    draft = "".join(data["text"] for name, data, _ in events if name == "token")
    assert draft.strip()
    cited = answer["citations"][0]
    assert f"[{cited['n']}]" in answer["text"]
    assert cited["url"].endswith(f"#t={cited['start']:g},{cited['end']:g}")
    assert cited["clip"]["start"] - 0.01 <= cited["start"] < cited["end"] <= \
        cited["clip"]["end"] + 0.01
    first, first_token = events[0][2], next(t for n, _, t in events if n == "token")
    print(f"ask: clips after {first:.2f} s, first token after {first_token:.2f} s, "
          f"answer after {events[-2][2]:.2f} s")
    assert first < 3.0  # retrieval only: the model has not been asked yet
    assert first_token < 60.0


def test_follow_up_uses_the_history(api: httpx.Client) -> None:
    events = ask_events(api, {"question": "What do they use those devices for?",
                              "history": [{"question": QUESTION,
                                           "answer": "150 joules is enough to kill you [1]."}]})
    answer = events[-2][1]
    assert answer["query"] != answer["question"]  # rewritten to stand alone
    assert events[-1][0] == "done"


def test_an_answer_does_not_hold_up_other_requests(api: httpx.Client) -> None:
    started = threading.Event()
    done: list[list[tuple[str, Any, float]]] = []

    def ask() -> None:
        with connect_sse(api, "POST", "/api/ask", json={"question": QUESTION}) as source:
            events = []
            for event in source.iter_sse():
                events.append((event.event, event.data, 0.0))
                started.set()
            done.append(events)

    worker = threading.Thread(target=ask)
    worker.start()
    assert started.wait(120)
    # While the model writes, the app keeps answering.
    t0 = time.perf_counter()
    assert httpx.get(api.base_url.join("/api/files"), timeout=30).status_code == 200
    waited = time.perf_counter() - t0
    worker.join(300)
    print(f"/api/files during an answer: {waited * 1000:.0f} ms")
    assert waited < 2.0 and done and done[0][-1][0] == "done"


def test_get_ask_serves_event_source(api: httpx.Client) -> None:
    with connect_sse(api, "GET", "/api/ask", params={"question": QUESTION, "k": 2}) as source:
        names = [event.event for event in source.iter_sse()]
    assert names[0] == "clips" and names[-1] == "done"


@pytest.fixture(scope="module")
def narrow(api_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A server that answers one question at once (so four may wait), with the tiny model."""
    server = start_chat(api_index, tmp_path_factory.mktemp("narrow"), args=("--llm", "tiny"),
                        extra_env={"DEERIN_LLM_PARALLEL": "1"})
    with serving(server) as url, httpx.Client(base_url=url, timeout=300) as client:
        yield client


def open_until_refused(client: httpx.Client, stack: ExitStack) -> int:
    """Open answer streams (headers only) until one is refused; return how many were not."""
    for opened in range(12):
        r = stack.enter_context(client.stream("POST", "/api/ask", json={"question": QUESTION}))
        if r.status_code == 429:
            r.read()
            assert_error(r, 429, "too many")
            assert r.headers["retry-after"] == "5"
            return opened
        assert r.status_code == 200
    pytest.fail("twelve answers at once were all accepted")


def test_too_many_answers_are_refused_and_closed_streams_give_their_place_back(
        narrow: httpx.Client) -> None:
    with ExitStack() as stack:
        first = open_until_refused(narrow, stack)
    assert first >= 5  # one answering, four waiting (more if one ended meanwhile)
    # Every stream was dropped mid-answer. Once the server has seen that, a question is
    # answered to the end again...
    deadline = time.monotonic() + 120
    while True:
        with connect_sse(narrow, "POST", "/api/ask", json={"question": QUESTION}) as source:
            if source.response.status_code == 200:
                names = [event.event for event in source.iter_sse()]
                break
        assert time.monotonic() < deadline, "the dropped streams kept their places"
        time.sleep(0.2)  # polled: the server frees a place when it notices the disconnect
    assert names[0] == "clips" and names[-1] == "done"
    # ...and no place stayed taken: as many are let in as the first time.
    with ExitStack() as stack:
        assert open_until_refused(narrow, stack) >= 5


# --- bad requests ----------------------------------------------------------------------------


def test_malformed_requests_get_a_json_4xx(api: httpx.Client, jfk: Path) -> None:
    not_indexed = file_hash(jfk)  # a real file, never indexed: not one the client may see
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", "/api/ask", {"content": b"{not json", "headers": {
            "content-type": "application/json"}}, 400, "JSON"),
        ("POST", "/api/ask", {"json": {}}, 422, "question"),
        ("POST", "/api/ask", {"json": {"question": "   "}}, 422, "empty"),
        ("POST", "/api/ask", {"json": {"question": "x" * 5000}}, 422, "question"),
        ("POST", "/api/ask", {"json": {"question": 42}}, 422, "question"),
        ("POST", "/api/ask", {"json": {"question": "q", "k": 0}}, 422, "k"),
        ("POST", "/api/ask", {"json": {"question": "q", "k": "many"}}, 422, "k"),
        ("POST", "/api/ask", {"json": {"question": "q", "qestion": "typo"}}, 422, "qestion"),
        ("POST", "/api/ask", {"json": {"question": "q", "history": [{"question": "a"}]}}, 422,
         "history"),
        ("POST", "/api/ask", {"json": {"question": "q", "history": [
            {"question": "a", "answer": "b"}] * 50}}, 422, "history"),
        ("POST", "/api/ask", {"json": ["question"]}, 422, "body"),
        ("POST", "/api/ask?collection=other", {"json": {"question": "q"}}, 404, "other"),
        ("GET", "/api/ask", {}, 422, "question"),
        ("GET", "/api/search", {}, 422, "q"),
        ("GET", "/api/search?q=x&k=-1", {}, 422, "k"),
        ("GET", "/api/search?q=x&k=1e9", {}, 422, "k"),
        ("GET", "/api/search?q=x&kind=films", {}, 422, "kind"),
        ("GET", "/api/search?q=x&rerank=perhaps", {}, 422, "rerank"),
        ("GET", "/api/files?limit=0", {}, 422, "limit"),
        ("GET", "/api/files?offset=-3", {}, 422, "offset"),
        ("GET", "/api/files?collection=..%2F..", {}, 404, "collection"),
        ("GET", f"/api/files/{not_indexed}", {}, 404, not_indexed),
        ("GET", "/api/files/..%2F..%2Fetc%2Fpasswd", {}, 404, ""),
        ("GET", "/api/clips/" + "0" * 20, {}, 404, "no clip"),
        ("GET", "/api/clips/not-an-id", {}, 404, "no clip"),
        ("DELETE", "/api/files", {}, 405, "GET"),
        ("GET", "/api/nothing/here", {}, 404, "no such route"),
        ("POST", "/api/token", {"json": {}}, 400, "no accounts"),
        ("POST", "/v1/chat/completions", {"json": {"model": "deerin"}}, 422, "messages"),
        ("POST", "/v1/chat/completions", {"json": {"model": "gpt-4o", "messages": [
            {"role": "user", "content": "hi"}]}}, 404, "gpt-4o"),
        ("POST", "/v1/chat/completions", {"json": {"model": "deerin", "messages": [
            {"role": "assistant", "content": "hi"}]}}, 422, "last message"),
        ("POST", "/v1/chat/completions", {"json": {"model": "deerin", "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}},
         422, "text"),
        ("POST", "/v1/chat/completions", {"json": {"model": "deerin", "n": 3, "messages": [
            {"role": "user", "content": "hi"}]}}, 422, "n"),
        ("POST", "/v1/chat/completions", {"json": {"model": "deerin", "messages": [
            {"role": "wizard", "content": "hi"}]}}, 422, "role"),
        ("GET", "/v1/chat/completions", {}, 405, "POST"),
        ("GET", "/v1/engines", {}, 404, "no such route"),
    ]
    for method, url, kwargs, status, word in cases:
        r = api.request(method, url, **kwargs)
        assert_error(r, status, word)
    # Nothing was lost: the server still answers, and still lists every file.
    assert api.get("/api/files").json()["total"] == 3


def test_every_operation_refuses_wrong_types_with_a_4xx(api: httpx.Client) -> None:
    """Each query parameter of the document, given a value of the wrong type or none at all."""
    doc = api.get("/api/openapi.json").json()
    wrong = {"integer": "twelve", "boolean": "perhaps", "string": ""}
    sent = 0
    for path, operations in doc["paths"].items():
        url = path.replace("{media_id}", "f" * 24).replace("{clip_id}", "f" * 20)
        for method, op in operations.items():
            for param in op.get("parameters", []):
                if param["in"] != "query":
                    continue
                schema = param["schema"].get("anyOf", [param["schema"]])[0]
                value = wrong.get(schema.get("type", "string"), "")
                if schema.get("type") == "string" and not param.get("required"):
                    continue  # an empty optional string is no error
                r = api.request(method.upper(), url, params={param["name"]: value},
                                json={"question": "q"} if method == "post" else None)
                assert 400 <= r.status_code < 500, (method, path, param["name"], r.text)
                assert "error" in r.json()
                sent += 1
    assert sent >= 6


# --- authentication --------------------------------------------------------------------------


def test_api_needs_the_chat_login(guarded: httpx.Client, index_db: Path) -> None:
    for method, url in (("GET", "/api/files"), ("GET", "/api/search?q=x"),
                        ("POST", "/api/ask"), ("GET", "/api/clips/" + "0" * 20),
                        ("GET", "/api/nothing"), ("GET", "/v1/models"),
                        ("POST", "/v1/chat/completions"), ("POST", "/api/token")):
        r = guarded.request(method, url, json={})
        assert_error(r, 401, "authentication")
        assert r.headers["www-authenticate"].startswith("Basic")
    assert guarded.get("/api/files", headers=basic(USER, "wrong")).status_code == 401
    listed = guarded.get("/api/files", headers=basic(USER, PASSWORD))
    assert listed.status_code == 200 and listed.json()["total"] == 3


def test_tokens_open_the_api_iiif_and_media(guarded: httpx.Client) -> None:
    issued = guarded.post("/api/token", headers=basic(USER, PASSWORD), json={"days": 2})
    assert issued.status_code == 200, issued.text
    token = issued.json()
    assert token["user"] == USER and token["token_type"] == "bearer"
    assert token["expires_in"] == 2 * 86400 and token["note"] is None  # the key is set
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    files = guarded.get("/api/files", headers=bearer).json()["files"]
    media = httpx.get(files[0]["url"], headers={**bearer, "Range": "bytes=0-9"})
    assert media.status_code == 206
    manifest = guarded.get("/iiif/default/manifest.json", headers=bearer)
    assert manifest.status_code == 200 and manifest.json()["type"] == "Collection"
    # Only a password issues tokens: a leaked one cannot renew itself. A forged or mangled one
    # opens nothing.
    assert_error(guarded.post("/api/token", headers=bearer), 403, "Basic")
    forged = {"Authorization": "Bearer " + token["access_token"][:-4] + "AAAA"}
    assert guarded.get("/api/files", headers=forged).status_code == 401
    assert guarded.post("/api/token", json={"days": 999},
                        headers=basic(USER, PASSWORD)).status_code == 422


def test_chat_session_cookie_opens_the_api(guarded: httpx.Client) -> None:
    with httpx.Client(base_url=str(guarded.base_url), timeout=60) as browser:
        assert browser.post("/login", data={"username": USER, "password": PASSWORD}
                            ).status_code == 200
        assert browser.get("/api/files").status_code == 200


def test_openai_client_with_a_token(guarded: httpx.Client) -> None:
    from openai import AuthenticationError, OpenAI

    token = guarded.post("/api/token", headers=basic(USER, PASSWORD)).json()["access_token"]
    v1 = str(guarded.base_url).rstrip("/") + "/v1"
    client = OpenAI(base_url=v1, api_key=token, max_retries=0)
    assert [m.id for m in client.models.list()] == ["deerin/default"]
    refused = OpenAI(base_url=v1, api_key="not-a-token", max_retries=0)
    with pytest.raises(AuthenticationError):
        refused.models.list()
