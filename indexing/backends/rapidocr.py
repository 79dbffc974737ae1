"""On-screen text reading with RapidOCR and its shipped PP-OCRv4 ONNX models (Apache-2.0)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from indexing.types import TextBox

if TYPE_CHECKING:
    from indexing.settings import Settings

MODEL_LABEL = "RapidOCR PP-OCRv4 (rapidocr-onnxruntime)"


class RapidTextReader:
    """A :class:`~indexing.protocols.TextReader` on RapidOCR's shipped PP-OCRv4 ONNX models.

    The angle classifier is off: captions and titles are upright, and it costs a pass per line.
    ``side`` caps the long side the text detector sees (RapidOCR's default *raises* the short
    side to 736 px, which makes a 640 px frame five times the work).
    """

    model_id = MODEL_LABEL

    def __init__(self, side: int = 640, threads: int = 0) -> None:
        self.side = side
        self.threads = threads
        self._engine: Any = None

    def _load(self) -> Any:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            options: dict[str, Any] = {"det_limit_side_len": self.side, "det_limit_type": "max",
                                       "use_cls": False}
            if self.threads > 0:
                options["intra_op_num_threads"] = self.threads
            self._engine = RapidOCR(**options)
        return self._engine

    def read(self, images: Sequence[np.ndarray]) -> list[list[TextBox]]:
        """The lines of text in each BGR image, with confidence and box (fractions of the
        image)."""
        engine = self._load()
        out = []
        for image in images:
            h, w = image.shape[:2]
            result, _ = engine(image, use_cls=False)
            lines = []
            for points, text, score in result or ():
                xs = [float(p[0]) for p in points]
                ys = [float(p[1]) for p in points]
                box = (max(min(xs) / w, 0.0), max(min(ys) / h, 0.0),
                       min(max(xs) / w, 1.0), min(max(ys) / h, 1.0))
                lines.append(TextBox(str(text).strip(), float(score), box))
            out.append(lines)
        return out


def reader_from_settings(settings: Settings) -> RapidTextReader:
    """The text reader the pipeline uses."""
    return RapidTextReader(side=settings.ocr_side)
