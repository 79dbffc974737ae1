"""Text embeddings with the shipped all-MiniLM-L6-v2."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.protocols import Embedder
from indexing.settings import Settings
from indexing.stages.embed import SentenceEmbedder, embedder_from_settings
from weights import MINILM

ONLINE_ID = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    e = SentenceEmbedder()
    e.load()
    return e


def test_id_and_dim_are_known_before_loading() -> None:
    e = SentenceEmbedder()
    assert isinstance(e, Embedder)
    assert (e.model_id, e.dim) == (ONLINE_ID, 384)
    assert e._model is None
    # Offline and online spellings of the same model give the same id, so their stores match.
    shipped = MINILM.path()
    assert shipped is not None
    for alias in (ONLINE_ID, "all-MiniLM-L6-v2", str(shipped)):
        assert SentenceEmbedder(alias).model_id == ONLINE_ID
    assert SentenceEmbedder("BAAI/bge-small-en-v1.5").model_id == "BAAI/bge-small-en-v1.5"
    assert embedder_from_settings(Settings()).model_id == ONLINE_ID


def test_vectors_are_normalised_float32(embedder: SentenceEmbedder) -> None:
    texts = ["Hildy!", "Somebody must've stolen the crown jewels", "", "x " * 2000]
    vectors = embedder.embed_texts(texts)
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32 and vectors.flags["C_CONTIGUOUS"]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vectors).all()


def test_empty_input(embedder: SentenceEmbedder) -> None:
    out = embedder.embed_texts([])
    assert out.shape == (0, 384) and out.dtype == np.float32
    with pytest.raises(TypeError):
        embedder.embed_texts("a single string")  # type: ignore[arg-type]


def test_paraphrase_beats_unrelated_text(embedder: SentenceEmbedder) -> None:
    query, paraphrase, unrelated = embedder.embed_texts([
        "The space shuttle broke apart and the astronauts died.",
        "Columbia was lost on re-entry and none of the crew survived.",
        "Add two eggs to the flour and whisk until smooth.",
    ])
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.2


def test_batching_does_not_change_vectors(embedder: SentenceEmbedder) -> None:
    texts = [f"clip {i}: the sailor fights a giant bird on the island" for i in range(70)]
    together = embedder.embed_texts(texts)
    one_by_one = np.vstack([embedder.embed_texts([t]) for t in texts[:3]])
    assert np.allclose(together[:3], one_by_one, atol=1e-5)
    # Identical texts anywhere in the batch get the same vector.
    again = embedder.embed_texts([texts[5], texts[69]])
    assert np.allclose(again, together[[5, 69]], atol=1e-5)
