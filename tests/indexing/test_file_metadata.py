"""File metadata: collection manifests, the LLM catalogue, and their exports, on a real index
of a real recording (real LanceDB, real embedder, the real shipped LLM tier)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deerin.cli import app
from indexing.manifest import read_manifest, valid_date
from indexing.stores.base import MediaRecord
from tests.support import REPO

runner = CliRunner()


@pytest.fixture(scope="module")
def jfk_index(tmp_path_factory: pytest.TempPathFactory, jfk: Path) -> Path:
    """An index of the JFK recording alone (this module writes metadata into it)."""
    from indexing.pipeline import Indexer
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    db = tmp_path_factory.mktemp("catalog-index")
    settings = Settings.from_env({}, db_dir=db, ocr=False, faces=False)
    report = Indexer(LanceStore(db), settings).index([jfk])
    assert not report.failures, report.failures
    return db


def _record(path: str) -> MediaRecord:
    return MediaRecord(media_id="m1", path=path, duration=1.0, size=1, mtime_ns=1,
                       has_audio=True, has_video=False, clips=1, shots=0, indexed_at=0.0)


def test_dates() -> None:
    for good in ("1961", "1961-01", "1961-01-20", "1936/1937", "1936-11/1937-02"):
        assert valid_date(good), good
    for bad in ("20/01/1961", "1961-13", "1961-02-30", "sixties", "61"):
        assert not valid_date(bad), bad


def test_bad_rows_are_reported_by_number_and_good_rows_load(tmp_path: Path) -> None:
    (tmp_path / "reel.mp4").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "other.mp4").write_bytes(b"y")
    csv_path = tmp_path / "manifest.csv"
    csv_path.write_text(
        "File,Title,Date,Rights,Description,Shelf\n"
        "reel.mp4,Reel one,1961-01-20,PD,A reel,A-12\n"          # row 2: good, next to the CSV
        ",No file,1961,PD,x,\n"                                   # row 3: empty file cell
        "nowhere.mp4,Unknown,1961,PD,x,\n"                        # row 4: unknown file
        "sub/other.mp4,Bad date,20/01/1961,PD,x,\n"               # row 5: malformed date
        "\n"                                                      # a blank line: skipped
        "indexed.flac,By name,1961,PD,matched by file name,\n"    # row 7: an indexed file's name
        "reel.mp4,Again,1962,PD,x,\n"                             # row 8: duplicate
        "sub/other.mp4,Too many,1961,PD,x,B-1,extra\n",           # row 9: extra cell
        encoding="utf-8")
    manifest = read_manifest(csv_path, [_record("/archive/indexed.flac")])
    loaded = {r.row: r for r in manifest.rows}
    assert sorted(loaded) == [2, 7]
    assert loaded[2].path == (tmp_path / "reel.mp4").resolve()
    assert loaded[2].fields == {"title": "Reel one", "date": "1961-01-20", "rights": "PD",
                                "description": "A reel", "shelf": "A-12"}
    assert loaded[7].path == Path("/archive/indexed.flac")
    problems = {p.row: p.reason for p in manifest.problems}
    assert sorted(problems) == [3, 4, 5, 8, 9]
    assert "empty" in problems[3]
    assert "unknown file nowhere.mp4" in problems[4]
    assert "malformed date '20/01/1961'" in problems[5]
    assert "row 2" in problems[8]
    assert "more cell" in problems[9]


def test_manifest_without_file_column_is_a_usage_error(tmp_path: Path, jfk_index: Path) -> None:
    bad = tmp_path / "m.csv"
    bad.write_text("name,title\nx,y\n")
    result = runner.invoke(app, ["manifest", "load", str(bad), "--db", str(jfk_index)])
    assert result.exit_code == 2
    assert "no 'file' column" in result.output


def test_manifest_makes_a_file_findable_by_title_and_shown(tmp_path: Path, jfk_index: Path,
                                                          jfk: Path) -> None:
    csv_path = tmp_path / "manifest.csv"
    csv_path.write_text(
        "file,title,date,rights,description,reel\n"
        f"{jfk.name},Zanzibar Reel Forty-Two,1961-01-20,Public domain,"
        "Inauguration ceremony on the Capitol steps,R42\n"
        "steamboat_willie_1928_clip.mp4,Not indexed here,1928,PD,x,\n", encoding="utf-8")
    result = runner.invoke(app, ["manifest", "load", str(csv_path), "--db", str(jfk_index),
                                 "--json"])
    assert result.exit_code == 3, result.output  # one row refused, one loaded
    report = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    assert [r["row"] for r in report["loaded"]] == [2]
    assert report["problems"][0]["row"] == 3

    # Words that are only in the manifest find the file, as a `meta` clip under its title.
    result = runner.invoke(app, ["search", "Zanzibar reel Capitol steps", "--db",
                                 str(jfk_index), "--json", "-k", "3"])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert hits[0]["kind"] == "meta"
    assert hits[0]["title"] == "Zanzibar Reel Forty-Two"
    assert all(h["title"] == "Zanzibar Reel Forty-Two" for h in hits)  # speech clips too

    status = json.loads(runner.invoke(app, ["status", "--db", str(jfk_index), "--json"]).stdout)
    record = status["files"][0]
    assert record["catalogue"]["title"] == "Zanzibar Reel Forty-Two"
    assert record["catalogue"]["reel"] == "R42"  # an extra column, kept as it is
    assert record["catalogue_sources"]["title"] == "manifest"

    # Re-indexing the file (here: rebuilt from scratch) keeps its record and meta clip.
    from indexing.pipeline import Indexer
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore
    from indexing.types import ClipKind

    store = LanceStore(jfk_index)
    with store.writing():
        store.remove_media(str(jfk))
    Indexer(store, Settings.from_env({}, db_dir=jfk_index, ocr=False, faces=False)).index([jfk])
    metas = [c for c in store.clips_of(store.media()[0].media_id) if c.kind is ClipKind.META]
    assert len(metas) == 1 and "Zanzibar" in metas[0].text


def test_chat_collection_shows_the_record(jfk_index: Path) -> None:
    from assistant.web.render import collection_text
    from assistant.web.snapshot import IndexSnapshot
    from indexing.file_meta_index import catalogue_of_db
    from indexing.stores.file_meta import FileMeta, FileMetaStore
    from indexing.stores.lance import LanceStore

    media = tuple(LanceStore(jfk_index, create=False).media())
    FileMetaStore(jfk_index).put(FileMeta(media[0].media_id, media[0].path, "llm",
                                          {"title": "LLM title", "subjects": ["oaths"]}))
    records = catalogue_of_db(jfk_index)
    text = collection_text(IndexSnapshot(jfk_index, True, media), records)
    assert "**Catalogue**" in text
    assert "oaths *(llm)*" in text
    assert "LLM title" not in text or "Zanzibar" not in text  # one title, the manifest's wins


def test_parse_record_accepts_sloppy_json_and_refuses_junk() -> None:
    from indexing.enrich.catalogue import CatalogueError, parse_record

    record = parse_record('Sure! {"title": " A  speech ", "summary": "x", "subjects": "a, b",'
                          ' "people": ["JFK", 3], "places": null} hope this helps')
    assert record["title"] == "A speech"
    assert record["subjects"] == ["a", "b"]
    assert record["people"] == ["JFK", "3"] and record["places"] == [] and record["dates"] == []
    for junk in ("no json here", '{"title": ""}', '{"title": "x",}', "[1, 2]"):
        with pytest.raises(CatalogueError):
            parse_record(junk)


@pytest.mark.slow  # about 200 s on a busy 2-core machine (model load and one record)
def test_catalogue_with_the_real_llm(tmp_path: Path, jfk_index: Path) -> None:
    """The shipped fast tier writes a record; a re-run skips it; the manifest title wins."""
    from indexing.stores.file_meta import FileMeta, FileMetaStore
    from indexing.stores.lance import LanceStore

    db = tmp_path / "db"
    shutil.copytree(jfk_index, db)
    media = LanceStore(db, create=False).media()[0]
    FileMetaStore(db).put(FileMeta(media.media_id, media.path, "manifest",
                                   {"title": "Zanzibar Reel Forty-Two"}))
    result = runner.invoke(app, ["catalogue", "--db", str(db), "--llm", "fast", "--json"])
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout[result.stdout.index("["):])[0]
    assert outcome["status"] == "catalogued", outcome
    record = outcome["record"]
    assert record["title"] and record["summary"]
    assert record["language"] == "en"  # from speech recognition, not from the LLM
    transcript = "ask not what your country can do for you"
    assert all(p.casefold() in transcript + " jfk inaugural" for p in record["people"])

    again = runner.invoke(app, ["catalogue", "--db", str(db), "--llm", "fast", "--json"])
    assert json.loads(again.stdout[again.stdout.index("["):])[0]["status"] == "skipped"

    exported = runner.invoke(app, ["export", "catalogue", "--format", "dc", "--db", str(db),
                                   "--out", str(tmp_path / "dc")])
    assert exported.exit_code == 0, exported.output
    dc = next((tmp_path / "dc").glob("*.oai_dc.xml")).read_text(encoding="utf-8")
    assert "<dc:title>Zanzibar Reel Forty-Two</dc:title>" in dc  # the archivist's title wins
    assert "<dc:language>en</dc:language>" in dc and "<dc:subject>" in dc


def test_template_manifest_is_valid(media_dir: Path, tmp_path: Path) -> None:
    """The shipped template reads without problems when its files sit next to it."""
    template = REPO / "eval" / "templates" / "manifest.csv"
    copy = tmp_path / "manifest.csv"
    shutil.copy(template, copy)
    names = [line.split(",", 1)[0] for line in template.read_text().splitlines()[1:]]
    for name in names:
        (tmp_path / name).symlink_to(media_dir / name)
    manifest = read_manifest(copy)
    assert not manifest.problems, manifest.problems
    assert len(manifest.rows) == len(names) >= 5


def test_index_with_a_manifest(tmp_path: Path, media_dir: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """`deerin index --manifest` indexes, then loads the manifest; a bad row makes it exit 3."""
    monkeypatch.setenv("DEERIN_GRAPH", "off")  # the graph is not what this test is about
    csv_path = tmp_path / "m.csv"
    csv_path.write_text("file,title,date\n"
                        "mdn_bear_transcript_demo.mp3,The bear file,2019\n"
                        "mdn_bear_transcript_demo.mp3,Twice,2019\n", encoding="utf-8")
    db = tmp_path / "db"
    missing = runner.invoke(app, ["index", str(media_dir / "mdn_bear_transcript_demo.mp3"),
                                  "--db", str(db), "--manifest", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and not db.exists()
    result = runner.invoke(app, ["index", str(media_dir / "mdn_bear_transcript_demo.mp3"),
                                 "--db", str(db), "--manifest", str(csv_path)])
    assert result.exit_code == 3, result.output
    assert "row 3:" in result.output and "already described in row 2" in result.output
    hits = json.loads(runner.invoke(app, ["search", "bear", "--db", str(db), "--json"]).stdout)
    assert {h["title"] for h in hits} == {"The bear file"}


def test_titles_in_the_chat_tables() -> None:
    from assistant.web.render import hits_table
    from indexing.types import Clip, ClipKind, Hit

    clip = Clip("m1", "/a/reel_one.mp4", ClipKind.SPEECH, 1.0, 2.0, "words")
    other = Clip("m2", "/a/reel_two.mp4", ClipKind.SPEECH, 1.0, 2.0, "words")
    table = hits_table((Hit(clip, 0.5), Hit(other, 0.4)), {"m1": "The First Reel"})
    assert "The First Reel — reel\\_one.mp4 @ 00:01–00:02" in table
    assert "| reel\\_two.mp4 @ 00:01–00:02" in table


def test_records_outlive_a_rebuild(tmp_path: Path) -> None:
    from indexing.stores.file_meta import FileMeta, FileMetaStore, merged
    from indexing.stores.lance import LanceStore, erase_index

    db = tmp_path / "db"
    LanceStore(db)
    FileMetaStore(db).put(FileMeta("m1", "/a/reel.mp4", "manifest", {"title": "Reel"}))
    FileMetaStore(db).put(FileMeta("m1", "/a/reel.mp4", "llm", {"title": "x", "summary": "s"}))
    erase_index(db)
    assert not (db / "deerin.json").exists()
    by_source = FileMetaStore(db).of("other-id", "/a/reel.mp4")  # re-encoded: found by path
    assert merged(by_source) == {"title": "Reel", "summary": "s"}


@pytest.mark.slow  # two full prompt evaluations: 118 s on the busy shared machine
def test_a_reply_that_does_not_parse_is_retried_once_then_reported(jfk_index: Path) -> None:
    """The real tiny tier, its replies cut at 6 tokens so no record can be complete."""
    from assistant.llm import load_llm
    from indexing.enrich.catalogue import CatalogueError, gather, write_record
    from indexing.stores.lance import LanceStore

    store = LanceStore(jfk_index, create=False)
    item = gather(store, store.media()[0])
    assert "ask not what your country" in item.transcript.casefold()
    with pytest.raises(CatalogueError, match=r"after one retry"):
        write_record(load_llm("tiny"), item, max_tokens=6)


def test_a_hand_correction_wins(tmp_path: Path, jfk_index: Path) -> None:
    db = tmp_path / "db"
    shutil.copytree(jfk_index, db)
    result = runner.invoke(app, ["manifest", "set", "jfk_inaugural_1961.flac",
                                 "title=Kennedy sworn in", "shelf=B-7", "--db", str(db)])
    assert result.exit_code == 0, result.output
    status = json.loads(runner.invoke(app, ["status", "--db", str(db), "--json"]).stdout)
    record = status["files"][0]
    assert record["catalogue"]["title"] == "Kennedy sworn in"
    assert record["catalogue_sources"]["title"] == "user"
    hits = json.loads(runner.invoke(app, ["search", "Kennedy sworn in", "--db", str(db),
                                          "--json", "-k", "1"]).stdout)
    assert hits[0]["kind"] == "meta" and "B-7" in hits[0]["text"]
    bad = runner.invoke(app, ["manifest", "set", "jfk_inaugural_1961.flac", "oops",
                              "--db", str(db)])
    assert bad.exit_code == 2
    unknown = runner.invoke(app, ["manifest", "set", "nope.mp4", "a=b", "--db", str(db)])
    assert unknown.exit_code == 1 and "not indexed" in unknown.output
