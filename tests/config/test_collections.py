"""The ``[collections.NAME]`` tables of deerin.toml: read, validated, and edited in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_config
from config.collections import Collection, add_collection, read_collections, remove_collection

TEXT = """# the workshop's deployment
[llm]
parallel = 2  # two answers at once

[collections.filmarchiv]
path = "/srv/a"
description = "Newsreels"
groups = ["fa", "org"]
"""


def test_tables_read_in_order_and_settings_still_load(tmp_path: Path) -> None:
    file = tmp_path / "deerin.toml"
    file.write_text(TEXT + '\n[collections.tv]\npath = "s3://b/tv"\n')
    found = read_collections(file)
    assert found == (Collection("filmarchiv", "/srv/a", "Newsreels", ("fa", "org")),
                     Collection("tv", "s3://b/tv", "", ()))
    # The scalar reader skips the table it does not own, and still reads the rest.
    assert load_config({}, config_file=file)["llm.parallel"] == 2
    assert read_collections(tmp_path / "missing.toml") == ()


@pytest.mark.parametrize(("table", "message"), [
    ('[collections."bad name"]\npath = "/x"\n', "is not a collection name"),
    ("[collections.a]\ndescription = 'no path'\n", "path must be"),
    ('[collections.a]\npath = "/x"\ngroup = ["g"]\n', "unknown field group"),
    ('[collections.a]\npath = "/x"\ngroups = "g"\n', "groups must be a list"),
    ('[collections.a]\npath = "/x"\ngroups = ["a b"]\n', "is not a group name"),
    ("collections = 3\n", "must be a table"),
])
def test_a_bad_table_is_one_line_naming_the_file(tmp_path: Path, table: str,
                                                 message: str) -> None:
    file = tmp_path / "deerin.toml"
    file.write_text(table)
    with pytest.raises(ConfigError, match=message) as caught:
        read_collections(file)
    assert str(caught.value).startswith(str(file)) and "\n" not in str(caught.value)


def test_an_index_file_may_not_declare_collections(tmp_path: Path) -> None:
    (tmp_path / "deerin.toml").write_text(TEXT)
    with pytest.raises(ConfigError, match="belongs in the user's file"):
        load_config({}, index_dir=tmp_path, config_file=None, read_files=True)


def test_add_and_remove_keep_comments_and_the_rest(tmp_path: Path) -> None:
    file = tmp_path / "deerin.toml"
    file.write_text(TEXT)
    add_collection(file, Collection("tv", "/srv/tv", "Television", ("tv",)))
    text = file.read_text()
    assert text.startswith(TEXT) and "# two answers at once" in text
    assert [c.name for c in read_collections(file)] == ["filmarchiv", "tv"]
    with pytest.raises(ConfigError, match="exists already"):
        add_collection(file, Collection("tv", "/elsewhere"))
    add_collection(file, Collection("tv", "/elsewhere"), replace=True)
    assert read_collections(file)[1].path == "/elsewhere"
    assert remove_collection(file, "tv").path == "/elsewhere"
    assert file.read_text().rstrip() == TEXT.rstrip()
    remove_collection(file, "filmarchiv")
    assert "collections" not in file.read_text() and "# two answers at once" in file.read_text()
    with pytest.raises(ConfigError, match="no collection named tv"):
        remove_collection(file, "tv")
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, nothing left behind


def test_add_creates_the_file(tmp_path: Path) -> None:
    file = tmp_path / "conf" / "deerin.toml"
    add_collection(file, Collection("a", "/x", "", ("g",)))
    assert read_collections(file) == (Collection("a", "/x", "", ("g",)),)
