"""Which retrieval mode a question needs, when the user leaves it to DEERIn (``auto``).

The rule is structural, not a list of example questions: a question after a *set* of places
(its grammar says so, :mod:`assistant.graph.intent`: "which recordings …", "every clip …") or
naming several things in the graph by name (a relation) gets ``hybrid`` (the graph's clips
fused after ordinary retrieval's best hits); one that links nothing but speaks about the
collection as a whole ("what are the main themes of these recordings?") gets ``global``;
anything else, a question after one answer, ``naive``: there the graph only adds noise
(measured on eval/sets/dev.jsonl, README "Knowledge graph").
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.graph.intent import Intent
from assistant.graph.linking import Link
from indexing.text import tokens

MODES = ("auto", "naive", "local", "global", "hybrid")
# Words by which a question speaks of the collection as a whole.
_COLLECTION = frozenset("""
collection archive archives recordings files films videos clips footage themes topics subjects
overall overview main summarise summarize summary
""".split())


def pick_mode(question: str, links: Sequence[Link], intent: Intent | None = None,
              named: int = 0) -> str:
    """``hybrid``, ``global`` or ``naive`` for ``question`` given the entities it links, its
    parsed :class:`~assistant.graph.intent.Intent` (None: not parsed, not aggregate) and how
    many *named* entities (people, places, …; not concepts) it names."""
    aggregate = intent is not None and intent.aggregate
    if links and (aggregate or named >= 2):
        return "hybrid"
    if not links and _COLLECTION & set(tokens(question)):
        return "global"
    return "naive"


def check_mode(mode: str) -> str:
    """``mode`` lower-cased, or ValueError naming the valid ones."""
    m = (mode or "").strip().lower()
    if m not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    return m
