"""An LLM that reads: does this passage answer the question, does it state this sentence?

Refusals and citation checks are decided from evidence a model has read, not from lists of
question words: the answering model is asked a yes/no question about one passage and the
probability it gives "yes" against "no" is read off the logits of its first reply token
(:class:`~assistant.llm.ChoiceScorer`), one prompt evaluation and no sampling. Small models
lean towards one answer whatever the passage, so the raw log-odds are not compared with zero:
for a model whose leaning was measured, with its own thresholds (:data:`~assistant.calibration.
JUDGES`, keyed by the exact model file); for any other, with the log-odds the same question
gets about a content-free passage (contextual calibration), so no constant is fitted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import prompts
from assistant.calibration import judge_calibration
from assistant.llm import ChoiceScorer, Message

# What a content-free passage says: a model's log-odds about it are its leaning alone.
CONTENT_FREE = "N/A"
# Judged passages are cut to this many characters: prompt evaluation is what a check costs.
PASSAGE_CHARS = 600


class Judge:
    """Yes/no reading checks by one LLM that can score choices."""

    def __init__(self, llm: ChoiceScorer) -> None:
        self.llm = llm
        self.calibration = judge_calibration(self.model_id)  # None: the contextual rule

    @property
    def model_id(self) -> str:
        return str(getattr(self.llm, "model_id", "llm"))

    def log_odds(self, messages: list[Message]) -> float:
        """log P(yes) - log P(no) for the reply to ``messages``."""
        yes, no = self.llm.choice_logprobs(messages, ("yes", "no"))
        if math.isinf(yes) and math.isinf(no):
            return 0.0
        return yes - no

    def answers(self, question: str, passage: str) -> float:
        """How far the log-odds that ``passage`` states the answer to ``question`` lie above
        where this model's "yes" begins: positive means it does (see :meth:`_margin`)."""
        return self._margin("judge_answers", "answers", passage, question=question)

    def states(self, statement: str, passage: str) -> float:
        """How far the log-odds that ``passage`` states ``statement`` lie above where this
        model's "yes" begins: positive means it does (see :meth:`_margin`)."""
        return self._margin("judge_supports", "states", passage, statement=statement)

    def best_answering(self, question: str, passages: Sequence[str]) -> tuple[int, float]:
        """The index of the passage most likely to answer ``question``, and its margin."""
        scores = [self.answers(question, p) for p in passages]
        best = max(range(len(scores)), key=scores.__getitem__)
        return best, scores[best]

    def _margin(self, prompt: str, check: str, passage: str, **values: str) -> float:
        """The log-odds of ``prompt`` about ``passage`` less the model's measured threshold for
        ``check``; for a model without one, less the log-odds of the same prompt about a
        content-free passage (contextual calibration: what the wording alone earns)."""
        odds = self.log_odds(_messages(prompt, passage=_cut(passage), **values))
        if self.calibration is not None:
            return odds - float(getattr(self.calibration, check))
        return odds - self.log_odds(_messages(prompt, passage=CONTENT_FREE, **values))


def _cut(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= PASSAGE_CHARS else text[:PASSAGE_CHARS].rsplit(" ", 1)[0] + "…"


def _messages(name: str, **values: str) -> list[Message]:
    return [{"role": "system", "content": prompts.load_prompt("judge_system")},
            {"role": "user", "content": prompts.render(name, **values)}]


def judge_for(llm: object) -> Judge | None:
    """A judge over ``llm`` when it can score choices, else ``None`` (the checks then rest on
    the lexical rules alone)."""
    return Judge(llm) if isinstance(llm, ChoiceScorer) else None
