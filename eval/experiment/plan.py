"""An experiment plan: a TOML file naming the collection, the questions and the configurations.

::

    name = "Three answer set-ups"
    [collection]
    paths = ["../../../shared/media/jfk_inaugural_1961.flac"]  # relative to the plan file
    [questions]
    sheet = "../templates/example_questions.csv"                # or: gold = "set.jsonl"
    [defaults]                                                  # every configuration starts here
    llm = "default"
    [[config]]
    name = "default"
    [[config]]
    name = "fast tier"
    llm = "fast"

Configuration keys: ``name``, ``asr`` (faster-whisper model: default, base, a name or path),
``embedder`` (default, minilm, e5, a sentence-transformers name), ``llm`` (a tier: tiny, fast,
default; ``ollama:MODEL``; a GGUF path), ``rerank`` (true/false), ``mode`` (naive, local,
hybrid, global, auto) and ``visual`` (shots, on-screen text and faces on or off). A
configuration with a bad key or value is kept with its problem (reported, not run); a plan
without collection or questions raises :class:`PlanError`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

MODES = ("naive", "local", "hybrid", "global", "auto")
_TOP_KEYS = {"name", "collection", "questions", "defaults", "config", "settings"}
_SETTINGS: dict[str, type] = {"k": int, "bootstrap": int, "seed": int, "share_indexes": bool,
                               "probe": int}


class PlanError(ValueError):
    """The plan as a whole cannot be used (the message names the file and the key)."""


@dataclass(frozen=True)
class Configuration:
    """One column of the report: the models and switches one run uses.

    ``problem`` is why it cannot run (a bad key, an unavailable model), ``None`` when it can.
    """

    name: str
    asr: str = "default"
    embedder: str = "default"
    llm: str = "default"
    rerank: bool = True
    mode: str = "naive"
    visual: bool = False
    problem: str | None = None

    @property
    def slug(self) -> str:
        """A folder name for the configuration's files."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "config"

    @property
    def index_side(self) -> tuple[str, str, bool]:
        """What the index depends on: configurations sharing it can share one index."""
        return (self.asr, self.embedder, self.visual)

    def describe(self) -> dict[str, Any]:
        """The settings as a plain dict (for results.json and the report)."""
        return {"asr": self.asr, "embedder": self.embedder, "llm": self.llm,
                "rerank": self.rerank, "mode": self.mode, "visual": self.visual}


@dataclass(frozen=True)
class Plan:
    """A parsed plan. Paths are absolute. ``k`` is the depth of the ranked lists, ``bootstrap``
    the number of resamples over questions and ``seed`` their seed; ``share_indexes`` lets
    configurations with the same index side use one index (off: each builds its own, from the
    stage cache); ``probe`` is how many questions the answer-latency probe asks."""

    path: Path
    name: str
    collection: tuple[Path, ...]
    questions: Path
    configurations: tuple[Configuration, ...]
    k: int = 5
    bootstrap: int = 1000
    seed: int = 7
    share_indexes: bool = False
    probe: int = 5
    warnings: tuple[str, ...] = field(default=())

    @property
    def runnable(self) -> tuple[Configuration, ...]:
        """The configurations without a problem, in plan order."""
        return tuple(c for c in self.configurations if c.problem is None)


_TYPES: dict[str, type] = {f.name: (bool if f.type in ("bool", bool) else str)
                           for f in fields(Configuration) if f.name != "problem"}


