"""What every LLM backend is: the message type, the streaming protocol, one optional capability,
and the errors. A leaf module (standard library only) that every backend and caller imports.

The design follows simonw/llm's pluggable models: answering code sees an object with a
``model_id`` and a ``stream`` method and never knows whether tokens come from an embedded
llama.cpp or from an Ollama server. Backends are chosen by name in :mod:`assistant.llm.registry`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

Message = dict[str, str]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": text}``."""


class LLMError(Exception):
    """A failure of an LLM backend whose message is one clear line meant for the user."""


class LLMUnavailable(LLMError):
    """The model cannot be used here: a missing package or file, an unreachable server, a model
    not pulled. The message says what to do about it (the CLI exits 1)."""


class LLMUsageError(LLMError):
    """The spec itself is wrong: malformed, or naming no known backend or tier (the CLI exits
    2). The message shows the accepted forms."""


@runtime_checkable
class LLM(Protocol):
    """A chat model that streams its answer."""

    model_id: str

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.1,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply to ``messages`` as text deltas.

        Generation ends at ``max_tokens``, at the model's end of turn, or just before the first
        ``stop`` string, which is not yielded. Raises :class:`LLMError` (or its subclasses).
        """
        ...


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


def complete(
    llm: LLM,
    messages: list[Message],
    *,
    max_tokens: int = 256,
    temperature: float = 0.1,
    stop: Sequence[str] = (),
) -> str:
    """The whole reply of ``llm`` to ``messages`` as one string (the joined stream)."""
    return "".join(llm.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop))
