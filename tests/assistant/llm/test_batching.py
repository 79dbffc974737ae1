"""Several requests at once: continuous batching in llama.cpp (the shipped SmolLM2, tier ``tiny``)
compared reply for reply with the one-request path, and the Ollama backend's concurrency
against a stand-in server (Ollama cannot run here: its HTTP API is the true system edge)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from assistant.llm import LlamaCppLLM, LLMCache, LLMError, LLMUsageError, complete, load_llm
from assistant.llm.batching import BatchedLlamaCppLLM
from assistant.settings import AssistantSettings
from weights import SMOLLM2, model_path

FIXED = [{"role": "system", "content": "You answer in one short sentence, plainly. " * 6}]
QUESTIONS = ("Name three colours.", "What is the capital of France?", "Why is the sky blue?",
             "Write a haiku about trains.", "What is 17 times 23?", "Who wrote Hamlet?")
# Longer than one 512-token chunk: the prompt is read in two chunks, as llama_cpp.Llama does.
LONG = [{"role": "system", "content": "Archive note: the reel was scanned in 2K. " * 70},
        {"role": "user", "content": "What resolution was the reel scanned in?"}]
PROMPTS = [[*FIXED, {"role": "user", "content": q}] for q in QUESTIONS] + [LONG]


@pytest.fixture(scope="module")
def cache() -> LLMCache:
    return LLMCache()


@pytest.fixture(scope="module")
def single(cache: LLMCache) -> LlamaCppLLM:
    llm = load_llm("tiny", cache=cache)
    assert type(llm) is LlamaCppLLM
    return llm


@pytest.fixture(scope="module")
def batched(cache: LLMCache) -> Iterator[BatchedLlamaCppLLM]:
    """Three sequences at once sharing their passes (the seven prompts also queue)."""
    llm = load_llm("tiny", cache=cache, parallel=3, shared_passes=True)
    assert isinstance(llm, BatchedLlamaCppLLM)
    yield llm
    llm.close()


def _at_once(llm: Any, prompts: list[list[dict[str, str]]], **kw: Any) -> list[str]:
    results: dict[int, str] = {}

    def run(i: int) -> None:
        results[i] = complete(llm, prompts[i], **kw)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return [results.get(i, "<none>") for i in range(len(prompts))]


def test_exact_greedy_replies_at_once_match_the_one_request_path(single: LlamaCppLLM) -> None:
    """``exact``: each sequence's token in a pass of its own, so llama.cpp's one-token kernels
    give every reply the one-request path's tokens, whatever else is being written."""
    expected = [complete(single, p, max_tokens=24, temperature=0.0) for p in PROMPTS]
    exact = load_llm("tiny", parallel=3)  # exact is what the chat loads by default
    assert isinstance(exact, BatchedLlamaCppLLM)
    with exact:
        assert _at_once(exact, PROMPTS, max_tokens=24, temperature=0.0) == expected
        # Alone, too, and with a stop string cut where the one-request path cuts.
        stop = expected[0].split()[2]
        assert complete(exact, PROMPTS[0], max_tokens=24, temperature=0.0, stop=[stop]) == \
            complete(single, PROMPTS[0], max_tokens=24, temperature=0.0, stop=[stop])


def test_shared_steps_carry_a_token_for_every_sequence(single: LlamaCppLLM,
                                                       batched: BatchedLlamaCppLLM) -> None:
    replies = _at_once(batched, PROMPTS[:3], max_tokens=24, temperature=0.0)
    assert all(r and r != "<none>" for r in replies)
    # One decode call carried a token for several sequences at once. (A bound on calls per
    # token written depended on how long the short replies ran and on when the threads got
    # the CPU: it failed on a loaded CI machine while the batching worked.)
    assert batched.scheduler.widest >= 2
    # One request alone is decoded as the one-request path decodes it.
    assert complete(batched, PROMPTS[0], max_tokens=24, temperature=0.0) == \
        complete(single, PROMPTS[0], max_tokens=24, temperature=0.0)


def test_fixed_prompt_part_is_cached_and_reused(batched: BatchedLlamaCppLLM,
                                                single: LlamaCppLLM) -> None:
    cold = complete(single, PROMPTS[1], max_tokens=12, temperature=0.0)
    assert batched.scheduler.cached_prefixes >= 1  # FIXED, from the test before or this one
    assert complete(batched, PROMPTS[1], max_tokens=12, temperature=0.0) == cold
    no_cache = BatchedLlamaCppLLM(model_path(SMOLLM2), prefix_cache=False, parallel=2)
    with no_cache:
        assert complete(no_cache, PROMPTS[1], max_tokens=12, temperature=0.0) == cold
        assert no_cache.scheduler.cached_prefixes == 0


