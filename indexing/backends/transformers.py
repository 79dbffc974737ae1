"""Keyframe captions with a transformers image-to-text model (BLIP, a VisionEncoderDecoder, ...).

The model is named by ``DEERIN_CAPTION_MODEL``: a Hugging Face name (downloaded by transformers
on first use: online machines only) or a local folder saved with ``save_pretrained``. No
captioning weights ship on PyPI, so captions are off by default. torch and transformers are
imported only when the model is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from indexing.media import file_hash
from indexing.types import content_id

DISABLED_MESSAGE = ("keyframe captions disabled: no captioning model; set DEERIN_CAPTION_MODEL "
                    "and run `deerin enrich --captions`")
_MAX_TOKENS = 30


class CaptionerError(ValueError):
    """A caption model setting that cannot be used."""


class HFCaptioner:
    """A :class:`~indexing.protocols.Captioner` on a transformers image-to-text model."""

    def __init__(self, spec: str, max_tokens: int = _MAX_TOKENS, min_tokens: int = 2) -> None:
        self.spec = spec.strip()
        if not self.spec:
            raise CaptionerError(DISABLED_MESSAGE)
        self.folder = Path(self.spec).expanduser()
        if ("/" in self.spec or self.spec.startswith((".", "~"))) and not self.folder.is_dir() \
                and self.spec.count("/") != 1:
            raise CaptionerError(f"{self.spec}: no such model folder")
        self.max_tokens = max_tokens
        self.min_tokens = min_tokens
        self.model_id = _model_id(self.spec, self.folder)
        self._model: Any = None
        self._images: Any = None  # image processor (or a multimodal processor)
        self._tokenizer: Any = None

    @property
    def local(self) -> bool:
        """Whether the model is a folder on disk (else a Hugging Face name)."""
        return self.folder.is_dir()

    def _load(self) -> None:
        if self._model is not None:
            return
        import transformers as tf

        where = str(self.folder) if self.local else self.spec
        opts: dict[str, Any] = {"local_files_only": self.local}
        config = tf.AutoConfig.from_pretrained(where, **opts)
        if config.model_type == "vision-encoder-decoder":
            self._model = tf.VisionEncoderDecoderModel.from_pretrained(where, **opts)
            self._images = tf.AutoImageProcessor.from_pretrained(where, **opts)
            self._tokenizer = tf.AutoTokenizer.from_pretrained(where, **opts)
        else:  # BLIP, GIT, ...: one processor does pixels and text
            # transformers 5 names the class AutoModelForImageTextToText; 4.x Vision2Seq.
            auto: Any = getattr(tf, "AutoModelForImageTextToText", None) \
                or getattr(tf, "AutoModelForVision2Seq")  # noqa: B009
            self._model = auto.from_pretrained(where, **opts)
            self._images = tf.AutoProcessor.from_pretrained(where, **opts)
            self._tokenizer = getattr(self._images, "tokenizer", self._images)
        self._model.eval()

    def caption(self, images: Sequence[Path]) -> list[str]:
        """One caption per image file (an empty string when the model says nothing)."""
        import torch
        from PIL import Image

        if not images:
            return []
        self._load()
        pictures = []
        for path in images:
            with Image.open(path) as im:
                pictures.append(im.convert("RGB"))
        inputs = self._images(images=pictures, return_tensors="pt")
        pixel_values = inputs["pixel_values"]
        with torch.inference_mode():
            out = self._model.generate(pixel_values=pixel_values,
                                       max_new_tokens=self.max_tokens,
                                       min_new_tokens=self.min_tokens, num_beams=1,
                                       do_sample=False)
        texts = self._tokenizer.batch_decode(out, skip_special_tokens=True)
        return [" ".join(t.split()) for t in texts]


def _model_id(spec: str, folder: Path) -> str:
    """A stable name: a folder is named by a hash of its weights, so two folders holding
    different models never share cached captions."""
    if not folder.is_dir():
        return f"hf:{spec}"
    weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    digest = content_id(*(file_hash(w) for w in weights))[:12] if weights else "noweights"
    return f"local:{folder.name}:{digest}"


def caption_status(spec: str | None) -> tuple[bool, str]:
    """Whether captions can run, and a sentence saying so (loads nothing)."""
    value = (spec or "").strip()
    if not value:
        return False, DISABLED_MESSAGE
    try:
        captioner = HFCaptioner(value)
    except CaptionerError as exc:
        return False, f"keyframe captions disabled: {exc}"
    if captioner.local:
        return True, f"transformers folder {captioner.folder} (`deerin enrich --captions`)"
    return True, (f"transformers {value} (downloaded on first use: needs a network; "
                  "`deerin enrich --captions`)")
