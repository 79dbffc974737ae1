"""The chat's ``/compare`` command: one question answered by two configurations side by side.

    /compare Where was mission control?               the two sides of DEERIN_COMPARE
    /compare [fast | default] Where was ...?          two LLM tiers
    /compare [rerank=on | rerank=off] Where was ...?  rerank on and off, the server's LLM
    /compare [tiny+rerank=off | default] ...          both at once

A side is ``+``-joined parts: an LLM spec (a tier, ``ollama:MODEL``, a GGUF path, or
``llm=SPEC``) and ``rerank=on|off``; what a side leaves out is the server's. Without brackets
the sides come from ``DEERIN_COMPARE`` (default ``default | fast``). Each side's answer comes
with its citations (playable) and its timings.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.web.extensions import ChatHost, CommandReply, Player
from config import Config

if TYPE_CHECKING:
    from assistant.answer import Answer
    from assistant.retrieval import Retriever

DEFAULT_SIDES = "default | fast"


class CompareUsage(ValueError):
    """A ``/compare`` argument that cannot be understood (the message says how to write it)."""


@dataclass(frozen=True)
class Side:
    """One configuration of a comparison: an LLM spec and a rerank switch (``None``: the
    server's)."""

    llm: str | None = None
    rerank: bool | None = None

    @property
    def label(self) -> str:
        parts = [self.llm or "server LLM"]
        if self.rerank is not None:
            parts.append("rerank on" if self.rerank else "rerank off")
        return ", ".join(parts)


def parse_side(text: str) -> Side:
    """``fast``, ``rerank=off``, ``llm=ollama:llama3.2+rerank=on`` → :class:`Side`."""
    llm: str | None = None
    rerank: bool | None = None
    for part in (p.strip() for p in text.split("+")):
        if not part:
            raise CompareUsage(f"empty part in {text!r}")
        key, sep, value = part.partition("=")
        if sep and key.strip().lower() == "rerank":
            flag = value.strip().lower()
            if flag not in ("on", "off"):
                raise CompareUsage(f"rerank must be on or off, got {value!r}")
            rerank = flag == "on"
        elif sep and key.strip().lower() == "llm":
            llm = value.strip() or None
        elif sep and key.strip().lower() not in ("ollama", "llamacpp"):
            raise CompareUsage(f"unknown setting {key!r} (use llm=SPEC or rerank=on|off)")
        else:
            llm = part
    return Side(llm, rerank)


def parse_argument(argument: str, env: Mapping[str, str] | None = None
                   ) -> tuple[Side, Side, str]:
    """The two sides and the question of a ``/compare`` argument."""
    env = os.environ if env is None else env
    text = argument.strip()
    sides = Config.from_env(env)["chat.compare"]
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise CompareUsage("missing ] after the two sides: /compare [A | B] QUESTION")
        sides, text = text[1:close], text[close + 1:].strip()
    parts = sides.split("|")
    if len(parts) != 2:
        raise CompareUsage(f"two sides separated by | are needed, got {sides!r}")
    if not text:
        raise CompareUsage("no question: /compare [A | B] QUESTION")
    return parse_side(parts[0]), parse_side(parts[1]), text


class CompareCommand:
    """``/compare``: see the module docstring."""

    name = "compare"
    description = "answer one question with two configurations side by side"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._retrievers: dict[tuple[int, bool], Retriever] = {}

    def run(self, service: ChatHost, argument: str) -> CommandReply:
        """Answer the question with both sides, one after the other (same machine, same
        index), and show them side by side."""
        try:
            a, b, question = parse_argument(argument)
        except CompareUsage as exc:
            return CommandReply(f"**/compare:** {exc}")
        lines = [f"**Compare:** {question}", ""]
        players: list[Player] = []
        rows = []
        for tag, side in (("A", a), ("B", b)):
            answer, seconds, note = self._answer(service, side, question)
            head = f"### {tag}: {side.label}"
            lines += [head, ""]
            if note:
                lines += [f"_{note}_", ""]
            lines += [answer.text or "(no answer)", ""]
            for c in answer.citations:
                start = c.start if c.start >= 0 else c.clip.start
                end = c.end if c.end >= 0 else c.clip.end
                lines.append(f"- [{c.n}] {c.label}")
                players.append(Player(f"{tag} [{c.n}] {c.label}",
                                      service.media_url(c.clip, start=start, end=end),
                                      audio=service.is_audio_only(c.clip)))
            lines.append("")
            t = answer.timings
            rows.append(f"| {tag} | {side.label} | {seconds:.1f} | "
                        f"{_s(t.get('retrieval_s'))} | {_s(t.get('first_token_s'))} | "
                        f"{len(answer.citations)} | {'yes' if answer.refused else 'no'} |")
        lines += ["| side | configuration | total s | retrieval s | first token s | "
                  "citations | refused |", "|---|---|---|---|---|---|---|", *rows]
        return CommandReply("\n".join(lines), tuple(players), question=question,
                            sides=(f"A: {a.label}", f"B: {b.label}"))

    def _answer(self, service: ChatHost, side: Side,
                question: str) -> tuple[Answer, float, str | None]:
        from assistant.answer import Assistant

        base, note = service.assistant(side.llm)
        retriever = self._retriever(service, base.retriever, side.rerank)
        bot = Assistant(retriever, base.llm, k=base.k, max_tokens=base.max_tokens)
        if note:
            note = f"LLM unavailable, the best passage is quoted: {note}"
        t0 = time.perf_counter()
        answer = bot.ask(question)
        return answer, time.perf_counter() - t0, note

    def _retriever(self, service: ChatHost, base: Retriever,
                   rerank: bool | None) -> Retriever:
        """The server's retriever, or one over the same index with rerank on or off (kept, so
        the rerank model loads once)."""
        from assistant.retrieval import Retriever
        from assistant.settings import RERANK_OFF, AssistantSettings

        server_reranks = AssistantSettings.from_env().rerank != RERANK_OFF
        if rerank is None or rerank == server_reranks:
            return base
        key = (id(base), rerank)
        with self._lock:
            found = self._retrievers.get(key)
            if found is None:
                self._retrievers = {k: v for k, v in self._retrievers.items() if k[0] == id(base)}
                found = Retriever(base.store, base.settings, base.embedder,
                                  reranker="default" if rerank else "off", policy=base.policy)
                self._retrievers[key] = found
            return found


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
