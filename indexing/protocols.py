"""The small contracts every backend implements.

Each contract is one or two methods, so a new backend (another ASR engine, another embedder, a
remote store) only has to satisfy a few lines. Heavy libraries stay inside the implementations.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from indexing.types import Media, Segment, Shot, TextBox


@runtime_checkable
class Transcriber(Protocol):
    """Speech to text with word timestamps."""

    model_id: str

    def transcribe(self, audio: Path | np.ndarray) -> Iterator[Segment]:
        """Yield segments in time order as they are recognised."""
        ...


@runtime_checkable
class ShotDetector(Protocol):
    """Finds the cuts of a video and writes one keyframe per shot."""

    def detect(self, media: Media, keyframe_dir: Path | None = None) -> list[Shot]:
        """Return the shots of ``media`` in order, covering its whole duration."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Text (or image) to fixed-size unit vectors."""

    model_id: str

    @property
    def dim(self) -> int:
        """Length of every vector (a backend may load its model to learn it)."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim), L2-normalised, float32."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Return the (dim,) vector of a search query; asymmetric models (E5) mark it as one."""
        ...


@runtime_checkable
class ImageEmbedder(Protocol):
    """Images and texts into one joint space (CLIP-like)."""

    model_id: str
    dim: int

    def embed_images(self, images: Sequence[Path]) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class Captioner(Protocol):
    """Describes keyframes in words."""

    model_id: str

    def caption(self, images: Sequence[Path]) -> list[str]: ...


@runtime_checkable
class TextReader(Protocol):
    """On-screen text (OCR): the lines of text in each picture (BGR arrays, as OpenCV holds
    them), in reading order."""

    model_id: str

    def read(self, images: Sequence[np.ndarray]) -> list[list[TextBox]]: ...


@runtime_checkable
class FaceCounter(Protocol):
    """How many faces each picture (a BGR array) shows."""

    model_id: str

    def count(self, images: Sequence[np.ndarray]) -> list[int]: ...


Message = dict[str, str]
"""One chat message: ``{"role": "system" | "user" | "assistant", "content": text}``."""


@runtime_checkable
class LLM(Protocol):
    """A chat model that streams its answer."""

    model_id: str

    def stream(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 256,
        temperature: float = 0.1,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply to ``messages`` as text deltas.

        Generation ends at ``max_tokens``, at the model's end of turn, or just before the first
        ``stop`` string, which is not yielded. Raises :class:`LLMError` (or its subclasses).
        """
        ...


def complete(
    llm: LLM,
    messages: list[Message],
    *,
    max_tokens: int = 256,
    temperature: float = 0.1,
    stop: Sequence[str] = (),
) -> str:
    """The whole reply of ``llm`` to ``messages`` as one string (the joined stream)."""
    return "".join(llm.stream(messages, max_tokens=max_tokens, temperature=temperature, stop=stop))
