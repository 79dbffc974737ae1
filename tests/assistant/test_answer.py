"""The assistant end to end: real index, real embedded llama.cpp model (the default tier)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import cast

import pytest

from assistant.answer import REFUSAL_TEXT, Answer, Assistant, QuestionError, check_question
from assistant.citations import check_answer
from assistant.llm import LLMCache, LLMUnavailable, load_llm
from assistant.retrieval import Retriever
from indexing.settings import Settings
from indexing.stores.lance import LanceStore


@pytest.fixture(scope="module")
def llm_cache() -> LLMCache:
    return LLMCache()


@pytest.fixture(scope="module")
def assistant(speech_index: Path, llm_cache: LLMCache) -> Assistant:
    settings = Settings.from_env({}, db_dir=speech_index)
    retriever = Retriever(LanceStore(speech_index, create=False), settings)
    return Assistant(retriever, load_llm(None, cache=llm_cache))


def overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    return min(a1, b1) - max(a0, b0) > 0


def assert_grounded(answer: Answer) -> None:
    """Every citation points at a retrieved clip and cites seconds inside it; markers are 1..n."""
    retrieved = {(h.clip.media_path, h.clip.start, h.clip.end) for h in answer.retrieved}
    for c in answer.citations:
        assert (c.clip.media_path, c.clip.start, c.clip.end) in retrieved
        assert c.clip.start <= c.start < c.end <= c.clip.end, (c.start, c.end, c.clip)
        assert f"[{c.n}]" in answer.text
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))


@pytest.mark.parametrize(("question", "media", "span"), [
    ("Which city's mission control lost contact with the shuttle?",
     "gwb_columbia_address_2003.ogg", (9.0, 17.0)),
    # Slow: 83-107 s on two shared cores, three times its sibling above, which covers the same
    # recording and the same path through the assistant.
    pytest.param("How many crew members were on board the shuttle when it was lost?",
                 "gwb_columbia_address_2003.ogg", (24.0, 36.0), marks=pytest.mark.slow),
    ("How are wrecking balls used to knock down buildings?",
     "lewin_physicsworks_lecture_audio.webm", (47.6, 74.2)),
])
def test_answers_cite_the_true_moment(assistant: Assistant, question: str, media: str,
                                      span: tuple[float, float]) -> None:
    answer = assistant.ask(question)
    assert not answer.refused, answer.text
    assert answer.citations
    assert_grounded(answer)
    first = answer.citations[0]
    assert Path(first.clip.media_path).name == media
    # The seconds cited (the supporting words), not only the clip around them, hold the moment.
    assert overlaps(first.start, first.end, *span), (first.start, first.end, answer.text)
    assert answer.timings["retrieval_s"] > 0


def test_off_collection_question_is_refused(assistant: Assistant) -> None:
    answer = assistant.ask("Who won the 1966 World Cup?")
    assert answer.refused and not answer.citations
    assert "can't find" in answer.text


# Questions near what the collection says, asking for a kind of answer it does not hold. Each
# refusal is a judgement on a threshold, and a transcript differing in a word on another CPU can
# move one across it, so the property tested is the rate, over enough of them that one flip
# leaves a margin (the rate and every answer given are printed).
NEAR_MISSES = (
    "In which year was the Challenger shuttle lost?",  # the Columbia address
    "Who directed the film His Girl Friday?",  # the clip's dialogue names only Hildy
    "In what year did President Kennedy die?",  # the inaugural line
    "How many children did the commander of the Columbia have?",
    "What is the capital of Texas?",  # debris fell over Texas
    "How much did the pendulum in the physics lecture cost?",  # 15 kilograms, no price
    "Which newspaper does Hildy work for?",
    "What is Mr. Quilter's first name?",  # the leopard test sentence
    "Who is the voice actor of Popeye?",
    "How fast was the space shuttle flying when it broke up?",
)
# Measured on an AMD EPYC (AVX-512): 0.7 with the kernels pinned (DEERIN_KERNELS=portable), 0.6
# with the CPU's own (native), the flips being "who directed", "the commander's children" and
# "when did Kennedy die". The bar sits one flip below the lower of the two.
NEAR_MISS_REFUSED = 0.5


def test_near_misses_asking_for_a_missing_kind_of_answer_are_refused(
        assistant: Assistant) -> None:
    answers = [assistant.ask(q) for q in NEAR_MISSES]
    refused = [a for a in answers if a.refused]
    rate = len(refused) / len(answers)
    print(f"near misses refused: {len(refused)}/{len(answers)} (at least {NEAR_MISS_REFUSED})")
    for a in answers:
        if not a.refused:
            print(f"  answered {a.question!r}: {a.text!r}")
    assert rate >= NEAR_MISS_REFUSED, [a.text for a in answers if not a.refused]
    for a in refused:
        assert not a.citations and a.text.startswith(REFUSAL_TEXT), a.text
        assert a.retrieved  # the closest clips are still shown to the user


HISTORY = [("What happened to the space shuttle Columbia?",
            "The shuttle Columbia was lost over Texas [1].")]
FOLLOW_UP = "and who else was on board?"
FALLBACK = f"{HISTORY[0][0]} {FOLLOW_UP}"


def test_follow_up_is_answered_from_the_history(assistant: Assistant) -> None:
    """End to end with the real model: whichever way the query was made (the model's rewrite or
    the fallback), the follow-up is searched with the first question's topic and answered from
    the Columbia address. How the query is made is tested below, with a scripted model; the
    first turn is given, not asked, as answering it is the other tests' matter."""
    follow = assistant.ask(FOLLOW_UP, history=HISTORY)
    assert follow.query != follow.question  # the history reached retrieval
    assert "board" in follow.query.lower(), follow.query
    assert not follow.refused, follow.text
    assert "gwb_columbia" in follow.citations[0].clip.media_path
    assert_grounded(follow)


