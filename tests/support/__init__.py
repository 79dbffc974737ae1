"""What the tests share beyond fixtures: where the repository and the test media are."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MEDIA_DIR = Path(os.environ.get("DEERIN_TEST_MEDIA", REPO.parent / "shared" / "media")).resolve()
