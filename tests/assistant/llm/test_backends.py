"""LLM backends: real llama.cpp with the shipped SmolLM2 GGUF (the ``tiny`` tier), the spec
registry, and the Ollama backend (the official ``ollama`` client) against a stand-in server on
loopback: Ollama itself cannot run on this machine, so its HTTP API is the true system edge."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from assistant.llm import (
    LLM,
    ChoiceScorer,
    LlamaCppLLM,
    LLMCache,
    LLMError,
    LLMSpec,
    LLMUnavailable,
    LLMUsageError,
    OllamaLLM,
    complete,
    default_llm_spec,
    load_llm,
    ollama_host,
    parse_llm_spec,
    register_backend,
)
from assistant.llm.registry import BackendRegistry, LoadOptions
from prompts import load_prompt, placeholders, render
from tests.support import REPO
from weights import ANSWER_TIER, SMOLLM2, model_path

COLOURS = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture(scope="module")
def cache() -> LLMCache:
    return LLMCache()


@pytest.fixture(scope="module")
def smollm(cache: LLMCache) -> LLM:
    """The shipped SmolLM2-135M (tier ``tiny``), loaded once for the whole module."""
    return load_llm("tiny", cache=cache)


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
    first = complete(smollm, COLOURS, max_tokens=12, temperature=0.0)
    assert first == "".join(smollm.stream(COLOURS, max_tokens=12, temperature=0.0))
    complete(smollm, [{"role": "user", "content": "Say hello."}], max_tokens=4)
    assert complete(smollm, COLOURS, max_tokens=12, temperature=0.0) == first


FIXED = [{"role": "system", "content": "You are a careful archivist. " * 6},
         {"role": "user", "content": "Which colour is the sky?"},
         {"role": "assistant", "content": "Blue."}]


def test_prefix_cache_keeps_replies_repeatable(smollm: LLM) -> None:
    """The fixed part of a prompt (every message but the last) is evaluated once and its state
    cached; a reply must not depend on whether the cache was cold, warm, or last held
    another prompt's fixed part."""
    assert isinstance(smollm, LlamaCppLLM) and smollm.prefix_cache
    ask = [*FIXED, {"role": "user", "content": "Name three colours."}]
    smollm._prefixes.clear()
    cold = complete(smollm, ask, max_tokens=12, temperature=0.0)
    cold_odds = smollm.choice_logprobs([*FIXED, {"role": "user", "content": "Is grass green?"}],
                                       ["yes", "no"])
    assert len(smollm._prefixes) == 1  # both prompts share one fixed part
    complete(smollm, [{"role": "system", "content": "Reply in French. " * 8},
                      {"role": "user", "content": "Say hello."}], max_tokens=4)
    assert len(smollm._prefixes) == 2
    assert complete(smollm, ask, max_tokens=12, temperature=0.0) == cold
    assert smollm.choice_logprobs([*FIXED, {"role": "user", "content": "Is grass green?"}],
                                  ["yes", "no"]) == pytest.approx(cold_odds, abs=1e-6)


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


def test_prompt_longer_than_the_context_is_one_llm_error() -> None:
    small = LlamaCppLLM(model_path(SMOLLM2), n_ctx=128, threads=1)
    long_text = "The shuttle crew trained for years. " * 60
    with pytest.raises(LLMError, match="context window") as failure:
        list(small.stream([{"role": "user", "content": long_text}], max_tokens=4))
    assert "\n" not in str(failure.value)


def test_llama_cpp_sleeps_its_idle_openmp_workers(smollm: LLM) -> None:
    """Building a backend sets passive OpenMP waiting for the process (before llama_cpp loads),
    unless the environment already chose."""
    assert os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"


# --- choices from one prompt evaluation ---------------------------------------------------------

YES_NO = [{"role": "system", "content": "Reply with one word: yes or no."},
          {"role": "user", "content": "Is water wet?"}]


def test_choice_logprobs_agree_with_the_reply(smollm: LLM) -> None:
    assert isinstance(smollm, ChoiceScorer)
    reply = complete(smollm, YES_NO, max_tokens=4, temperature=0.0)
    first = reply.split()[0].strip(",.!").lower()
    assert first in {"yes", "no"}, reply
    other = "no" if first == "yes" else "yes"
    said, not_said = smollm.choice_logprobs(YES_NO, [first, other])
    assert said > not_said
    assert said <= 0.0 and not_said <= 0.0
    assert math.exp(said) + math.exp(not_said) <= 1.0 + 1e-9


def test_choice_logprobs_are_repeatable_and_cover_case(smollm: LLM) -> None:
    assert isinstance(smollm, ChoiceScorer)
    first = smollm.choice_logprobs(YES_NO, ["yes", "no", ""])
    complete(smollm, COLOURS, max_tokens=6)  # whatever ran in between
    assert smollm.choice_logprobs(YES_NO, ["yes", "no", ""]) == pytest.approx(first, abs=1e-3)
    assert first[2] == -math.inf
    # "yes" counts "Yes" too: at least as likely as the capitalised spelling alone.
    assert smollm.choice_logprobs(YES_NO, ["Yes"])[0] <= first[0] + 1e-6
    assert smollm.choice_logprobs(YES_NO, []) == []


