"""``deerin serve`` refuses to open several archives to a network without accounts."""

from __future__ import annotations

from pathlib import Path

from tests.deerin.test_cli import run


def test_serving_beyond_loopback_needs_accounts(tmp_path: Path) -> None:
    conf = tmp_path / "deerin.toml"
    conf.write_text('[collections.a]\npath = "/nowhere"\ngroups = ["g"]\n')
    out = run("--config", str(conf), "serve", "--host", "0.0.0.0", "--port", "1")
    assert out.returncode == 2
    assert "needs accounts" in out.stderr and "deerin users add" in out.stderr
    assert "Traceback" not in out.stderr
