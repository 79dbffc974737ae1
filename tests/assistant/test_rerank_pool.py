"""Sessions reranking at once: a pool of scoring contexts over the real shipped SmolLM2 GGUF,
scored on the real subtitle clips of a Popeye reel, next to the answering model's batch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.llm import complete, load_llm
from assistant.llm.batching import BatchedLlamaCppLLM
from assistant.rerank import LlamaCppReranker, passage_of
from assistant.rerank_pool import ContextPool, ScoreCache
from assistant.settings import DEFAULT_RERANK_CONTEXTS, AssistantSettings
from indexing.types import Hit
from weights import SMOLLM2, require

QUESTIONS = ("Who does Sinbad say he is?", "What does Popeye eat to get strong?")
TIMEOUT = 180.0


@pytest.fixture(scope="module")
def passages(popeye1: Path) -> list[str]:
    """What the reranker reads for four real clips (the reel's sidecar subtitles, clipped as
    the indexer clips them): Sinbad's song, where he says who he is."""
    from indexing.media import probe
    from indexing.stages.clips import subtitle_clips
    from indexing.stages.subtitles import read_cues

    clips = subtitle_clips(probe(popeye1), read_cues(popeye1.with_suffix(".srt")))
    # Distinct: a repeated passage would be a cache hit of its own.
    texts = list(dict.fromkeys(passage_of(Hit(clip=c, score=0.5)) for c in clips))
    assert len(texts) >= 4
    return texts[1:5]


@pytest.fixture(scope="module")
def serial(passages: list[str]) -> list[list[float]]:
    """The one-request path: one context, one question after the other."""
    one = LlamaCppReranker(require(SMOLLM2), threads=2, cache_size=0)
    return [one.likelihood(q, passages) for q in QUESTIONS]


def _at_once(calls: list[Callable[[], object]]) -> list[object]:
    """Run ``calls`` each in its own thread, released together; their results in order."""
    results: dict[int, object] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except BaseException as e:  # reported below, with the others
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "deadlock: threads still running"
    assert not errors, errors
    return [results[i] for i in range(len(calls))]


def test_two_sessions_at_once_score_as_one_at_a_time(passages: list[str],
                                                     serial: list[list[float]]) -> None:
    """Two threads rerank at once, each in a context of its own (the second opened because the
    first was busy), and get exactly the one-request path's scores."""
    pool = LlamaCppReranker(require(SMOLLM2), threads=2, cache_size=0, contexts=2)
    assert pool.pool.made == 1  # the second context opens only when needed
    got = _at_once([lambda q=q: pool.likelihood(q, passages) for q in QUESTIONS])
    assert got == serial
    assert pool.pool.made == 2


def test_a_score_two_sessions_need_is_computed_once(passages: list[str],
                                                    serial: list[list[float]]) -> None:
    reranker = LlamaCppReranker(require(SMOLLM2), threads=2, contexts=2)
    got = _at_once([lambda: reranker.likelihood(QUESTIONS[0], passages)] * 2)
    assert got == [serial[0], serial[0]]
    assert reranker.cache.hits == len(passages)  # one session's lookups found the other's


def test_sessions_asking_the_same_with_one_context_do_not_deadlock(
        passages: list[str], serial: list[list[float]]) -> None:
    """Three sessions ask the same question of the same clips at once through one context: the
    one that waits for another's score must not hold what that one needs to compute it."""
    reranker = LlamaCppReranker(require(SMOLLM2), threads=2, contexts=1)
    # Reversed orders make the sessions claim different passages first.
    orders = [passages, passages[::-1], passages[1:] + passages[:1]]
    got = _at_once([lambda o=o: reranker.likelihood(QUESTIONS[0], o) for o in orders])
    expected = dict(zip(passages, serial[0], strict=True))
    assert got == [[expected[p] for p in o] for o in orders]
    assert reranker.cache.hits == 2 * len(passages)  # every score computed once


@pytest.fixture(scope="module")
def batched() -> Iterator[BatchedLlamaCppLLM]:
    llm = load_llm("tiny", parallel=2)
    assert isinstance(llm, BatchedLlamaCppLLM)
    with llm:
        yield llm


