"""bench/archive/scale.py and themes.py: the prefix that makes each archive size, and the
address a file of the archive holds."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _load(name: str) -> object:
    spec = importlib.util.spec_from_file_location(f"archive_{name}",
                                                  REPO / f"bench/archive/{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"archive_{name}"] = module
    spec.loader.exec_module(module)
    return module


def test_each_size_is_a_prefix_of_whole_files() -> None:
    scale = _load("scale")
    manifest = {"files": [{"video": f"v{i}", "duration_s": 1800.0 - i} for i in range(6)]}
    one = scale.prefix(manifest, 1)  # type: ignore[attr-defined]
    assert [f["video"] for f in one] == ["v0", "v1", "v2"]  # 1800 + 1799 < 3600: one more
    assert scale.prefix(manifest, 2)[:3] == one  # type: ignore[attr-defined]
    assert len(scale.prefix(manifest, 100)) == 6  # type: ignore[attr-defined]


def test_a_files_address_drops_its_number_and_part() -> None:
    themes = _load("themes")
    assert themes.document("/a/0003-1875-Grant-1-p2.mp4") == "1875-Grant-1"  # type: ignore[attr-defined]
    assert themes.document("0122-2010-Obama-1.mp4") == "2010-Obama-1"  # type: ignore[attr-defined]
