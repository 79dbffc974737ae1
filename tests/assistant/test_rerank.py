"""Query-likelihood rerank with the real shipped SmolLM2 GGUF, over the real speech index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.rerank import (
    LlamaCppReranker,
    RerankerUnavailable,
    RerankPolicy,
    load_reranker,
    rerank_by_likelihood,
)
from assistant.retrieval import Retriever
from assistant.settings import AssistantSettings
from indexing.settings import Settings
from indexing.stores.lance import LanceStore
from indexing.types import Hit
from weights import SMOLLM2, require


@pytest.fixture(scope="module")
def reranker() -> LlamaCppReranker:
    return LlamaCppReranker(require(SMOLLM2), threads=2)


@pytest.fixture(scope="module")
def retriever(speech_index: Path, reranker: LlamaCppReranker) -> Retriever:
    settings = Settings.from_env({}, db_dir=speech_index)
    return Retriever(LanceStore(speech_index, create=False), settings, reranker=reranker)


def _clip_saying(retriever: Retriever, words: str) -> Hit:
    for clip in retriever.store.all_clips():
        if words in clip.text.lower():
            return Hit(clip=clip, score=0.5, similarity=0.5)
    raise AssertionError(f"no clip says {words!r}")


def test_score_matches_a_full_forward_pass(reranker: LlamaCppReranker) -> None:
    """Computing logits only at the question's positions gives the same number as computing
    them everywhere (llama_cpp offers no public switch, so the shortcut is checked here)."""
    passage, question = "The bob weighs fifteen kilograms.", "How heavy is the bob?"
    fast = reranker.likelihood(question, [passage])[0]
    llama = reranker._llama  # the reference computation needs the raw model
    prefix = llama.tokenize(f"Passage: {passage}\nA question about this passage: ".encode())
    q = llama.tokenize(question.encode(), add_bos=False)
    llama.reset()
    llama.eval(prefix + q)
    logits = np.asarray(llama.scores[len(prefix) - 1:len(prefix) + len(q) - 1], np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert fast == pytest.approx(float(logp[np.arange(len(q)), q].mean()), abs=1e-3)


def test_the_answering_clip_explains_the_question_best(retriever: Retriever,
                                                        reranker: LlamaCppReranker) -> None:
    question = "How did the president say the crew members of the shuttle were doing?"
    answering = _clip_saying(retriever, "no survivors")
    other = _clip_saying(retriever, "pendulum")
    good, bad = reranker.likelihood(question, [answering.clip.text, other.clip.text])
    assert good > bad
    assert reranker.likelihood(question, [answering.clip.text])[0] == good  # cached, same value


def test_policy_limits_what_is_rescored(retriever: Retriever) -> None:
    hits = [_clip_saying(retriever, "pendulum"), _clip_saying(retriever, "no survivors")]
    calls: list[int] = []

    class Counting:
        model_id = "counting"

        def likelihood(self, question: str, passages: list[str]) -> list[float]:
            calls.append(len(passages))
            return [-float(i) for i in range(len(passages))][::-1]  # prefers the last

    assert rerank_by_likelihood("q", hits[:1], Counting()) == hits[:1] and not calls
    assert rerank_by_likelihood("q", hits, Counting(), RerankPolicy(depth=1)) == hits
    assert not calls  # nothing to reorder, nothing scored
    # The likelihood ranking outweighs the first stage's at weight 2, not at 0.5 (ranks fused).
    out = rerank_by_likelihood("q", hits, Counting(), RerankPolicy(depth=8, weight=2.0))
    assert [h.clip for h in out] == [hits[1].clip, hits[0].clip] and calls == [2]
    assert out[0].likelihood == 0.0 and out[0].score == hits[1].score  # similarity kept
    out = rerank_by_likelihood("q", hits, Counting(), RerankPolicy(depth=8, weight=0.5))
    assert [h.clip for h in out] == [hits[0].clip, hits[1].clip]
    assert rerank_by_likelihood("q", [], Counting()) == []


def test_rerank_finds_the_moment_the_first_stage_missed(retriever: Retriever) -> None:
    # The lecturer says he trusts physics more than himself at 139.5-147.5 s; vectors put the
    # "extremely quiet, this is no joke" clip first.
    question = "What does the professor confess he is less sure of than the physics?"
    first_stage = retriever.candidates(question)
    hits = retriever.search(question, k=3)

    def at_moment(h: Hit) -> bool:
        return "lewin" in h.clip.media_path and h.clip.start < 147.5 and h.clip.end > 139.5

    assert not at_moment(first_stage[0])
    assert at_moment(hits[0]) and hits[0].likelihood is not None


def test_unavailable_reranker_is_reported_and_search_still_works(speech_index: Path,
                                                                 tmp_path: Path) -> None:
    assert load_reranker("off") is None
    with pytest.raises(RerankerUnavailable, match="not found"):
        load_reranker(str(tmp_path / "missing.gguf"))
    not_gguf = tmp_path / "broken.gguf"
    not_gguf.write_bytes(b"not a model")
    with pytest.raises(RerankerUnavailable, match="cannot load"):
        load_reranker(str(not_gguf))
    options = AssistantSettings.from_env({"DEERIN_RERANK": str(tmp_path / "missing.gguf")})
    r = Retriever(LanceStore(speech_index, create=False),
                  Settings.from_env({}, db_dir=speech_index), reranker=options.rerank)
    assert r.search("buzzard", k=2)
    assert r.reranker is None and r.rerank_problem and "missing.gguf" in r.rerank_problem


def test_rerank_spec_is_an_assistant_setting() -> None:
    """The indexing settings know nothing of the rerank model; the assistant's read it."""
    assert not hasattr(Settings.from_env({"DEERIN_RERANK": "off"}), "rerank")
    assert AssistantSettings.from_env({}).rerank == "default"
    assert AssistantSettings.from_env({"DEERIN_RERANK": "off"}).rerank == "off"
    assert AssistantSettings.from_env({"DEERIN_RERANK": "off"}, rerank="x.gguf").rerank == "x.gguf"
    assert AssistantSettings.from_env({"DEERIN_LLM": " ollama:qwen2.5 "}).llm == "ollama:qwen2.5"


def test_rerank_depth_is_a_setting_every_retriever_follows(speech_index: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``llm.rerank_depth`` (its default the tuned RERANK_DEPTH) reaches the retrievers of
    ``deerin ask``/``eval`` and of the chat."""
    from assistant.calibration import RERANK_DEPTH
    from assistant.service import build_assistant
    from assistant.web.chat_service import ChatService

    assert AssistantSettings.from_env({}).rerank_depth == RERANK_DEPTH
    assert AssistantSettings.from_env({"DEERIN_RERANK_DEPTH": "8"}).rerank_depth == 8
    for bad in ("1", "41", "deep"):
        with pytest.raises(ValueError, match="DEERIN_RERANK_DEPTH"):
            AssistantSettings.from_env({"DEERIN_RERANK_DEPTH": bad})
    settings = Settings.from_env({}, db_dir=speech_index)
    options = AssistantSettings.from_env({"DEERIN_RERANK_DEPTH": "6", "DEERIN_RERANK": "off"})
    assert build_assistant(settings, options=options, with_llm=False).retriever.policy.depth == 6
    monkeypatch.setenv("DEERIN_RERANK_DEPTH", "5")
    monkeypatch.setenv("DEERIN_RERANK", "off")
    assert ChatService(settings).retriever().policy.depth == 5
