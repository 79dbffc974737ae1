"""What every LLM backend is: the message type and the streaming protocol (defined in
:mod:`indexing.protocols`), one optional capability, and the errors. Every backend and caller
imports it; it imports no heavy library.

The design follows simonw/llm's pluggable models: answering code sees an object with a
``model_id`` and a ``stream`` method and never knows whether tokens come from an embedded
llama.cpp or from an Ollama server. Backends are chosen by name in :mod:`assistant.llm.registry`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

# The LLM contract is shared with index-time enrichment, so it lives in the lowest layer.
from indexing.protocols import LLM, Message, complete

__all__ = ["LLM", "ChoiceScorer", "LLMError", "LLMUnavailable", "LLMUsageError", "Message",
           "complete"]

class LLMError(Exception):
    """A failure of an LLM backend whose message is one clear line meant for the user."""


class LLMUnavailable(LLMError):
    """The model cannot be used here: a missing package or file, an unreachable server, a model
    not pulled. The message says what to do about it (the CLI exits 1)."""


class LLMUsageError(LLMError):
    """The spec itself is wrong: malformed, or naming no known backend or tier (the CLI exits
    2). The message shows the accepted forms."""


@runtime_checkable
class ChoiceScorer(Protocol):
    """A backend that can say, from one prompt evaluation, how likely each short reply is.

    Meant for yes/no checks ("does this passage answer the question?"): no sampling loop, so a
    check costs about one prompt evaluation.
    """

    def choice_logprobs(self, messages: list[Message], choices: Sequence[str]) -> list[float]:
        """One natural-log probability per choice that the assistant's reply starts with it.

        Only the first token of each choice counts, so choices should differ in their first
        token ("yes"/"no", "A"/"B"); choices that share one get the same value. Each backend
        documents how it treats case and leading spaces.
        """
        ...
