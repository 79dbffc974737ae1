"""The GraphStore contract, run against every backend that can run here.

The embedded store (JSON file + networkx) always runs. The Neo4j store runs only when
DEERIN_NEO4J_URI names a server (with DEERIN_NEO4J_USER / DEERIN_NEO4J_PASSWORD): no Neo4j
server can run on the development machines, so without it those cases are skipped, and only
the unreachable-server behaviour (real driver, refused connection) is tested.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from indexing.graph.networkx_store import NetworkxGraphStore
from indexing.graph.settings import GraphSettings
from indexing.graph.store import GraphError, GraphStore
from indexing.graph.types import Mention

EXTRACTOR = "spacy:test"
A = ("media-a", "/footage/a.wav")
B = ("media-b", "/footage/b.mkv")


def _mention(key: str, file: tuple[str, str], clip: str, seq: int, start: float) -> Mention:
    return Mention(key, key.title(), "PERSON", clip, file[0], file[1], "speech", seq, start,
                   start + 5, start + 1, start + 2)


def _neo4j(tmp_path: Path) -> GraphStore:
    from indexing.graph.neo4j_store import Neo4jGraphStore

    store = Neo4jGraphStore(GraphSettings.from_env())
    store.clear()
    return store


BACKENDS: dict[str, Callable[[Path], GraphStore]] = {"networkx": NetworkxGraphStore}
if os.environ.get("DEERIN_NEO4J_URI"):
    BACKENDS["neo4j"] = _neo4j


@pytest.fixture(params=["networkx", "neo4j"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    if request.param not in BACKENDS:
        pytest.skip("set DEERIN_NEO4J_URI to run the contract against a Neo4j server")
    s = BACKENDS[request.param](tmp_path)
    yield s
    s.close()


def test_put_list_drop(store: GraphStore) -> None:
    assert store.files() == set() and store.mentions() == [] and store.extractor_id() is None
    a = [_mention("houston", A, "c1", 0, 0.0), _mention("columbia", A, "c1", 0, 0.0),
         _mention("columbia", A, "c2", 1, 5.0)]
    store.put_file(A, a, EXTRACTOR)
    store.put_file(B, [], EXTRACTOR)  # a file with no mentions is still known
    store.commit()
    assert store.files() == {A, B} and store.extractor_id() == EXTRACTOR
    assert sorted(store.mentions(), key=lambda m: (m.clip_id, m.key)) == \
        sorted(a, key=lambda m: (m.clip_id, m.key))
    store.put_file(A, a[:1], EXTRACTOR)  # replaces, never appends
    store.commit()
    assert store.mentions() == a[:1]
    store.drop_file(A)
    store.drop_file(("nothing", "/nowhere"))
    store.commit()
    assert store.files() == {B} and store.mentions() == []
    store.clear()
    store.commit()
    assert store.files() == set() and store.extractor_id() is None


def test_writes_are_durable_after_commit(tmp_path: Path) -> None:
    first = NetworkxGraphStore(tmp_path)
    first.put_file(A, [_mention("houston", A, "c1", 0, 0.0)], EXTRACTOR)
    assert not (tmp_path / "graph" / "graph.json").exists()  # nothing before commit
    first.commit()
    again = NetworkxGraphStore(tmp_path)
    assert again.files() == {A} and again.mentions() == first.mentions()
    assert not list((tmp_path / "graph").glob("*.tmp"))


@pytest.mark.extra("neo4j")
def test_unreachable_neo4j_is_one_clear_error() -> None:
    from indexing.graph.neo4j_store import Neo4jGraphStore

    with pytest.raises(GraphError) as err:
        Neo4jGraphStore(GraphSettings(neo4j_uri="bolt://127.0.0.1:1"), timeout=2)
    assert "bolt://127.0.0.1:1" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.extra("neo4j")
def test_index_with_unreachable_neo4j_exits_3_and_keeps_the_clips(
        tmp_path: Path, jfk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from deerin.cli import app
    from indexing.stores.lance import LanceStore

    monkeypatch.setenv("DEERIN_NEO4J_URI", "bolt://127.0.0.1:1")
    db = tmp_path / "db"
    out = CliRunner().invoke(app, ["index", str(jfk), "--db", str(db), "--no-shots"])
    assert out.exit_code == 3, out.output  # partial: the clips are in, the graph is behind
    errors = [ln for ln in out.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "Neo4j" in errors[0] and "127.0.0.1:1" in out.output
    store = LanceStore(db, create=False)
    assert [Path(m.path).name for m in store.media()] == [jfk.name]  # the vector side is kept
    assert store.count_clips() >= 1
