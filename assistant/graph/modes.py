"""Which retrieval mode a question needs, when the user leaves it to DEERIn (``auto``).

The rule is structural, not a list of example questions: a question that names something in
the graph gets ``hybrid`` (the graph's clips fused with ordinary retrieval, which keeps what
ordinary retrieval finds); one that names nothing but speaks about the collection as a whole
("what are the main themes of these recordings?") gets ``global``; anything else ``naive``.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.graph.linking import Link
from indexing.text import tokens

MODES = ("auto", "naive", "local", "global", "hybrid")
# Words by which a question speaks of the collection as a whole.
_COLLECTION = frozenset("""
collection archive archives recordings files films videos clips footage themes topics subjects
overall overview main summarise summarize summary
""".split())


def pick_mode(question: str, links: Sequence[Link]) -> str:
    """``hybrid``, ``global`` or ``naive`` for ``question`` given the entities it links."""
    if any(link.by == "name" for link in links):
        return "hybrid"
    if _COLLECTION & set(tokens(question)):
        return "global" if not links else "hybrid"
    return "hybrid" if links else "naive"


def check_mode(mode: str) -> str:
    """``mode`` lower-cased, or ValueError naming the valid ones."""
    m = (mode or "").strip().lower()
    if m not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    return m
