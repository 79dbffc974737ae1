"""Image and text embeddings with open_clip, for picture search (:mod:`indexing.stages.picture`):
keyframes and search texts in one joint space, so a typed description finds the shots that look
like it.

No PyPI package ships CLIP weights and this project downloads nothing at run time, so the stage
is off unless ``DEERIN_CLIP_MODEL`` names weights: a local folder in open_clip's layout
(``open_clip_config.json`` + ``open_clip_model.safetensors``), ``NAME@TAG`` for open_clip's own
pretrained tags (downloaded by open_clip on first use, online machines only), ``NAME@FILE`` for
a checkpoint file, or ``hf-hub:ORG/REPO``. torch and open_clip are imported only when a model
is built.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from indexing.media import file_hash
from indexing.types import content_id

if TYPE_CHECKING:
    pass

OFF_WORDS = frozenset({"", "off", "none", "no"})
DISABLED_MESSAGE = "shot search disabled: no CLIP weights; set DEERIN_CLIP_MODEL"
# open_clip and the torchvision it imports come with the `visual` extra, not the default install.
VISUAL_MODULES = ("open_clip", "torchvision")
VISUAL_MISSING = "picture search needs the visual extra: pip install 'deerin[visual]'"
_CONFIG = "open_clip_config.json"
_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
_BATCH = 16


class ClipSpecError(ValueError):
    """A ``DEERIN_CLIP_MODEL`` value that names no usable model (or none this install can run:
    the ``visual`` extra is missing)."""


def visual_missing() -> tuple[str, ...]:
    """The modules of the ``visual`` extra that are not installed (found on disk, not imported:
    importing torch and open_clip takes seconds)."""
    import importlib.util

    missing = []
    for module in VISUAL_MODULES:
        try:
            if importlib.util.find_spec(module) is None:
                missing.append(module)
        except ValueError:  # imported already, without a spec: it is there
            pass
    return tuple(missing)


@dataclass(frozen=True, slots=True)
class ClipSpec:
    """What open_clip is asked to build: ``name`` (possibly ``local-dir:``/``hf-hub:``) and the
    ``pretrained`` tag or checkpoint file (None for the schema forms)."""

    name: str
    pretrained: str | None
    folder: Path | None = None  # the local model folder, for the ``local-dir:`` form

    @property
    def label(self) -> str:
        """How doctor and the app name the model."""
        if self.folder is not None:
            return f"open_clip folder {self.folder}"
        return f"open_clip {self.name}" + (f" @ {self.pretrained}" if self.pretrained else "")


def parse_clip_spec(spec: str | None) -> ClipSpec | None:
    """``None`` when picture search is off (empty or ``off``); raises :class:`ClipSpecError`
    for a value that cannot name weights (a bare architecture name would be random)."""
    value = (spec or "").strip()
    if value.lower() in OFF_WORDS:
        return None
    if value.startswith("hf-hub:"):
        return ClipSpec(value, None)
    if value.startswith("local-dir:"):
        value = value[len("local-dir:"):]
    path = Path(value).expanduser()
    if path.is_dir():
        if not (path / _CONFIG).is_file():
            raise ClipSpecError(f"{path}: no {_CONFIG} (an open_clip model folder holds it and "
                                f"one of {', '.join(_WEIGHTS)})")
        if not any((path / w).is_file() for w in _WEIGHTS):
            raise ClipSpecError(f"{path}: no weights ({' or '.join(_WEIGHTS)})")
        return ClipSpec(f"local-dir:{path.resolve()}", None, path.resolve())
    if "@" in value:
        name, _, pretrained = value.partition("@")
        if name and pretrained:
            return ClipSpec(name, pretrained)
    if "/" in value or value.startswith((".", "~")):
        raise ClipSpecError(f"{value}: no such model folder")
    raise ClipSpecError(f"{value!r}: give NAME@TAG (e.g. ViT-B-32@laion2b_s34b_b79k), "
                        "NAME@CHECKPOINT, hf-hub:ORG/REPO or a model folder")


class OpenClipEmbedder:
    """An :class:`~indexing.protocols.ImageEmbedder` on open_clip, built on first use."""

    def __init__(self, spec: ClipSpec) -> None:
        self.spec = spec
        self.model_id = _model_id(spec)
        self._model: Any = None
        self._preprocess: Any = None
        self._tokenizer: Any = None
        self._dim = 0
        self._loading = threading.Lock()  # chat sessions may search at once: load once

    def _load(self) -> None:
        with self._loading:
            if self._model is None:
                self._build()

    def _build(self) -> None:
        import open_clip
        import torch

        model, _, preprocess = open_clip.create_model_and_transforms(
            self.spec.name, pretrained=self.spec.pretrained, device="cpu")
        model.eval()
        self._tokenizer = open_clip.get_tokenizer(self.spec.name)
        self._preprocess = preprocess
        # The joint space's width: the text projection's output (every open_clip model has one).
        with torch.inference_mode():
            self._dim = int(model.encode_text(self._tokenizer(["a"])).shape[-1])
        self._model = model  # last: a half-built model is never taken for a loaded one

    @property
    def dim(self) -> int:
        """Width of the joint space (loads the model)."""
        self._load()
        return self._dim

    def embed_images(self, images: Sequence[Path]) -> np.ndarray:
        """One L2-normalised float32 row per image file."""
        import torch
        from PIL import Image

        self._load()
        rows = []
        for i in range(0, len(images), _BATCH):
            batch = []
            for path in images[i:i + _BATCH]:
                with Image.open(path) as im:
                    batch.append(self._preprocess(im.convert("RGB")))
            with torch.inference_mode():
                rows.append(self._model.encode_image(torch.stack(batch)).float().numpy())
        return _normalise(np.concatenate(rows) if rows else np.zeros((0, self.dim)))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalised float32 row per text (a search description)."""
        import torch

        self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with torch.inference_mode():
            out = self._model.encode_text(self._tokenizer(list(texts))).float().numpy()
        return _normalise(out)