def test_choice_logprobs_match_while_others_stream(single: LlamaCppLLM,
                                                   batched: BatchedLlamaCppLLM) -> None:
    yes_no = [*FIXED, {"role": "user", "content": "Is water wet? Reply yes or no."}]
    expected = single.choice_logprobs(yes_no, ["yes", "no", ""])
    streams = [batched.stream(p, max_tokens=24, temperature=0.0) for p in PROMPTS[:2]]
    for s in streams:
        next(s)  # two replies are generating in the batch
    assert batched.choice_logprobs(yes_no, ["yes", "no", ""]) == pytest.approx(expected,
                                                                                abs=1e-6)
    assert batched.choice_logprobs(yes_no, []) == []
    for s in streams:
        s.close()


def test_a_closed_stream_frees_its_sequence(batched: BatchedLlamaCppLLM) -> None:
    streams = [batched.stream(p, max_tokens=200, temperature=0.0) for p in PROMPTS[:3]]
    for s in streams:
        assert next(s)  # all three sequences busy
    streams[0].close()  # what a chat session does when its user stops the answer
    done = threading.Event()

    def ask() -> None:
        complete(batched, PROMPTS[3], max_tokens=4)
        done.set()

    threading.Thread(target=ask, daemon=True).start()
    assert done.wait(timeout=60), "the closed stream kept its sequence"
    for s in streams[1:]:
        s.close()


def test_prompt_longer_than_the_window_is_one_llm_error() -> None:
    with BatchedLlamaCppLLM(model_path(SMOLLM2), n_ctx=128, threads=1, parallel=2) as small:
        with pytest.raises(LLMError, match="context window") as failure:
            list(small.stream([{"role": "user", "content": "The crew trained. " * 60}]))
        assert "\n" not in str(failure.value)
        assert complete(small, [{"role": "user", "content": "Hi"}], max_tokens=4)  # serving on


def test_closed_model_says_so() -> None:
    llm = BatchedLlamaCppLLM(model_path(SMOLLM2), parallel=2)
    llm.close()
    with pytest.raises(LLMError, match="closed"):
        complete(llm, PROMPTS[0], max_tokens=4)


def test_parallel_specs_and_settings(cache: LLMCache, single: LlamaCppLLM,
                                     batched: BatchedLlamaCppLLM) -> None:
    assert load_llm("tiny", cache=cache, parallel=1) is single
    assert load_llm("llamacpp:tiny", cache=cache, parallel=3, shared_passes=True) is batched
    with pytest.raises(LLMUsageError, match="at least 1"):
        load_llm("tiny", parallel=0)
    assert AssistantSettings.from_env({}).parallel == 4
    assert AssistantSettings.from_env({"DEERIN_LLM_PARALLEL": "8"}).parallel == 8
    for bad in ("0", "four", "100"):
        with pytest.raises(ValueError, match="DEERIN_LLM_PARALLEL"):
            AssistantSettings.from_env({"DEERIN_LLM_PARALLEL": bad})
    assert not AssistantSettings.from_env({}).shared_passes
    assert AssistantSettings.from_env({"DEERIN_LLM_BATCH": "Shared"}).shared_passes
    with pytest.raises(ValueError, match="DEERIN_LLM_BATCH"):
        AssistantSettings.from_env({"DEERIN_LLM_BATCH": "fast"})


# --- Ollama: concurrency is the server's; the backend must not serialise ------------------------


class _SlowStandIn(BaseHTTPRequestHandler):
    """A stand-in for the Ollama server (the system edge): /api/tags, and /api/chat streaming
    three pieces slowly while it counts how many chats are in flight at once."""

    lock: ClassVar[threading.Lock] = threading.Lock()
    in_flight: ClassVar[int] = 0
    most: ClassVar[int] = 0

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        data = json.dumps({"models": [{"name": "tiny:latest", "model": "tiny:latest"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        with cls.lock:
            cls.in_flight += 1
            cls.most = max(cls.most, cls.in_flight)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.end_headers()
            for piece in ("Paris", " is", " the capital."):
                line = {"model": body["model"], "done": False,
                        "message": {"role": "assistant", "content": piece}}
                self.wfile.write(json.dumps(line).encode() + b"\n")
                self.wfile.flush()
                time.sleep(0.3)
            done = {"model": body["model"], "done": True, "done_reason": "stop",
                    "message": {"role": "assistant", "content": ""}}
            self.wfile.write(json.dumps(done).encode() + b"\n")
        finally:
            with cls.lock:
                cls.in_flight -= 1


def test_ollama_requests_run_at_once() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"OLLAMA_HOST": f"127.0.0.1:{server.server_address[1]}"}
        llm = load_llm("ollama:tiny", env=env, parallel=4)  # parallel is Ollama's own business
        assert load_llm("ollama:tiny", env=env, cache=(c := LLMCache()), parallel=4) is \
            load_llm("ollama:tiny", env=env, cache=c)
        replies = _at_once(llm, [[{"role": "user", "content": "Capital of France?"}]] * 4,
                           max_tokens=8)
    finally:
        server.shutdown()
        server.server_close()
    assert replies == ["Paris is the capital."] * 4
    assert _SlowStandIn.most >= 3  # the four streams overlapped at the server
