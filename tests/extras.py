"""Tests that need an optional extra of DEERIn skip where it is not installed, naming the extra
and its pip command (CI runs them in a second virtualenv that has the extras: .ci/run)."""

from __future__ import annotations

import pytest

from deerin.doctor import extra_hint, extra_missing


def require_extra(extra: str) -> None:
    """Skip the calling test (or the whole module, when called at import) unless every module
    of ``extra`` is installed."""
    missing = extra_missing(extra)
    if missing:
        pytest.skip(f"needs the {extra} extra ({', '.join(missing)} missing): "
                    f"{extra_hint(extra)}", allow_module_level=True)