# --- specs and the cache ------------------------------------------------------------------------


def test_tier_specs_load_the_shipped_model_once(smollm: LLM, cache: LLMCache) -> None:
    assert "SmolLM2-135M" in smollm.model_id
    gguf = model_path(SMOLLM2)
    for spec in ("tiny", "TINY", "llamacpp:tiny", f"llamacpp:{gguf}", str(gguf)):
        assert load_llm(spec, cache=cache) is smollm, spec
    assert len(cache) == 1


def test_no_spec_means_the_answering_tier(cache: LLMCache) -> None:
    assert load_llm(None, cache=cache, env={}) is load_llm(ANSWER_TIER, cache=cache)
    assert load_llm("", cache=cache, env={}) is load_llm(ANSWER_TIER, cache=cache)


def test_missing_gguf_is_unavailable_not_a_usage_error() -> None:
    with pytest.raises(LLMUnavailable, match=r"not found: .*missing\.gguf"):
        load_llm("llamacpp:missing.gguf")


@pytest.mark.parametrize(
    ("spec", "message"),
    [("gpt4", "unknown LLM spec 'gpt4': use tiny, fast, default, llamacpp"),
     ("ollama:", "names no ollama model"), ("llamacpp: ", "names no llamacpp model")],
)
def test_bad_specs_are_usage_errors_that_show_the_syntax(spec: str, message: str) -> None:
    with pytest.raises(LLMUsageError, match=message):
        load_llm(spec)
    assert not issubclass(LLMUsageError, LLMUnavailable)  # exit 2, not exit 1


def test_parse_llm_spec() -> None:
    assert parse_llm_spec(None, {}) == LLMSpec("llamacpp", ANSWER_TIER)
    assert parse_llm_spec(None, {"DEERIN_LLM": "ollama:x"}) == ("ollama", "x")
    assert parse_llm_spec("llamacpp") == ("llamacpp", "default")
    assert parse_llm_spec("fast") == ("llamacpp", "fast")
    assert parse_llm_spec("Default") == ("llamacpp", "default")
    assert parse_llm_spec("ollama") == ("ollama", None)
    assert parse_llm_spec("ollama:llama3.2:1b") == ("ollama", "llama3.2:1b")
    assert parse_llm_spec("LLAMACPP:/m/x.gguf") == ("llamacpp", "/m/x.gguf")
    assert parse_llm_spec("models/x.GGUF") == ("llamacpp", "models/x.GGUF")


def test_default_llm_spec() -> None:
    assert default_llm_spec({}) == ANSWER_TIER
    assert default_llm_spec({"DEERIN_LLM": "ollama:qwen2.5"}) == "ollama:qwen2.5"
    assert default_llm_spec({"DEERIN_LLM": " "}) == ANSWER_TIER


def test_a_registered_backend_is_picked_by_name() -> None:
    """A plug-in backend: registered under a name, built from ``NAME:TARGET`` specs, cached."""

    class Echo:
        def __init__(self, target: str) -> None:
            self.model_id = f"echo:{target}"

        def stream(self, messages: list[dict[str, str]], **_: object) -> Iterator[str]:
            yield messages[-1]["content"]

    registry = BackendRegistry()
    built: list[str] = []

    def factory(target: str, options: LoadOptions) -> LLM:
        built.append(target)
        return Echo(target)

    registry.register("echo", factory)
    cache = LLMCache()
    llm = load_llm("echo:abc", registry=registry, cache=cache)
    assert llm.model_id == "echo:abc" and complete(llm, COLOURS) == COLOURS[0]["content"]
    assert load_llm("ECHO:abc", registry=registry, cache=cache) is llm and built == ["abc"]
    with pytest.raises(LLMUsageError, match="needs a target"):
        load_llm("echo", registry=registry)
    with pytest.raises(LLMUsageError, match="unknown LLM spec"):
        load_llm("echo:abc")  # the process-wide registry does not have it
    with pytest.raises(ValueError):
        register_backend("bad:name", factory)


@pytest.mark.parametrize(
    ("value", "url"),
    [
        ("", "http://127.0.0.1:11434"),
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("127.0.0.1:9", "http://127.0.0.1:9"),
        (":11500", "http://127.0.0.1:11500"),
        ("http://ollama:11434/", "http://ollama:11434"),
        ("http://ollama", "http://ollama:80"),
        ("https://llm.example.org", "https://llm.example.org:443"),
        ("example.com/ollama/", "http://example.com:11434/ollama"),
        ("[::1]", "http://[::1]:11434"),
        ("::1", "http://[::1]:11434"),
        ("[::1]:8080", "http://[::1]:8080"),
        ("myhost:99999", "http://myhost:11434"),  # an unusable port: the default, as Ollama
    ],
)
def test_ollama_host_forms(value: str, url: str) -> None:
    assert ollama_host({"OLLAMA_HOST": value}) == url
    assert ollama_host(value=value) == url


