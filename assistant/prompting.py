"""What the answering LLM reads, and how its reply is read back.

Sources are plain ``[n] text`` lines (the passages nearest the question, see
:mod:`assistant.passages`) after a one-shot example: with file names and times in front, small
models copied them into answers and invented timestamps, and an example shows the form (the
fact first, its source number after it) better than any instruction does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import prompts
from assistant.llm import Message


def source_line(n: int, text: str) -> str:
    """One numbered source line. Sources are data: newlines and brackets are flattened so a
    transcript cannot fake a new source line or a citation marker."""
    return f"[{n}] " + " ".join(text.replace("[", "(").replace("]", ")").split())


def build_messages(question: str, sources: Sequence[str]) -> list[Message]:
    """The chat messages for the answering LLM: a one-shot example, then numbered sources and
    the question. Everything before the last message is fixed, so a backend evaluates it once
    (:class:`~assistant.llm.llamacpp.LlamaCppLLM` caches it)."""
    blocks = [source_line(i, t) for i, t in enumerate(sources, 1)]
    return [
        {"role": "system", "content": prompts.load_prompt("answer_system")},
        {"role": "user", "content": prompts.load_prompt("answer_example_user")},
        {"role": "assistant", "content": prompts.load_prompt("answer_example_assistant")},
        {"role": "user", "content": prompts.render("answer_user", sources="\n".join(blocks),
                                                   question=question)},
    ]


_LEADING_MARKERS = re.compile(r"^\s*((?:\[\d+(?:\s*,\s*\d+)*\]\s*)+)(.+)$", re.S)


def lead_marker_last(raw: str) -> str:
    """``"[1] Houston."`` -> ``"Houston [1]."``: small models put the number first, copying
    the way sources are listed; the citation checks expect markers after the words."""
    m = _LEADING_MARKERS.match(raw)
    if not m:
        return raw
    body = m.group(2).strip()
    end = body[-1] if body[-1:] in ".!?" else ""
    return f"{body.rstrip('.!?')} {m.group(1).strip()}{end or '.'}"
