"""The import graph: no two modules import each other, and no longer loop either.

Every import counts, as Python would run it sooner or later: module-level, inside functions and
under ``TYPE_CHECKING`` (grimp reads them all from the source). A package counts as the module
of its ``__init__.py``, so a package and one of its own modules may not import each other.
The layers themselves are import-linter's contracts (pyproject.toml, ``lint-imports`` in
.ci/run).
"""

from __future__ import annotations

from pathlib import Path

import grimp
import networkx as nx
import pytest

PACKAGES = ("deerin", "eval", "interaction", "exploration", "assistant", "indexing", "weights",
            "prompts", "config")


def _graph() -> nx.DiGraph:
    imports = grimp.build_graph(*PACKAGES, cache_dir=None)
    graph = nx.DiGraph()
    graph.add_nodes_from(imports.modules)
    for module in imports.modules:
        graph.add_edges_from((module, imported)
                             for imported in imports.find_modules_directly_imported_by(module))
    return graph


def test_no_two_modules_import_each_other() -> None:
    graph = _graph()
    pairs = sorted({tuple(sorted((a, b))) for a, b in graph.edges
                    if a != b and graph.has_edge(b, a)})
    assert pairs == [], "modules that import each other: " + ", ".join(
        f"{a} <-> {b}" for a, b in pairs)


def test_no_import_cycle_through_more_modules() -> None:
    cycles = sorted(sorted(c) for c in nx.strongly_connected_components(_graph())
                    if len(c) > 1)
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_check_sees_function_level_and_type_checking_imports(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The graph the tests read holds the imports that hid the cycles: one inside a function,
    one under TYPE_CHECKING."""
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "a.py").write_text("def f():\n    from cyclepkg import b\n", encoding="utf-8")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                              "    from cyclepkg import a\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    imports = grimp.build_graph("cyclepkg", cache_dir=None)
    assert imports.direct_import_exists(importer="cyclepkg.a", imported="cyclepkg.b")
    assert imports.direct_import_exists(importer="cyclepkg.b", imported="cyclepkg.a")