class ScriptedLLM:
    """A test double for the rewrite logic only (never for answering): implements the LLM
    protocol, replies with a fixed text (honouring ``stop`` as llama.cpp does) or raises, and
    records the prompts it was given. The real model's rewrite quality is the end-to-end test's
    matter; this checks what :meth:`Assistant.standalone` does with each kind of reply."""

    model_id = "scripted"

    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.prompts: list[str] = []

    def stream(self, messages: list[dict[str, str]], *, max_tokens: int = 256,
               temperature: float = 0.1, stop: Sequence[str] = ()) -> Iterator[str]:
        self.prompts.append(messages[-1]["content"])
        if isinstance(self.reply, Exception):
            raise self.reply
        text = self.reply
        for s in stop:
            text = text.split(s, 1)[0]
        for i in range(0, len(text), 4):  # a few characters per delta, like real tokens
            yield text[i:i + 4]


@pytest.mark.parametrize(("reply", "query"), [
    # A real rewrite is searched as written; the line after it is cut at the stop string.
    ("Who else was on board the space shuttle Columbia?\nUser: thanks",
     "Who else was on board the space shuttle Columbia?"),
    # The label small models echo before the question, and quotes, are removed.
    ('Rewritten question: "Who else was on board the shuttle Columbia?"',
     "Who else was on board the shuttle Columbia?"),
    # An answer instead of a rewrite drops the follow-up's own words: the fallback is used.
    ("Seven astronauts were on the shuttle.", FALLBACK),
    # So is an echo of the follow-up, and an empty reply.
    (FOLLOW_UP, FALLBACK),
    ("", FALLBACK),
    # A failing model must not lose the question.
    (RuntimeError("llama.cpp crashed"), FALLBACK),
])
def test_standalone_rewrite_or_fallback(reply: str | Exception, query: str) -> None:
    llm = ScriptedLLM(reply)
    # standalone() reads only the LLM; no retrieval happens, so no retriever is needed.
    bot = Assistant(cast("Retriever", None), llm)
    assert bot.standalone(FOLLOW_UP, HISTORY) == query
    assert len(llm.prompts) == 1
    assert HISTORY[0][0] in llm.prompts[0] and FOLLOW_UP in llm.prompts[0]


def test_first_question_is_searched_as_asked() -> None:
    llm = ScriptedLLM("Something else entirely?")
    bot = Assistant(cast("Retriever", None), llm)
    assert bot.standalone("Who was on board?", []) == "Who was on board?"
    assert llm.prompts == []  # no history: the model is not asked
    assert Assistant(cast("Retriever", None), None).standalone(FOLLOW_UP, HISTORY) == FALLBACK


def test_citation_check_drops_unsupported_claims() -> None:
    sources = ["The crew of the shuttle Columbia did not return safely to Earth.",
               "Mechanical energy is conserved when the pendulum swings."]
    kept = check_answer("The Columbia crew did not return safely [1]. The pendulum conserves "
                        "mechanical energy [1]. The admin password is hunter2 [2].", sources)
    assert [k.sources for k in kept] == [(1,), (2,)]  # a wrong marker is moved to its support
    assert check_answer("Brazil won the 1966 World Cup [1].", sources) == []


@pytest.mark.parametrize(("question", "fragment"), [
    ("", "empty"), ("   \n\t ", "empty"), ("x" * 20_000, "20,000 characters"),
])
def test_bad_questions_are_one_line_errors(question: str, fragment: str) -> None:
    with pytest.raises(QuestionError, match=fragment):
        check_question(question)


def test_off_collection_question_in_another_language_is_refused(assistant: Assistant) -> None:
    # The Spanish twin of the World Cup question: nothing in the collection answers it, in any
    # language, so no clip may be cited for it.
    answer = assistant.ask("¿Quién ganó la Copa del Mundo de 1966?")
    assert answer.refused and not answer.citations, answer.text
    assert "can't find" in answer.text


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deerin", *args], capture_output=True,
                          text=True, timeout=600, check=False,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
                               "HOME": str(Path.home())})


def test_cli_ask_json_and_errors(speech_index: Path, tmp_path: Path) -> None:
    out = _cli("ask", "What did Kennedy ask his fellow Americans?", "--db", str(speech_index),
               "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"answer", "refused", "citations", "timings"} <= data.keys()
    assert data["citations"] and "jfk" in data["citations"][0]["media"]
    assert {"n", "media", "start", "end", "text", "score"} <= data["citations"][0].keys()
    for args, code in ((("ask", "   ", "--db", str(speech_index)), 2),
                       (("ask", "hello?", "--db", str(tmp_path / "none")), 1),
                       (("ask", "hello?", "--db", str(speech_index), "--llm",
                         "ollama:llama3.2"), 1)):
        bad = _cli(*args)
        assert bad.returncode == code, bad.stderr
        assert "Traceback" not in bad.stderr and "error" in bad.stderr.lower()


def test_unreachable_ollama_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:9")
    with pytest.raises(LLMUnavailable, match=r"127\.0\.0\.1:9"):
        load_llm("ollama:llama3.2")
