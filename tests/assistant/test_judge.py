"""The judge's thresholds: measured ones for the shipped model files exactly, the contextual rule
for any other model."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from assistant.calibration import JUDGES, judge_calibration
from assistant.judge import CONTENT_FREE, Judge
from assistant.llm import Message
from weights.catalogue import QWEN_CODER_05B, QWEN_CODER_15B


def test_measured_thresholds_belong_to_the_shipped_files_exactly() -> None:
    files = [m.members[0].name for m in (QWEN_CODER_15B, QWEN_CODER_05B)]
    assert set(JUDGES) == set(files)
    assert judge_calibration(f"llamacpp:{files[0]}") == JUDGES[files[0]]
    # Another quantisation, or the same model through Ollama, leans its own way.
    assert judge_calibration("llamacpp:qwen2.5-coder-1.5b-instruct-q8_0.gguf") is None
    assert judge_calibration("ollama:qwen2.5-coder:1.5b") is None


class LeaningScorer:
    """A stand-in for a model (unit test of the arithmetic, no model): it leans to "no" by 1
    nat whatever the passage, and says "yes" 0.5 nats more often when the passage is real."""

    model_id = "ollama:some-model"

    def __init__(self) -> None:
        self.passages: list[str] = []

    def choice_logprobs(self, messages: list[Message], choices: Sequence[str]) -> list[float]:
        content = messages[-1]["content"]
        real = CONTENT_FREE not in content
        self.passages.append("real" if real else "content-free")
        yes = -1.5 + (0.5 if real else 0.0)
        return [yes, -0.5]


def test_an_unmeasured_model_is_compared_with_its_own_reading_of_a_content_free_passage() -> None:
    scorer = LeaningScorer()
    judge = Judge(scorer)  # type: ignore[arg-type]
    assert judge.calibration is None
    # Raw log-odds -0.5 (a "no" by zero's rule), but 0.5 above what the wording alone earns.
    said = "The ferry leaves at six."
    assert judge.states(said, said) == pytest.approx(0.5)
    assert scorer.passages == ["real", "content-free"]
    assert judge.answers("When does the ferry leave?", "It leaves at six.") == pytest.approx(0.5)