def _normalise(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    return a / np.maximum(norms, 1e-12)


def _model_id(spec: ClipSpec) -> str:
    """A stable name of the weights: a folder is named by a hash of its weights, so two folders
    holding different models never share stored vectors."""
    if spec.folder is None:
        return f"open_clip:{spec.name}@{spec.pretrained}" if spec.pretrained \
            else f"open_clip:{spec.name}"
    weights = next(spec.folder / w for w in _WEIGHTS if (spec.folder / w).is_file())
    return f"open_clip:{spec.folder.name}:{content_id(file_hash(weights))[:12]}"


def clip_from_settings(settings: Any) -> OpenClipEmbedder | None:
    """The configured CLIP embedder, or ``None`` when picture search is off; raises
    :class:`ClipSpecError` for a setting that names no model."""
    spec = parse_clip_spec(getattr(settings, "clip_model", ""))
    if spec is None:
        return None
    if visual_missing():
        raise ClipSpecError(VISUAL_MISSING)
    return OpenClipEmbedder(spec)


def clip_status(spec_value: str | None) -> tuple[bool, str]:
    """Whether picture search is on, and a sentence saying so (for doctor and the app). Loads
    nothing: a folder is checked for its files, a name@tag is taken on trust (open_clip fetches
    it on first use, which needs a network)."""
    try:
        spec = parse_clip_spec(spec_value)
    except ClipSpecError as exc:
        return False, f"shot search disabled: DEERIN_CLIP_MODEL is unusable: {exc}"
    if spec is None:
        return False, DISABLED_MESSAGE
    if visual_missing():
        return False, f"shot search disabled: {VISUAL_MISSING}"
    if spec.folder is None:
        return True, f"{spec.label} (open_clip downloads it on first use: needs a network)"
    return True, spec.label






