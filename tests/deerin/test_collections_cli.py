"""``deerin collections add/list/remove`` as a user runs them (real processes, a real index)."""

from __future__ import annotations

import json
from pathlib import Path

from config.collections import read_collections
from tests.deerin.test_cli import run


def test_add_list_remove(tmp_path: Path) -> None:
    conf = tmp_path / "deerin.toml"
    conf.write_text("# kept\n")
    missing = tmp_path / "not-indexed"
    out = run("--config", str(conf), "collections", "add", "alpha", str(missing),
              "--groups", "fa,org", "--description", "Sample A")
    assert out.returncode == 0, out.stderr
    assert "unavailable until" in out.stderr
    out = run("--config", str(conf), "collections", "add", "alpha", str(tmp_path))
    assert out.returncode == 2 and "exists already" in out.stderr
    out = run("--config", str(conf), "collections", "add", "no/slash", str(tmp_path))
    assert out.returncode == 2 and "is not a collection name" in out.stderr
    out = run("--config", str(conf), "collections", "list", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["name"], r["groups"], r["available"]) for r in rows] == [
        ("alpha", ["fa", "org"], False)]
    assert "no DEERIn index" in rows[0]["reason"]
    out = run("--config", str(conf), "collections", "remove", "alpha")
    assert out.returncode == 0 and read_collections(conf) == ()
    assert conf.read_text().startswith("# kept")
    out = run("--config", str(conf), "collections", "remove", "alpha")
    assert out.returncode == 1 and "no collection named alpha" in out.stderr


def test_a_bad_collections_table_stops_every_command(tmp_path: Path) -> None:
    conf = tmp_path / "deerin.toml"
    conf.write_text("[collections.a]\ndescription = 'no path'\n")
    out = run("--config", str(conf), "status", "--db", str(tmp_path))
    assert out.returncode == 2 and "path must be" in out.stderr