def test_ollama_host_rejects_other_schemes() -> None:
    with pytest.raises(LLMUsageError, match="not a host"):
        ollama_host({"OLLAMA_HOST": "ftp://ollama"})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_ollama_names_the_host() -> None:
    port = _closed_port()
    with pytest.raises(LLMUnavailable, match=rf"reachable at http://127\.0\.0\.1:{port}: .*ollama"):
        load_llm("ollama:foo", env={"OLLAMA_HOST": f"127.0.0.1:{port}"})


def test_unreachable_ollama_while_streaming() -> None:
    llm = OllamaLLM("foo", host=f"127.0.0.1:{_closed_port()}")
    with pytest.raises(LLMUnavailable, match="not reachable"):
        list(llm.stream(COLOURS))


# --- Ollama backend against a stand-in server (the true system edge) ----------------------------


class _StandIn(BaseHTTPRequestHandler):
    """A stand-in for the Ollama server, which cannot run here (the system edge): it speaks just
    enough of /api/tags and /api/chat (streamed NDJSON, 404 for an unknown model, a one-token
    reply with log-probabilities when asked) for the official ``ollama`` client."""

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
        if not body.get("stream", True):
            self._json(200, self._one_token(body))
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


    def _one_token(self, body: dict[str, Any]) -> dict[str, Any]:
        reply: dict[str, Any] = {"model": body["model"], "done": True, "done_reason": "length",
                                 "message": {"role": "assistant", "content": "Yes"}}
        if body.get("logprobs") and body["model"] != "llama3.2:1b":  # that one plays an old server
            reply["logprobs"] = [{"token": "Yes", "logprob": -0.25, "top_logprobs": [
                {"token": "Yes", "logprob": -0.25}, {"token": " no", "logprob": -1.75},
                {"token": "yes", "logprob": -3.0}, {"token": "Maybe", "logprob": -4.0}]}]
        return reply


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
    assert complete(llm, COLOURS) == "".join(_StandIn.pieces)


def test_bare_ollama_spec_uses_the_configured_model(stand_in: str) -> None:
    env = {"OLLAMA_HOST": stand_in, "DEERIN_OLLAMA_MODEL": "tiny"}
    assert load_llm("ollama", env=env).model_id == "ollama:tiny"
    with pytest.raises(LLMUnavailable, match=r"llama3\.2 is not pulled"):
        load_llm("ollama", env={"OLLAMA_HOST": stand_in})


def test_ollama_choice_logprobs_from_one_token(stand_in: str) -> None:
    llm = OllamaLLM("tiny", host=stand_in)
    assert isinstance(llm, ChoiceScorer)
    yes, no, maybe, never = llm.choice_logprobs(YES_NO, ["yes", "no", "Maybe", "never"])
    assert (yes, no, maybe, never) == (-0.25, -1.75, -4.0, -math.inf)
    sent = _StandIn.requests[-1]
    assert sent["stream"] is False and sent["logprobs"] is True and sent["top_logprobs"] >= 2
    assert sent["options"]["num_predict"] == 1


def test_ollama_choice_logprobs_are_coarse_without_server_support(stand_in: str) -> None:
    llm = OllamaLLM("llama3.2:1b", host=stand_in)
    assert llm.choice_logprobs(YES_NO, ["no", "yes"]) == [-math.inf, 0.0]


# --- prompts -------------------------------------------------------------------------------------


def test_prompts_render_with_their_placeholders() -> None:
    assert placeholders("answer_user") == {"sources", "question"}
    assert placeholders("rewrite") == {"history", "question"}
    assert placeholders("answer_system") == frozenset()
    text = render("answer_user", sources="[1] a {brace} stays", question="Why?")
    assert "[1] a {brace} stays" in text and "Why?" in text
    # the one-shot example shows the form: the fact first, its source number after it
    assert load_prompt("answer_example_assistant").rstrip(".").endswith("[1]")
    assert "[1]" in load_prompt("answer_example_user")
    with pytest.raises(KeyError, match="missing"):
        render("answer_user", question="Why?")
    with pytest.raises(ValueError):
        load_prompt("../pyproject")


# --- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["ask", "hello?"], ["chat"], ["demo"],
                                     ["eval", "--qa", "eval/sets/dev.jsonl"]])
def test_unknown_llm_spec_is_a_usage_error_on_the_command_line(command: list[str],
                                                               tmp_path: Path) -> None:
    """Exit 2 with one line, before any index is opened, footage made or server started."""
    out = subprocess.run([sys.executable, "-m", "deerin", *command, "--llm", "gpt4",
                          "--db", str(tmp_path / "none")],
                         capture_output=True, text=True, timeout=300, check=False,
                         cwd=REPO,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 2, out.stderr
    assert "unknown LLM spec 'gpt4'" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "none").exists()
