"""What the answering LLM reads, and how its reply is read back.

Sources are plain ``[n] text`` lines after a one-shot example: with file names and times in
front, small models copied them into answers and invented timestamps, and an example shows the
form (the fact first, its source number after it) better than any instruction does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import prompts
from assistant.calibration import SOURCE_CHARS
from assistant.llm import Message
from assistant.retrieval import Evidence


def source_text(e: Evidence, budget: int = SOURCE_CHARS) -> str:
    """A source's text for the LLM: the clip, widened with its neighbours up to ``budget``.

    Prompt length is what a CPU model pays for first, so neighbours only fill a clip that is
    short.
    """
    text = e.hit.clip.text
    room = budget - len(text)
    if room > 40 and e.context_before:
        text = "…" + e.context_before[-room // 2:] + " " + text
    room = budget - len(text)
    if room > 40 and e.context_after:
        text = text + " " + e.context_after[:room] + "…"
    # Sources are data: newlines and brackets are flattened so a transcript cannot fake a
    # new source line or a citation marker.
    return " ".join(text.replace("[", "(").replace("]", ")").split())


def build_messages(question: str, evidence: Sequence[Evidence]) -> list[Message]:
    """The chat messages for the answering LLM: a one-shot example, then numbered sources and
    the question. The example sits in the fixed prefix a backend can reuse."""
    blocks = [f"[{i}] {source_text(e)}" for i, e in enumerate(evidence, 1)]
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
