"""Which retrieval mode a question needs, when the user leaves it to DEERIn (``auto``).

The rule is structural, not a list of example questions. A question whose every word speaks
about the collection itself, none about its content ("what are the main themes of these
recordings?"), gets ``global`` (community reports). Any other question that links an entity
gets ``hybrid``: ordinary retrieval's first hits kept in place (the whole top five for a
question after one answer, so single answers rank exactly as in ``naive``), the graph's clips
fused after them. One that links nothing gets ``naive``, which is what ``hybrid`` gives it
anyway. A question with content words never goes to ``global`` merely because it links no
entity ("in which clips does something squawk?"): its words are better searched than summarised.
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


def pick_mode(question: str, links: Sequence[Link], content: Sequence[str] = ()) -> str:
    """``global``, ``hybrid`` or ``naive`` for ``question`` given the entities it links and its
    content words (:meth:`~assistant.graph.linking.EntityLinker.content_words`: no stop words,
    no words about the collection)."""
    if not content and _COLLECTION & set(tokens(question)):
        return "global"
    return "hybrid" if links else "naive"


def check_mode(mode: str) -> str:
    """``mode`` lower-cased, or ValueError naming the valid ones."""
    m = (mode or "").strip().lower()
    if m not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    return m
