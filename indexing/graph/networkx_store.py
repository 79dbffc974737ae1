"""The embedded graph store: the evidence in one JSON file beside the LanceDB index.

``<db>/graph/graph.json`` holds a format number, the extractor id and, per file, its mentions as
compact rows. Writes go to a temporary file that replaces the old one (atomic: a killed run
leaves the previous graph). An unreadable or damaged file is not fatal: the store starts empty
with a warning, and the next sync extracts every file again from the clips, which are the
source of truth, so nothing is lost. The graph itself is built in memory with networkx
(:meth:`~indexing.graph.build.KnowledgeGraph.to_networkx`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from indexing.fmt import exception_text
from indexing.graph.store import FileKey, GraphError, GraphStore
from indexing.graph.types import Mention

FORMAT = 1
GRAPH_DIR = "graph"
GRAPH_FILE = "graph.json"


def graph_dir(db_dir: Path) -> Path:
    """Where an index keeps its graph files (graph, communities, report cache)."""
    return Path(db_dir) / GRAPH_DIR


class NetworkxGraphStore:
    """A :class:`~indexing.graph.store.GraphStore` in ``<db>/graph/graph.json``."""

    def __init__(self, db_dir: Path) -> None:
        self.path = graph_dir(db_dir) / GRAPH_FILE
        self.location = str(self.path)
        self.warnings: list[str] = []
        self._extractor: str | None = None
        self._files: dict[FileKey, list[Mention]] = {}
        self._dirty = False
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"unknown format {data.get('format')!r}"
                                 if isinstance(data, dict) else "not a JSON object")
            files: dict[FileKey, list[Mention]] = {}
            for entry in data["files"]:
                mid, path = str(entry["media_id"]), str(entry["path"])
                files[(mid, path)] = [Mention.from_row(r, mid, path) for r in entry["mentions"]]
            self._extractor = str(data["extractor"]) if data.get("extractor") else None
            self._files = files
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.warnings.append(f"graph file {self.path} is unreadable ({exception_text(exc)}); "
                                 "rebuilding it from the clips")
            self._extractor, self._files, self._dirty = None, {}, True

    # -- GraphStore ----------------------------------------------------------------------------
    def extractor_id(self) -> str | None:
        return self._extractor

    def files(self) -> set[FileKey]:
        return set(self._files)

    def put_file(self, file: FileKey, mentions: Sequence[Mention], extractor_id: str) -> None:
        self._extractor = extractor_id
        self._files[file] = list(mentions)
        self._dirty = True

    def drop_file(self, file: FileKey) -> None:
        if self._files.pop(file, None) is not None:
            self._dirty = True

    def clear(self) -> None:
        self._extractor, self._files, self._dirty = None, {}, True

    def mentions(self) -> list[Mention]:
        return [m for key in sorted(self._files) for m in self._files[key]]

    def commit(self) -> None:
        if not self._dirty:
            return
        data: dict[str, Any] = {
            "format": FORMAT, "extractor": self._extractor,
            "files": [{"media_id": mid, "path": path,
                       "mentions": [m.row() for m in self._files[(mid, path)]]}
                      for mid, path in sorted(self._files)],
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")),
                           encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError as exc:
            reason = exception_text(exc)
            raise GraphError(f"cannot write the graph file {self.path}: {reason}") from exc
        self._dirty = False

    def close(self) -> None: ...


_: type[GraphStore] = NetworkxGraphStore