def load_plan(path: str | Path) -> Plan:
    """Read and check a plan file (see the module docstring); raises :class:`PlanError`."""
    p = Path(path).resolve()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PlanError(f"{p}: cannot read the plan: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{p}: not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise PlanError(f"{p}: unknown key(s) {', '.join(unknown)} "
                        f"(a plan has {', '.join(sorted(_TOP_KEYS))})")
    base = p.parent
    collection = _collection(data.get("collection"), base, p)
    questions = _questions(data.get("questions"), base, p)
    settings = _settings(data.get("settings", {}), p)
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise PlanError(f"{p}: [defaults] must be a table")
    raw = data.get("config")
    if not isinstance(raw, list) or not raw:
        raise PlanError(f"{p}: no configurations: add [[config]] tables")
    configs: list[Configuration] = []
    for i, entry in enumerate(raw, start=1):
        configs.append(_configuration(entry, defaults, i, {c.name for c in configs}))
    return Plan(path=p, name=str(data.get("name") or p.stem), collection=collection,
                questions=questions, configurations=tuple(configs), **settings)


def _collection(table: Any, base: Path, p: Path) -> tuple[Path, ...]:
    if not isinstance(table, dict) or not table.get("paths"):
        raise PlanError(f"{p}: [collection] needs paths = [\"file or folder\", ...]")
    paths = table["paths"]
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not all(isinstance(x, str) for x in paths):
        raise PlanError(f"{p}: collection.paths must be a list of strings")
    out = tuple((base / x).expanduser().resolve() for x in paths)
    missing = [str(x) for x in out if not x.exists()]
    if missing:
        raise PlanError(f"{p}: collection.paths: not found: {', '.join(missing)}")
    return out


def _questions(table: Any, base: Path, p: Path) -> Path:
    if not isinstance(table, dict) or not (set(table) & {"sheet", "gold"}):
        raise PlanError(f"{p}: [questions] needs sheet = \"questions.csv\" or gold = \"set.jsonl\"")
    if {"sheet", "gold"} <= set(table):
        raise PlanError(f"{p}: [questions] takes sheet or gold, not both")
    key = "sheet" if "sheet" in table else "gold"
    found = (base / str(table[key])).expanduser().resolve()
    if not found.is_file():
        raise PlanError(f"{p}: questions.{key}: not found: {found}")
    return found


def _settings(table: Any, p: Path) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise PlanError(f"{p}: [settings] must be a table")
    out: dict[str, Any] = {}
    for key, value in table.items():
        want = _SETTINGS.get(key)
        if want is None:
            raise PlanError(f"{p}: settings.{key}: unknown (use {', '.join(_SETTINGS)})")
        number = value if want is int and type(value) is int else 1
        least = 0 if key == "probe" else 1  # probe = 0 turns the latency probe off
        if type(value) is not want or number < least:
            kind = ("a positive integer" if least else "an integer >= 0") if want is int \
                else "true or false"
            raise PlanError(f"{p}: settings.{key}: must be {kind}, got {value!r}")
        out[key] = value
    return out


def _configuration(entry: Any, defaults: dict[str, Any], i: int,
                   taken: set[str]) -> Configuration:
    """One [[config]] table over the defaults; a problem is recorded, not raised."""
    if not isinstance(entry, dict):
        return Configuration(name=f"config {i}", problem="[[config]] must be a table")
    name = str(entry.get("name") or f"config {i}")
    if name in taken:
        name = f"{name} ({i})"
        return Configuration(name=name, problem=f"config {i}: name already used by another "
                                                "configuration")
    values: dict[str, Any] = {}
    for source, table in (("defaults", defaults), (f"config {name!r}", entry)):
        for key, value in table.items():
            if key == "name":
                continue
            want = _TYPES.get(key)
            if want is None:
                return Configuration(name=name, problem=f"{source}: unknown key {key!r} "
                                     f"(use {', '.join(k for k in _TYPES if k != 'name')})")
            if type(value) is not want:
                kind = "true or false" if want is bool else "a string"
                return Configuration(name=name, problem=f"{source}: {key} must be {kind}, "
                                                        f"got {value!r}")
            values[key] = value.strip() if isinstance(value, str) else value
    config = replace(Configuration(name=name), **values)
    if config.mode not in MODES:
        return replace(config, problem=f"mode {config.mode!r} is unknown "
                                       f"(use {', '.join(MODES)})")
    return config
