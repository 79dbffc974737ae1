"""Reading the settings: built-in defaults, then ``deerin.toml`` files, then the environment.

Precedence, lowest first: the default in :data:`config.catalogue.SETTINGS`; the user's file
(``--config FILE``, else ``$DEERIN_CONFIG``, else ``$XDG_CONFIG_HOME/deerin/deerin.toml``); the
index's own ``<index>/deerin.toml``; the environment. Command-line flags win over all of them
where a command has one. Nothing is read at import time: :func:`load_config` reads when called
and returns a frozen :class:`Config` that remembers where each value came from.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from config.catalogue import BY_ENV, BY_KEY, SETTINGS, Setting

FILE_NAME = "deerin.toml"
# The one table that is not settings: the collections a deployment serves, read and validated by
# config.collections.
COLLECTIONS_TABLE = "collections"
DEFAULT = "default"
ENVIRONMENT = "environment"

_YES = frozenset({"yes", "true", "on", "1"})
_NO = frozenset({"no", "false", "off", "0"})


class ConfigError(ValueError):
    """A setting that cannot be used: its message is one line that says where and why."""


@dataclass(frozen=True, slots=True)
class Value:
    """A setting's effective value and where it came from: ``default``, ``environment`` or
    the path of the file that set it."""

    setting: Setting
    value: Any
    source: str

    def shown(self) -> str:
        """The value as it may be printed: secrets masked, defaults as the docs say them."""
        if self.setting.secret:
            return "(set)" if self.value else "(none)"
        if self.source == DEFAULT:
            return self.setting.shown_default()
        if isinstance(self.value, bool):
            return "yes" if self.value else "no"
        return str(self.value)


@dataclass(frozen=True)
class Config:
    """Every setting's value, in catalogue order; read with ``config["models.llm"]``."""

    values: Mapping[str, Value]
    files: tuple[Path, ...] = field(default=())  # the files that were read, in order

    def __getitem__(self, key: str) -> Any:
        return self.values[key].value

    def __iter__(self) -> Iterator[Value]:
        return iter(self.values.values())

    def source(self, key: str) -> str:
        """Where the value of ``key`` came from."""
        return self.values[key].source

    def is_set(self, key: str) -> bool:
        """Whether ``key`` was given anywhere (a file or the environment)."""
        return self.values[key].source != DEFAULT

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        """The settings the environment gives (``os.environ`` when omitted), no file read.
        Raises :class:`ConfigError` for a value that does not parse."""
        return load_config(env, read_files=False)

    def file_environ(self) -> dict[str, str]:
        """The values that came from a file, as environment text: what a process exports so
        the programs it starts (the chat server, Ray workers, experiment steps) see them."""
        return {v.setting.env: env_text(v.setting, v.value) for v in self
                if v.source not in (DEFAULT, ENVIRONMENT)}


def user_file(env: Mapping[str, str] | None = None) -> Path:
    """The user's configuration file (it need not exist): ``$DEERIN_CONFIG``, else
    ``$XDG_CONFIG_HOME/deerin/deerin.toml`` (``~/.config`` when that is unset)."""
    env = os.environ if env is None else env
    if env.get("DEERIN_CONFIG", "").strip():
        return Path(env["DEERIN_CONFIG"].strip()).expanduser()
    base = env.get("XDG_CONFIG_HOME", "").strip() or str(Path.home() / ".config")
    return Path(base).expanduser() / "deerin" / FILE_NAME


def load_config(env: Mapping[str, str] | None = None, *, config_file: Path | None = None,
                index_dir: Path | None = None, read_files: bool = True) -> Config:
    """The effective settings: defaults, the user file (``config_file`` when given: it must
    exist), the index's ``deerin.toml`` in ``index_dir`` (when given and present), then ``env``
    (``os.environ`` when omitted). Raises :class:`ConfigError` for an unreadable file, an
    unknown key or a value that does not parse."""
    env = os.environ if env is None else env
    values = {s.key: Value(s, s.default, DEFAULT) for s in SETTINGS}
    files: list[Path] = []
    if read_files:
        user = config_file.expanduser() if config_file is not None else user_file(env)
        if config_file is not None and not user.is_file():
            raise ConfigError(f"configuration file not found: {user}")
        if user.is_file():
            values.update(_read_file(user, index_file=False))
            files.append(user)
        local = index_dir / FILE_NAME if index_dir is not None else None
        if local is not None and local.is_file() and local != user:
            values.update(_read_file(local, index_file=True))
            files.append(local)
    for name, raw in env.items():
        setting = BY_ENV.get(name)
        if setting is not None and raw.strip():
            values[setting.key] = Value(setting, parse(setting, raw, f"{name}={raw!r}"),
                                        ENVIRONMENT)
    return Config(MappingProxyType(values), tuple(files))


def parse(setting: Setting, raw: object, where: str) -> Any:
    """``raw`` (environment text or a TOML value) as ``setting``'s type; ``where`` starts the
    error message. Raises :class:`ConfigError`."""
    kind = setting.kind
    text = raw.strip() if isinstance(raw, str) else raw
    if kind.name == "yes/no":
        if isinstance(text, bool):
            return text
        if isinstance(text, str) and text.lower() in _YES | _NO:
            return text.lower() in _YES
    elif kind.name in ("whole number", "number"):
        value: float | None = None
        if isinstance(text, int | float) and not isinstance(text, bool):
            value = text
        elif isinstance(text, str):
            try:
                value = int(text) if kind.name == "whole number" else float(text)
            except ValueError:
                value = None
        if value is not None and kind.name == "whole number" and value != int(value):
            value = None
        if value is not None and (kind.low is None or value >= kind.low) and (
                kind.high is None or value <= kind.high):
            return int(value) if kind.name == "whole number" else float(value)
    elif kind.choices:
        if isinstance(text, str) and text.lower() in kind.choices:
            return text.lower()
    elif isinstance(text, str):
        return text
    raise ConfigError(f"{where}: {setting.key} takes {_article(kind.describe())}")


def env_text(setting: Setting, value: Any) -> str:
    """``value`` written as the environment variable of ``setting`` would hold it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _read_file(path: Path, *, index_file: bool) -> dict[str, Value]:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    out: dict[str, Value] = {}
    if COLLECTIONS_TABLE in data:
        if index_file:
            raise ConfigError(f"{path}: [{COLLECTIONS_TABLE}] belongs in the user's file, "
                              "not in an index's own")
        data = {k: v for k, v in data.items() if k != COLLECTIONS_TABLE}
    for key, raw in _flatten(data):
        setting = BY_KEY.get(key)
        if setting is None:
            close = difflib.get_close_matches(key, BY_KEY, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"{path}: unknown setting {key}{hint}")
        if setting.scope == "env" or (index_file and setting.scope == "user"):
            where = "the environment" if setting.scope == "env" else "a user file"
            raise ConfigError(f"{path}: {key} can only be set in {where}")
        out[key] = Value(setting, parse(setting, raw, f"{path}: {key} = {raw!r}"), str(path))
    return out


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _article(kind: str) -> str:
    return kind if kind.startswith("one of") else f"a {kind}"
