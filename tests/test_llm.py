"""LLM backends: real llama.cpp with the shipped SmolLM2 GGUF, and the Ollama client against a
small stand-in server on loopback (Ollama itself cannot run on this machine)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from assistant.llm import (
    LLM,
    LlamaCppLLM,
    LLMCache,
    LLMError,
    LLMUnavailable,
    OllamaLLM,
    PromptTooLong,
    complete,
    default_llm_spec,
    load_llm,
    normalize_ollama_host,
    parse_llm_spec,
    shipped_gguf,
)
from prompts import load_prompt, placeholders, render

COLOURS = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture(scope="module")
def cache() -> LLMCache:
    return LLMCache()


@pytest.fixture(scope="module")
def smollm(cache: LLMCache) -> LLM:
    """The shipped SmolLM2-135M, loaded once for the whole module."""
    return load_llm(None, cache=cache)


# --- llama.cpp, the real shipped model ---------------------------------------------------------


def test_streaming_yields_several_non_empty_deltas(smollm: LLM) -> None:
    deltas = list(smollm.stream(COLOURS, max_tokens=24))
    assert len(deltas) >= 3
    assert all(isinstance(d, str) and d for d in deltas)
    assert "".join(deltas).strip()


def test_stop_sequence_is_honoured(smollm: LLM) -> None:
    # Greedy decoding is deterministic, so the reply without a stop string tells us what the model
    # will say; a word from its middle then becomes the stop string.
    full = complete(smollm, COLOURS, max_tokens=32, temperature=0.0)
    words = full.split()
    assert len(words) >= 6, full
    stop = words[len(words) // 2]
    cut = full[: full.index(stop)]
    stopped = "".join(smollm.stream(COLOURS, max_tokens=32, temperature=0.0, stop=[stop]))
    assert stopped == cut
    assert stop not in stopped


def test_complete_matches_stream_and_is_repeatable(smollm: LLM) -> None:
    """The same messages give the same reply whatever was asked in between."""
    assert isinstance(smollm, LlamaCppLLM)
    first = smollm.complete(COLOURS, max_tokens=12, temperature=0.0)
    assert first == "".join(smollm.stream(COLOURS, max_tokens=12, temperature=0.0))
    smollm.complete([{"role": "user", "content": "Say hello."}], max_tokens=4)
    assert smollm.complete(COLOURS, max_tokens=12, temperature=0.0) == first


def test_abandoned_stream_frees_the_model(smollm: LLM) -> None:
    stream = smollm.stream(COLOURS, max_tokens=32)
    assert next(stream)
    stream.close()  # what a chat session does when its user stops the answer
    done = threading.Event()

    def ask() -> None:
        complete(smollm, COLOURS, max_tokens=4)
        done.set()

    threading.Thread(target=ask, daemon=True).start()
    assert done.wait(timeout=60), "the model stayed locked after the stream was closed"


def test_concurrent_sessions_are_serialised(smollm: LLM) -> None:
    """Two chat sessions streaming at once get the same replies as one after the other."""
    prompts = [COLOURS, [{"role": "user", "content": "What is the capital of France?"}]]
    expected = [complete(smollm, p, max_tokens=12, temperature=0.0) for p in prompts]
    results: dict[int, str] = {}

    def run(i: int) -> None:
        results[i] = complete(smollm, prompts[i], max_tokens=12, temperature=0.0)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [results.get(0), results.get(1)] == expected


def test_prompt_longer_than_the_context_is_named() -> None:
    small = LlamaCppLLM(shipped_gguf(), n_ctx=128, threads=1)
    long_text = "The shuttle crew trained for years. " * 60
    with pytest.raises(PromptTooLong, match="context window"):
        list(small.stream([{"role": "user", "content": long_text}], max_tokens=4))


# --- specs and the cache ------------------------------------------------------------------------


def test_default_specs_load_the_shipped_model_once(smollm: LLM, cache: LLMCache) -> None:
    assert "SmolLM2-135M" in smollm.model_id
    gguf = shipped_gguf()
    for spec in (None, "", "default", "llamacpp", f"llamacpp:{gguf}", str(gguf)):
        assert load_llm(spec, cache=cache) is smollm, spec
    assert len(cache) == 1


def test_missing_gguf_is_named() -> None:
    with pytest.raises(LLMUnavailable, match=r"not found: .*missing\.gguf"):
        load_llm("llamacpp:missing.gguf")


@pytest.mark.parametrize(
    ("spec", "message"),
    [("gpt4", "unknown LLM spec"), ("ollama", "needs a model"), ("ollama:", "names no ollama")],
)
def test_bad_specs_explain_the_syntax(spec: str, message: str) -> None:
    with pytest.raises(LLMUnavailable, match=message):
        load_llm(spec)


def test_parse_llm_spec() -> None:
    assert parse_llm_spec(None) == ("llamacpp", None)
    assert parse_llm_spec("ollama:llama3.2:1b") == ("ollama", "llama3.2:1b")
    assert parse_llm_spec("LLAMACPP:/m/x.gguf") == ("llamacpp", "/m/x.gguf")


def test_default_llm_spec() -> None:
    assert default_llm_spec({}) == "llamacpp"
    assert default_llm_spec({"DEERIN_LLM": "ollama:qwen2.5"}) == "ollama:qwen2.5"
    assert default_llm_spec({"DEERIN_LLM": "ollama"}) == "ollama:llama3.2"
    assert default_llm_spec({"DEERIN_LLM": " "}) == "llamacpp"


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("", "http://localhost:11434"),
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("127.0.0.1:9", "http://127.0.0.1:9"),
        (":11500", "http://127.0.0.1:11500"),
        ("http://ollama:11434/", "http://ollama:11434"),
        ("https://llm.example.org", "https://llm.example.org"),
        ("[::1]", "http://[::1]:11434"),
    ],
)
def test_ollama_host_forms(value: str, url: str) -> None:
    assert normalize_ollama_host(value) == url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_ollama_names_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    with pytest.raises(LLMUnavailable, match=r"reachable at http://127\.0\.0\.1:9: .*ollama serve"):
        load_llm("ollama:foo")


def test_unreachable_ollama_while_streaming() -> None:
    llm = OllamaLLM("foo", host=f"127.0.0.1:{_closed_port()}")
    with pytest.raises(LLMUnavailable, match="not reachable"):
        list(llm.stream(COLOURS))


# --- Ollama client against a stand-in server ----------------------------------------------------


class _StandIn(BaseHTTPRequestHandler):
    """A stand-in for the Ollama server, which cannot run here: it speaks just enough of
    /api/tags and /api/chat (streamed NDJSON, 404 for an unknown model) for the client."""

    models: ClassVar[list[str]] = ["tiny:latest", "llama3.2:1b"]
    pieces: ClassVar[list[str]] = ["Columbia", " was", " lost", " [1]", "."]
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/api/tags":
            self._json(200, {"models": [{"name": m, "model": m} for m in self.models]})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(body)
        if self.path != "/api/chat":
            self._json(404, {"error": "not found"})
            return
        name = body["model"] if ":" in body["model"] else body["model"] + ":latest"
        if name not in self.models:
            self._json(404, {"error": f"model '{body['model']}' not found"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        if body["messages"][-1]["content"] == "fail":
            lines = [{"error": "out of memory"}]
        else:
            lines = [
                {"model": body["model"], "message": {"role": "assistant", "content": p},
                 "done": False}
                for p in self.pieces
            ]
            lines.append({"model": body["model"], "message": {"role": "assistant", "content": ""},
                          "done": True, "done_reason": "stop"})
        for line in lines:
            self.wfile.write(json.dumps(line).encode() + b"\n")
            self.wfile.flush()


@pytest.fixture(scope="module")
def stand_in() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_ollama_streams_ndjson_deltas(stand_in: str) -> None:
    llm = load_llm("ollama:tiny", env={"OLLAMA_HOST": stand_in})
    assert llm.model_id == "ollama:tiny"
    msgs = [{"role": "system", "content": "Cite."}, {"role": "user", "content": "What happened?"}]
    deltas = list(llm.stream(msgs, max_tokens=50, temperature=0.2, stop=["\n\n"]))
    assert deltas == _StandIn.pieces
    sent = _StandIn.requests[-1]
    assert sent["stream"] is True
    assert sent["messages"] == msgs
    assert sent["options"]["num_predict"] == 50
    assert sent["options"]["temperature"] == 0.2
    assert sent["options"]["stop"] == ["\n\n"]
    assert sent["options"]["num_ctx"] >= 4096


def test_ollama_missing_model_found_by_tags(stand_in: str) -> None:
    with pytest.raises(LLMUnavailable, match=r"model absent is not pulled.*ollama pull absent"):
        load_llm("ollama:absent", env={"OLLAMA_HOST": stand_in})


def test_ollama_missing_model_found_by_404(stand_in: str) -> None:
    llm = load_llm("ollama:absent", env={"OLLAMA_HOST": stand_in}, check=False)
    with pytest.raises(LLMUnavailable, match=r"`ollama pull absent`"):
        list(llm.stream(COLOURS))


def test_ollama_error_line_mid_stream(stand_in: str) -> None:
    llm = OllamaLLM("llama3.2:1b", host=stand_in)
    with pytest.raises(LLMError, match="out of memory"):
        list(llm.stream([{"role": "user", "content": "fail"}]))


def test_ollama_host_is_read_at_construction(
    stand_in: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OLLAMA_HOST", stand_in)
    llm = OllamaLLM("tiny")
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    assert llm.host == f"http://{stand_in}"
    assert llm.complete(COLOURS) == "".join(_StandIn.pieces)


# --- prompts -------------------------------------------------------------------------------------


def test_prompts_render_with_their_placeholders() -> None:
    assert placeholders("answer_user") == {"sources", "question"}
    assert placeholders("rewrite") == {"history", "question"}
    assert placeholders("answer_system") == frozenset()
    text = render("answer_user", sources="[1] a {brace} stays", question="Why?")
    assert "[1] a {brace} stays" in text and "Why?" in text
    assert "[n]" in load_prompt("answer_system") or "[1]" in load_prompt("answer_system")
    with pytest.raises(KeyError, match="missing"):
        render("answer_user", question="Why?")
    with pytest.raises(ValueError):
        load_prompt("../pyproject")


def test_shipped_gguf_is_a_file() -> None:
    assert isinstance(shipped_gguf(), Path) and shipped_gguf().is_file()
