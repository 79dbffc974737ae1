"""The command line as a user runs it (real processes): version, settings, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

DEERIN = [sys.executable, "-m", "deerin"]


def run(*args: str, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # No user file of the machine's may leak in: each run names its own (or none).
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEERIN_")}
    base |= {"HF_HUB_OFFLINE": "1", "NO_COLOR": "1", "COLUMNS": "200",
             "XDG_CONFIG_HOME": str(cwd or REPO / "nonexistent")}
    return subprocess.run([*DEERIN, *args], capture_output=True, text=True, timeout=600,
                          env=base | (env or {}), cwd=cwd or REPO)


def test_version() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("deerin "), out.stderr


def test_a_bad_setting_is_one_line_and_exit_2(tmp_path: Path) -> None:
    out = run("status", "--db", str(tmp_path), env={"DEERIN_LLM_PARALLEL": "lots"})
    assert out.returncode == 2
    assert out.stderr.strip() == ("error: DEERIN_LLM_PARALLEL='lots': llm.parallel takes a "
                                  "whole number, 1 to 64")
    bad = tmp_path / "deerin.toml"
    bad.write_text("[models]\nllm = 3\n")
    out = run("--config", str(bad), "status", "--db", str(tmp_path))
    assert out.returncode == 2 and "models.llm takes a text" in out.stderr
    assert "Traceback" not in out.stderr
    out = run("--config", str(tmp_path / "missing.toml"), "status")
    assert out.returncode == 2 and "configuration file not found" in out.stderr


def test_config_show_names_where_each_value_came_from(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text('[llm]\nparallel = 2\n[chat]\nauth = "ann:hunter2"\n')
    index = tmp_path / "index"
    index.mkdir()
    (index / "deerin.toml").write_text('[models]\nllm = "tiny"\n')
    out = run("--config", str(user), "config", "show", "--db", str(index), "--json",
              env={"DEERIN_RERANK": "off"})
    assert out.returncode == 0, out.stderr
    shown = {s["key"]: (s["value"], s["source"]) for s in json.loads(out.stdout)["settings"]}
    assert shown["llm.parallel"] == ("2", str(user))
    assert shown["models.llm"] == ("tiny", str(index / "deerin.toml"))
    assert shown["models.rerank"] == ("off", "environment")
    assert shown["llm.batch"] == ("exact", "default")
    assert shown["chat.auth"] == ("(set)", str(user)) and "hunter2" not in out.stdout


def test_an_empty_folder_is_no_error(tmp_path: Path) -> None:
    (tmp_path / "footage").mkdir()
    out = run("index", str(tmp_path / "footage"), "--db", str(tmp_path / "db"))
    assert out.returncode == 0, out.stderr
    assert "no media files found" in out.stderr
    out = run("index", str(tmp_path / "not-there"), "--db", str(tmp_path / "db"))
    assert out.returncode == 1 and "no such file or folder" in out.stderr


def test_clips_indexed_but_the_graph_not_exits_3(tmp_path: Path, leopard: Path) -> None:
    """A graph store that cannot be reached leaves the clips indexed: a partial failure."""
    footage = tmp_path / "footage"
    footage.mkdir()
    (footage / leopard.name).symlink_to(leopard)
    db = tmp_path / "db"
    out = run("index", str(footage), "--db", str(db), "--json",
              env={"DEERIN_NEO4J_URI": "bolt://127.0.0.1:9"})
    assert out.returncode == 3, out.stderr
    assert "knowledge graph not updated" in out.stderr
    report = json.loads(out.stdout)
    assert report["indexed"] == [str(leopard)]  # symlinks resolved, as the index keys files
    assert report["graph"]["problem"].startswith("knowledge graph not updated")
    # The clips stand: searchable, and a second run has nothing to index.
    found = run("search", "leopard", "--db", str(db), "--json")
    assert found.returncode == 0 and json.loads(found.stdout), found.stderr
    gone = run("remove", str(leopard), str(footage / "other.wav"), "--db", str(db), "--json")
    assert gone.returncode == 3  # one removed, one was never indexed
    assert json.loads(gone.stdout) == {"removed": [str(leopard)],
                                       "not_indexed": [str(footage / "other.wav")]}
