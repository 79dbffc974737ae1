"""The public API (``import deerin``): the functions the command line itself calls."""

from __future__ import annotations

from pathlib import Path

import pytest

import deerin
from assistant.answer import Answer
from config import load_config
from indexing.stores.base import StoreError


def test_the_public_names() -> None:
    assert set(deerin.__all__) == {"IndexRun", "Reply", "ask", "evidence", "index", "open_index",
                                   "search"}


def test_index_search_and_ask_a_real_recording(tmp_path: Path, leopard: Path) -> None:
    db = tmp_path / "index"
    config = load_config({}, read_files=False)  # no file of this machine's leaks in
    run = deerin.index([leopard], db, config=config, ocr=False, faces=False)
    assert run.report.indexed == 1 and not run.report.failures
    assert run.graph.report is not None and not run.graph.failed
    assert run.location == str(db.resolve())

    store = deerin.open_index(db, config=config)
    assert [m.path for m in store.media()] == [str(leopard)]
    hits = deerin.search("leopard", db, k=3, config=config)
    assert hits and hits[0].clip.media_path == str(leopard)

    events: list[str] = []
    reply = deerin.ask("What animal is this recording about?", db, llm="tiny", config=config,
                       on_event=lambda ev: events.append(ev.kind))
    assert isinstance(reply.answer, Answer) and reply.answer.text.strip()
    assert reply.mode == "naive" and events[0] == "retrieved" and events[-1] == "answer"
    again = deerin.index([leopard], db, config=config, ocr=False, faces=False)
    assert (again.report.indexed, again.report.unchanged) == (0, 1)


def test_no_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no DEERIn index"):
        deerin.open_index(tmp_path / "none", config=load_config({}, read_files=False))
