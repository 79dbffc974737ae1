"""Catalogue exports as the standards define them: every record of the test collection as
oai_dc, EBUCore and PBCore XML, each validated here against its published schema (the copies
shipped in indexing/schemas, read offline); broken records are reported by file and never
written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deerin.cli import app
from indexing.catalogue_xml import SCHEMA_DIR, RecordError, render_xml
from indexing.stores.base import MediaRecord
from indexing.stores.file_meta import FileMeta, FileMetaStore
from indexing.stores.lance import LanceStore

runner = CliRunner()
SCHEMAS = {"dc": "oai_dc.xsd", "ebucore": "ebucore.xsd", "pbcore": "pbcore-2.1.xsd"}


def _schema(fmt: str):
    """The published schema, built here independently of the code under test."""
    import xmlschema

    return xmlschema.XMLSchema(str(SCHEMA_DIR / SCHEMAS[fmt]), allow="local", locations=[
        ("http://purl.org/dc/elements/1.1/", str(SCHEMA_DIR / "simpledc20021212.xsd"))])


@pytest.fixture(scope="module")
def catalogued(speech_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test collection with a record per file: manifest fields for most, an LLM's for
    one, and two broken ones (no title; a date that is no date)."""
    db = tmp_path_factory.mktemp("catalogue") / "db"
    shutil.copytree(speech_index, db)
    metas = FileMetaStore(db)
    for i, m in enumerate(sorted(LanceStore(db, create=False).media(), key=lambda m: m.path)):
        fields: dict[str, object] = {
            "title": f"Reel {i} — {m.name}", "description": f"Film & <sound> no. {i}",
            "date": ["1936", "1940-01", "1961-01-20", "1936/1937", "2003-02-01T12:00:00",
                     "1928", "1999"][i % 7],
            "subjects": ["archive", "test"], "people": ["Ann Lee"], "places": ["Berlin"],
            "dates": ["1930s"], "language": "en", "rights": "Public domain",
            "director": "Howard Hawks", "collection": "Features"}
        source = "manifest"
        if "bear" in m.name:
            fields = {"title": "A bear", "summary": "An LLM's summary.", "subjects": "bears"}
            source = "llm"
        if "leopard" in m.name:
            fields.pop("title")
        if "columbia" in m.name:
            fields["date"] = "spring 1936"
        metas.put(FileMeta(m.media_id, m.path, source, fields))
    return db


@pytest.mark.parametrize("fmt", ["dc", "ebucore", "pbcore"])
def test_every_record_validates_and_broken_ones_are_reported(catalogued: Path, tmp_path: Path,
                                                             fmt: str) -> None:
    out = tmp_path / fmt
    result = runner.invoke(app, ["export", "catalogue", "--format", fmt, "--out", str(out),
                                 "--db", str(catalogued), "--json"])
    assert result.exit_code == 3, result.output  # written, but not every record
    report = json.loads(result.stdout[result.stdout.index("{"):])
    refused = {Path(r["file"]).name: r["reason"] for r in report["refused"]}
    assert set(refused) == {"picovoice_leopard_test_en.wav", "gwb_columbia_address_2003.ogg"}
    assert "no title" in refused["picovoice_leopard_test_en.wav"]
    assert "date 'spring 1936' is not a date" in refused["gwb_columbia_address_2003.ogg"]
    assert all(str(catalogued) not in r for r in refused.values())  # named by the file
    written = sorted(out.glob("*.xml"))
    assert sorted(Path(p) for p in report["written"]) == written
    assert len(written) == 5 and not list(out.glob(".*"))
    schema = _schema(fmt)
    for doc in written:
        schema.validate(str(doc))  # raises on the first error
        text = doc.read_text(encoding="utf-8")
        assert "Film &amp; &lt;sound&gt;" in text or "bear" in doc.name
    friday = (out / f"his_girl_friday_1940_clip{'.oai_dc' if fmt == 'dc' else '.' + fmt}.xml"
              ).read_text(encoding="utf-8")
    if fmt == "dc":
        assert "<dc:type>MovingImage</dc:type>" in friday
        assert "<dc:format>video/mp4</dc:format>" in friday
        assert "<dc:format>PT" in friday
    elif fmt == "ebucore":
        assert "<ebucore:normalPlayTime>PT" in friday and 'typeLabel="video/mp4"' in friday
    else:
        assert "<instantiationMediaType>Moving Image</instantiationMediaType>" in friday
        assert "<instantiationLanguage>eng</instantiationLanguage>" in friday


def test_json_stays_and_xml_needs_a_folder(catalogued: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "catalogue", "--db", str(catalogued)])
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert len(records) == 7 and {"fields", "sources"} <= set(records[0])
    result = runner.invoke(app, ["export", "catalogue", "--format", "pbcore", "--db",
                                 str(catalogued)])
    assert result.exit_code == 2 and "give --out FOLDER" in result.output


def _media(path: str = "/archive/Reel 7.mxf", video: bool = True) -> MediaRecord:
    return MediaRecord("ab" * 12, path, 3723.5, 1000, 1, True, video, 1, 1, 0.0)


def test_values_take_the_standards_forms() -> None:
    fields = {"title": "T", "summary": "S", "date": "1936-05-12/1937"}
    dc = render_xml("dc", _media(), fields).decode()
    assert "<dc:format>PT1H2M3.5S</dc:format>" in dc and "<dc:date>1936-05-12/1937</dc:date>" \
        in dc
    eb = render_xml("ebucore", _media(), fields).decode()
    assert ('<ebucore:created startYear="1936" startDate="1936-05-12" endYear="1937" />'
            in eb)
    pb = render_xml("pbcore", _media(video=False), fields).decode()
    assert "<instantiationDuration>01:02:04</instantiationDuration>" in pb
    assert "<instantiationMediaType>Sound</instantiationMediaType>" in pb
    for bad, message in (({"title": " "}, "no title"),
                         ({"title": "T", "date": "1936-02-30"}, "is not a date"),
                         ({"title": "T", "date": "circa 1936"}, "is not a date")):
        for fmt in ("dc", "ebucore", "pbcore"):
            with pytest.raises(RecordError, match=message):
                render_xml(fmt, _media(), bad)
    with pytest.raises(RecordError, match="PBCore requires one"):
        render_xml("pbcore", _media(), {"title": "T"})
