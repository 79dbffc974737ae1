"""The docs site: generated reference pages up to date and complete, every page in the nav, a
short README whose links resolve, and a strict MkDocs build.

Fast: no model is loaded (the CLI is imported, not run).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO

ROOT = REPO
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT / "scripts"))

import docs_reference as ref  # noqa: E402


def _headings(markdown: str) -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^#{1,6} (.+)$", markdown, re.MULTILINE)}


def _nav_pages(nav: Any) -> list[str]:
    """Every page file the nav names, in order."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    return []


def _mkdocs_config() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    with open(ROOT / "mkdocs.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


# --- (a) the committed reference pages are what the code generates -------------------------


def test_cli_reference_is_up_to_date() -> None:
    committed = ref.CLI_PAGE.read_text(encoding="utf-8")
    assert committed == ref.cli_reference(), (
        "docs/reference/cli.md is stale: run `python scripts/docs_reference.py`")


def test_configuration_reference_is_up_to_date() -> None:
    committed = ref.CONFIG_PAGE.read_text(encoding="utf-8")
    assert committed == ref.config_reference(), (
        "docs/reference/configuration.md is stale: run `python scripts/docs_reference.py`")


def test_check_mode_reports_a_stale_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "cli.md"
    page.write_text("# an old page\n", encoding="utf-8")
    monkeypatch.setattr(ref, "ROOT", tmp_path)
    monkeypatch.setattr(ref, "CLI_PAGE", page)
    monkeypatch.setattr(ref, "CONFIG_PAGE", tmp_path / "configuration.md")
    assert ref.main(["--check"]) == 1
    assert "stale: cli.md" in capsys.readouterr().err
    assert page.read_text(encoding="utf-8") == "# an old page\n"  # --check writes nothing
    assert ref.main([]) == 0
    assert ref.main(["--check"]) == 0


def test_generated_pages_do_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    first = ref.cli_reference()
    monkeypatch.setenv("COLUMNS", "33")
    monkeypatch.setenv("DEERIN_DB", "/somewhere/else")
    assert ref.cli_reference() == first
    assert str(Path.home()) not in first and str(ROOT) not in first


# --- (b) every command and every setting is in its reference page --------------------------


def test_every_command_has_a_heading() -> None:
    headings = _headings(ref.CLI_PAGE.read_text(encoding="utf-8"))
    paths = ref.command_paths()
    assert {"deerin index", "deerin ask", "deerin chat", "deerin search"} <= set(paths)
    assert any(len(p.split()) == 3 for p in paths), "sub-commands are walked"
    missing = [p for p in paths if p not in headings]
    assert not missing, f"commands missing from docs/reference/cli.md: {missing}"


def test_every_option_is_documented() -> None:
    page = ref.CLI_PAGE.read_text(encoding="utf-8")
    root = ref._root_command()
    for path, command, depth in list(ref._walk(root, "deerin", 0))[1:]:
        section = page.split(f"\n{'#' * min(depth + 1, 4)} {path}\n", 1)[1]
        section = re.split(r"\n#{2,4} deerin ", section, maxsplit=1)[0]
        for param in ref._visible_params(command):
            names = param.opts if not ref._is_argument(param) else [ref._argument_name(param)]
            for name in names:
                assert f"`{name}`" in section, f"{path}: {name} missing from its section"


def test_every_setting_is_in_the_configuration_reference() -> None:
    from config import SETTINGS

    page = ref.CONFIG_PAGE.read_text(encoding="utf-8")
    missing = [s.key for s in SETTINGS if f"`{s.key}`" not in page or f"`{s.env}`" not in page]
    assert not missing, f"settings missing from docs/reference/configuration.md: {missing}"


# --- (c) every page is in the nav, and every nav entry exists ------------------------------


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    config = _mkdocs_config()
    assert config["site_name"] == "DEERIn"
    nav = _nav_pages(config["nav"])
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav) == sorted(set(nav)), "a page is in the nav twice"
    assert [p for p in pages if p not in nav] == [], "pages missing from mkdocs.yml's nav"
    assert [p for p in nav if not (DOCS / p).is_file()] == [], "nav entries with no page"
    assert nav[0] == "index.md"
    assert {"reference/cli.md", "reference/configuration.md"} <= set(nav)


def test_relative_links_between_pages_resolve() -> None:
    """A quick check of what `mkdocs build --strict` checks, for machines without mkdocs."""
    broken = []
    for page in DOCS.rglob("*.md"):
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = target.split("#", 1)[0]
            if not (page.parent / path).resolve().is_file():
                broken.append(f"{page.relative_to(DOCS)} -> {target}")
    assert not broken, f"broken links: {broken}"


# --- (d) the README is short and its links resolve -----------------------------------------


def test_readme_is_short_and_its_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150, "README.md: at most 150 lines; the rest goes to docs/"
    assert "pytest" in readme and "deerin index" in readme and "deerin ask" in readme
    links = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert links, "README.md links to the docs"
    broken = [t for t in links if not re.match(r"[a-z]+:", t) and not t.startswith("#")
              and not (ROOT / t.split("#", 1)[0]).exists()]
    assert not broken, f"README.md links to missing files: {broken}"


# --- (e) the site builds without a warning -------------------------------------------------


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    missing = [m for m in ("mkdocs", "material") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed: install the `docs` extra "
                    "(pip install -e '.[docs]')")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
         str(ROOT / "mkdocs.yml"), "--site-dir", str(tmp_path / "site")],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "reference" / "cli" / "index.html").is_file()