def test_rerank_and_answers_at_once_do_not_deadlock(passages: list[str],
                                                    serial: list[list[float]],
                                                    batched: BatchedLlamaCppLLM) -> None:
    """Four sessions each rerank then stream an answer from the batching scheduler (two
    sequences: two sessions wait for one) while two more only rerank, all at once, through a
    pool of two contexts: every one finishes, with the one-request path's scores."""
    reranker = LlamaCppReranker(require(SMOLLM2), threads=2, cache_size=0, contexts=2)

    def session(i: int) -> tuple[list[float], str]:
        scores = reranker.likelihood(QUESTIONS[i % 2], passages)
        reply = complete(batched, [{"role": "user", "content": QUESTIONS[i % 2]}],
                         max_tokens=6, temperature=0.0)
        return scores, reply

    def rerank_only(i: int) -> tuple[list[float], str]:
        return reranker.likelihood(QUESTIONS[i % 2], passages), "-"

    calls: list[Callable[[], object]] = [lambda i=i: session(i) for i in range(4)]
    calls += [lambda i=i: rerank_only(i) for i in range(2)]
    results = _at_once(calls)
    for i, (scores, reply) in enumerate(results):  # type: ignore[misc]
        assert scores == serial[i % 2]
        assert reply


# -- the pool and the cache themselves (plain objects, real threads) ---------------------------


def test_pool_opens_contexts_on_demand_and_lends_each_to_one_thread() -> None:
    made: list[int] = []

    def factory() -> int:
        made.append(len(made))
        return made[-1]

    pool = ContextPool(factory, 2)
    with pool.lend() as a:
        assert made == [0]
        with pool.lend() as b:
            assert {a, b} == {0, 1}
            took = threading.Event()

            def third() -> None:
                with pool.lend():
                    took.set()

            waiter = threading.Thread(target=third, daemon=True)
            waiter.start()
            assert not took.wait(0.3)  # both lent: the third caller waits
        assert took.wait(5)  # b came back
        waiter.join(5)
    assert made == [0, 1] and pool.waits == 1
    with pytest.raises(ValueError, match="at least one"):
        ContextPool(factory, 0)


def test_pool_keeps_its_room_when_opening_a_context_fails() -> None:
    calls = [0]

    def factory() -> object:
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("out of memory")
        return object()

    pool = ContextPool(factory, 2)
    with pool.lend(), pytest.raises(RuntimeError, match="out of memory"), pool.lend():
        pass
    with pool.lend(), pool.lend():  # the failed slot can be opened again
        assert pool.made == 2


def test_cache_waits_for_a_score_in_progress_and_recovers_from_a_failure() -> None:
    cache = ScoreCache(8)
    started, release = threading.Event(), threading.Event()
    computed: list[str] = []

    def slow_fail() -> float:
        started.set()
        release.wait(5)
        computed.append("first")
        raise RuntimeError("decode failed")

    def fine() -> float:
        computed.append("second")
        return -1.5

    failures: list[BaseException] = []

    def first() -> None:
        try:
            cache.get_or_compute(b"k", slow_fail)
        except RuntimeError as e:
            failures.append(e)

    failing = threading.Thread(target=first, daemon=True)
    failing.start()
    assert started.wait(5)
    result: list[float] = []
    waiter = threading.Thread(target=lambda: result.append(cache.get_or_compute(b"k", fine)),
                              daemon=True)
    waiter.start()
    release.set()
    failing.join(5)
    waiter.join(5)
    assert result == [-1.5] and computed == ["first", "second"] and len(failures) == 1
    assert cache.get_or_compute(b"k", slow_fail) == -1.5 and cache.hits == 1
    small = ScoreCache(0)  # size 0 keeps nothing
    assert small.get_or_compute(b"k", fine) == small.get_or_compute(b"k", fine) and \
        small.hits == 0


def test_contexts_are_an_assistant_setting() -> None:
    assert AssistantSettings.from_env({}).rerank_contexts == DEFAULT_RERANK_CONTEXTS
    assert AssistantSettings.from_env({"DEERIN_RERANK_CONTEXTS": "3"}).rerank_contexts == 3
    for bad in ("0", "17", "two"):
        with pytest.raises(ValueError, match="DEERIN_RERANK_CONTEXTS"):
            AssistantSettings.from_env({"DEERIN_RERANK_CONTEXTS": bad})
    with pytest.raises(ValueError, match="at least one"):
        LlamaCppReranker(require(SMOLLM2), contexts=0)
