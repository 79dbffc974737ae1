"""The optional extras (visual, ray, neo4j, s3): the default install runs without them, so no
module may import them at load time, and a missing one is a single line naming the extra and its
pip command (in `deerin doctor`, picture search, the Ray engine and the Neo4j graph store).

These tests run in the default virtualenv (extras missing) and in CI's extras virtualenv
(installed): each checks the side that holds where it runs. Tests that need an extra carry
``@pytest.mark.extra(NAME)`` (tests/conftest.py skips them, naming it, where it is missing)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from deerin.doctor import EXTRAS, extra_checks, extra_hint, extra_missing
from tests.support import REPO

PACKAGES = ("assistant", "deerin", "eval", "exploration", "indexing", "interaction", "prompts",
            "weights", "config")


def _module_level_imports(tree: ast.Module) -> set[str]:
    """Top-level names imported when the module loads (``if TYPE_CHECKING:`` blocks excluded)."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.If):
                if "TYPE_CHECKING" not in ast.unparse(node.test):
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)

    visit(tree.body)
    return found


def test_extras_match_pyproject() -> None:
    from indexing.backends.open_clip import VISUAL_MODULES

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert set(EXTRAS) <= set(extras)
    assert {"visual", "ray", "neo4j", "s3", "test", "docs"} <= set(extras)
    assert EXTRAS["visual"][0] == VISUAL_MODULES  # doctor and picture search agree


def test_optional_packages_are_imported_lazily() -> None:
    optional = {module for modules, _ in EXTRAS.values() for module in modules} | {"timm"}
    offenders = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")) if (REPO / package).is_dir() else ():
            imported = _module_level_imports(ast.parse(path.read_text(), str(path)))
            offenders += [f"{path.relative_to(REPO)}: {m}" for m in sorted(imported & optional)]
    assert offenders == [], "import these inside the functions that need them"


def test_doctor_says_off_with_the_pip_command() -> None:
    checks = {c.name: c for c in extra_checks()}
    assert len(checks) == len(EXTRAS)
    for extra in EXTRAS:
        check = checks["Ray (distributed indexing)" if extra == "ray" else f"extra {extra}"]
        assert not check.required
        if extra_missing(extra):
            assert not check.ok  # shown as "off"
            assert extra_hint(extra) == f"pip install 'deerin[{extra}]'"
            assert extra_hint(extra) in check.detail and "\n" not in check.detail
        else:
            assert check.ok, check.detail


def test_picture_search_names_the_visual_extra(tmp_path: Path) -> None:
    from indexing.backends.open_clip import (
        VISUAL_MISSING,
        ClipSpecError,
        clip_from_settings,
        clip_status,
    )
    from indexing.settings import Settings

    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text("{}")
    (folder / "open_clip_model.safetensors").write_bytes(b"")
    ok, message = clip_status(str(folder))
    settings = Settings.from_env({}, db_dir=tmp_path / "db", clip_model=str(folder))
    if extra_missing("visual"):
        assert not ok and message.endswith(VISUAL_MISSING) and "\n" not in message
        assert "pip install 'deerin[visual]'" in message
        with pytest.raises(ClipSpecError, match=r"visual extra: pip install 'deerin\[visual\]'"):
            clip_from_settings(settings)
    else:
        assert ok, message
        assert clip_from_settings(settings) is not None  # built lazily: nothing loads yet


def test_ray_engine_names_the_ray_extra() -> None:
    from indexing.engines import RAY_MISSING, EngineError, check_engine

    assert "pip install 'deerin[ray]'" in RAY_MISSING
    if extra_missing("ray"):
        with pytest.raises(EngineError, match=r"deerin\[ray\]") as failure:
            check_engine("ray")
        assert not failure.value.usage  # not a bad option: an install to complete
    else:
        check_engine("ray")


def test_neo4j_store_names_the_neo4j_extra() -> None:
    from indexing.graph.neo4j_store import Neo4jGraphStore
    from indexing.graph.settings import GraphSettings
    from indexing.graph.store import GraphError

    with pytest.raises(GraphError) as failure:  # nothing listens on port 1
        Neo4jGraphStore(GraphSettings(neo4j_uri="bolt://127.0.0.1:1"), timeout=1)
    message = str(failure.value)
    assert "\n" not in message
    if extra_missing("neo4j"):
        assert message.endswith("neo4j extra: pip install 'deerin[neo4j]'")
    else:  # the driver is there: the refused connection is what is reported
        assert "127.0.0.1:1" in message
