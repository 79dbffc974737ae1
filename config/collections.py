"""The collections one deployment serves: the ``[collections.NAME]`` tables of ``deerin.toml``.

A collection is an index (a folder or an ``s3://`` prefix) with a name (a URL path segment), a
description and the groups whose members may see it::

    [collections.filmarchiv]
    path = "/srv/deerin/filmarchiv"
    description = "Newsreels 1945-1960, sample for the workshop"
    groups = ["filmarchiv", "organisers"]

The scalar settings stay in :mod:`config.catalogue`; this module is the separate, validated
reader of these tables, and the writer ``deerin collections add/remove`` uses: it edits the file
with tomlkit, so comments and the order of everything else are kept, and replaces it atomically,
so a server reading it meanwhile sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.load import COLLECTIONS_TABLE as TABLE
from config.load import ConfigError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_FIELDS = frozenset({"path", "description", "groups"})


@dataclass(frozen=True, slots=True)
class Collection:
    """One served index: ``name`` in URLs and the chat's picker, ``path`` a folder or
    ``s3://BUCKET/PREFIX``, ``groups`` those who may see it (an admin sees every one)."""

    name: str
    path: str
    description: str = ""
    groups: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The collection as JSON-ready data."""
        return {"name": self.name, "path": self.path, "description": self.description,
                "groups": list(self.groups)}


def check_name(name: str, where: str = "collection") -> str:
    """``name`` when it is a collection name (letters, digits, ``-``, ``_``; at most 64), else
    raise :class:`ConfigError`."""
    if not _NAME.fullmatch(name):
        raise ConfigError(f"{where}: {name!r} is not a collection name (letters, digits, "
                          "- and _, at most 64, starting with a letter or digit)")
    return name


def check_groups(groups: Sequence[str], where: str) -> tuple[str, ...]:
    """The group names, stripped and without repeats; raise :class:`ConfigError` for a bad one."""
    out: list[str] = []
    for group in groups:
        if not isinstance(group, str) or not _GROUP.fullmatch(group.strip()):
            raise ConfigError(f"{where}: {group!r} is not a group name (letters, digits, "
                              "- _ . @, at most 64)")
        if group.strip() not in out:
            out.append(group.strip())
    return tuple(out)


def read_collections(path: Path) -> tuple[Collection, ...]:
    """The collections ``path`` declares, in file order (none when the file does not exist).

    Raises :class:`ConfigError` naming the file for unreadable TOML, a bad name, an unknown
    field or a value of the wrong type.
    """
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return ()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    return collections_of(data.get(TABLE, {}), str(path))


def collections_of(table: object, where: str) -> tuple[Collection, ...]:
    """The collections of a parsed ``[collections]`` table; ``where`` starts error messages."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: [{TABLE}] must be a table of [{TABLE}.NAME] tables")
    found: list[Collection] = []
    for name, fields in table.items():
        at = f"{where}: [{TABLE}.{name}]"
        check_name(name, at)
        if not isinstance(fields, Mapping):
            raise ConfigError(f"{at} must be a table with path, description, groups")
        unknown = sorted(set(fields) - _FIELDS)
        if unknown:
            raise ConfigError(f"{at}: unknown field {unknown[0]} (known: path, description, "
                              "groups)")
        path, description = fields.get("path"), fields.get("description", "")
        groups = fields.get("groups", [])
        if not isinstance(path, str) or not path.strip():
            raise ConfigError(f"{at}: path must be the index's folder or s3://BUCKET/PREFIX")
        if not isinstance(description, str):
            raise ConfigError(f"{at}: description must be text")
        if not isinstance(groups, list):
            raise ConfigError(f"{at}: groups must be a list of group names")
        found.append(Collection(name, path.strip(), description.strip(),
                                check_groups(groups, at)))
    return tuple(found)


def add_collection(path: Path, collection: Collection, *, replace: bool = False) -> None:
    """Write ``collection`` into the file at ``path`` (created when missing), keeping the rest
    of the file as it was. Raises :class:`ConfigError` when the name is taken (unless
    ``replace``) or the file cannot be read or written."""
    import tomlkit

    check_name(collection.name, str(path))
    document = _document(path)
    table = document.get(TABLE)
    if table is None:
        table = tomlkit.table(is_super_table=True)
        document[TABLE] = table
    if collection.name in table and not replace:
        raise ConfigError(f"{path}: a collection named {collection.name} exists already "
                          "(remove it first)")
    entry = tomlkit.table()
    entry["path"] = collection.path
    entry["description"] = collection.description
    entry["groups"] = list(collection.groups)
    table[collection.name] = entry
    collections_of(document.unwrap().get(TABLE, {}), str(path))  # what we write reads back
    _write(path, tomlkit.dumps(document))


def remove_collection(path: Path, name: str) -> Collection:
    """Take the collection ``name`` out of the file at ``path`` and return what it was. Raises
    :class:`ConfigError` when there is none of that name. The index itself is left alone."""
    import tomlkit

    known = {c.name: c for c in read_collections(path)}
    if name not in known:
        raise ConfigError(f"{path}: no collection named {name}")
    document = _document(path)
    table = document[TABLE]
    del table[name]  # type: ignore[union-attr]
    if not table:
        del document[TABLE]
    _write(path, tomlkit.dumps(document))
    return known[name]


def _document(path: Path) -> Any:
    import tomlkit

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return tomlkit.document()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def _write(path: Path, text: str) -> None:
    """Replace ``path`` whole: a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        if path.exists():  # keep the file's permissions: it may sit beside secrets
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write it ({exc.strerror or exc})") from exc
