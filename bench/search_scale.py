"""Search at scale: hybrid search latency, ANN recall, index build time and disk size at 100k and
1M clips.

Synthetic collection, written through :class:`~indexing.stores.lance.LanceStore` (``add_clips``
in batches, then ``finalize``, which builds the full-text index and, past
:data:`~indexing.stores.lance_index.VECTOR_INDEX_MIN_ROWS`, the ANN index: the same code path as
``deerin index``). Text: one to three sentences of the reference transcripts in ../shared/media,
recombined, plus a few random words of their vocabulary. Vectors: 384-d unit vectors around
topic centres (``--topics``), each topic with its own slice of the sentences, so text and vector
agree roughly as they do for real clips. No embedding model runs: what is measured is the store.

Per size it reports:

* write time (``add_clips``) and index build time (``finalize``), disk size;
* ANN recall@10 of the vector query as search runs it, against the exact scan of the same
  table (``bypass_vector_index``), over ``--queries`` queries near stored clips;
* latency p50/p95 of the exact scan (the baseline, measured in the same run), of the ANN
  vector query, and of the full hybrid search as the assistant calls it
  (``store.search(question, vector, k=40, depth=40)``: BM25 + vector, fused);
* with ``--compare``, the same for each other ANN index type, built on the same table;
* with ``--profile``, the time of each part of hybrid search (``bench/search_profile.py``).

``--keep`` leaves the indexes in ``--out``; ``--reuse`` then measures the queries again on them
without rebuilding (the collection and its questions are the same: fixed seed).

    python bench/search_scale.py --sizes 100000 --compare IVF_PQ --out /tmp/deerin-scale
    python bench/search_scale.py --sizes 1000000 --out /tmp/deerin-scale-1m --keep
    python bench/search_scale.py --sizes 1000000 --out /tmp/deerin-scale-1m --reuse --profile
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from indexing.stores import lance_index  # noqa: E402
from indexing.stores.lance import LanceStore  # noqa: E402
from indexing.types import Clip, ClipKind  # noqa: E402

MEDIA = REPO.parent / "shared" / "media"
DIM = 384
BATCH = 25_000
CANDIDATES = 40  # what assistant.retrieval asks the store for
KINDS = (ClipKind.SPEECH, ClipKind.SUBTITLE, ClipKind.OCR, ClipKind.CAPTION)
KIND_WEIGHTS = (0.75, 0.12, 0.09, 0.04)
LANGUAGES = ("en", "de", "fr", "nl", "")
LANGUAGE_WEIGHTS = (0.6, 0.15, 0.1, 0.05, 0.1)


def sentences() -> list[str]:
    """Sentences of the reference transcripts (plain text and Whisper segments)."""
    texts = [p.read_text(errors="replace") for p in sorted((MEDIA / "transcripts").glob("*.txt"))]
    for p in sorted((MEDIA / "transcripts").glob("*.json")):
        data = json.loads(p.read_text())
        texts += [s.get("text", "") for s in data.get("segments", [])]
    out = []
    for text in texts:
        out += [s.strip() for s in re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
                if len(s.split()) >= 4]
    return sorted(set(out))


class Collection:
    """Deterministic synthetic clips: topic centres, sentence pools, vocabulary."""

    def __init__(self, topics: int, seed: int = 7) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.random = random.Random(seed)
        self.sentences = sentences()
        self.vocab = sorted({w.strip(".,!?;:\"'()").lower() for s in self.sentences
                             for w in s.split()} - {""})
        centres = self.rng.standard_normal((topics, DIM)).astype(np.float32)
        self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        # Each topic draws from its own slice of the sentences (overlapping: topics share some).
        n = len(self.sentences)
        width = max(8, n // max(1, topics // 20))
        self.pools = [[self.sentences[(t * 7 + j) % n] for j in range(width)]
                      for t in range(topics)]

    def vectors(self, topic: np.ndarray) -> np.ndarray:
        """Unit vectors near the centres of ``topic`` (cosine about 0.7 to the centre)."""
        noise = self.rng.standard_normal((len(topic), DIM)).astype(np.float32) / np.sqrt(DIM)
        v = self.centres[topic] + noise
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def text(self, topic: int) -> str:
        pool = self.pools[topic]
        parts = self.random.sample(pool, k=min(len(pool), self.random.randint(1, 3)))
        extra = self.random.choices(self.vocab, k=self.random.randint(0, 5))
        return " ".join([*parts, *extra])

    def batch(self, start: int, n: int) -> tuple[list[Clip], np.ndarray]:
        """Clips ``start`` .. ``start + n``: 200 clips a file, 6 s each.

        The side columns vary as in a real index (kind, shot, keyframe, language): a column
        holding one value in every row is stored by LanceDB in a way that is slower to read at
        random (40 rows of four such columns at 1M: 9.6 ms, against 3.5 ms for varied values),
        which made earlier runs of this bench pessimistic."""
        topic = self.rng.integers(0, len(self.centres), n)
        clips = []
        for j in range(n):
            i = start + j
            media, seq = f"m{i // 200:06d}", i % 200
            file_rng = random.Random(i // 200)  # per-file facts, the same for all its clips
            video = file_rng.random() < 0.7
            language = file_rng.choices(LANGUAGES, weights=LANGUAGE_WEIGHTS)[0]
            kind = self.random.choices(KINDS if video else KINDS[:2],
                                       weights=KIND_WEIGHTS if video else KIND_WEIGHTS[:2])[0]
            shot = seq // 3 if video else None
            clips.append(Clip(media_id=media, media_path=f"/archive/{media}.mp4",
                              kind=kind, start=6.0 * seq, end=6.0 * seq + 6.0,
                              text=self.text(int(topic[j])), seq=seq, shot_index=shot,
                              keyframe=(f"/index/keyframes/{media}/shot-{shot:04d}.jpg"
                                        if shot is not None else None),
                              language=language,
                              box=(0.1, 0.8, 0.9, 0.95) if kind is ClipKind.OCR else None))
        return clips, self.vectors(topic)

    def queries(self, table: Any, n: int) -> list[tuple[str, np.ndarray]]:
        """Questions near stored clips: a stored vector plus noise, a few words of its text.

        Seeded on their own, so a run on a kept index (``--reuse``) asks the same questions
        as the run that built it."""
        rng, rnd = np.random.default_rng(self.seed + 1), random.Random(self.seed + 1)
        rows = table.search().select(["text", "vector"]).limit(n * 50).to_list()
        picked = rnd.sample(rows, k=min(n, len(rows)))
        out = []
        for r in picked:
            v = np.asarray(r["vector"], np.float32)
            v = v + 0.5 * rng.standard_normal(DIM).astype(np.float32) / np.sqrt(DIM)
            words = r["text"].split()
            a = rnd.randrange(max(1, len(words) - 5))
            out.append((" ".join(words[a:a + rnd.randint(2, 5)]), v / np.linalg.norm(v)))
        return out


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]


def timed(fn: Any, queries: list[Any]) -> tuple[list[Any], list[float]]:
    """Run ``fn`` on each query (after two warm-up calls); results and times in ms."""
    for q in queries[:2]:
        fn(q)
    results, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        results.append(fn(q))
        times.append(1000 * (time.perf_counter() - t0))
    return results, times


def vector_ids(table: Any, vec: np.ndarray, exact: bool) -> list[str]:
    q = table.search(vec, vector_column_name="vector").distance_type("cosine") \
        .select(["id", "_distance"]).limit(10)
    q = q.bypass_vector_index() if exact else lance_index.tune(q, 10)
    return [r["id"] for r in q.to_list()]


def measure_queries(store: LanceStore, table: Any, queries: list[tuple[str, np.ndarray]],
                    exact_ids: list[list[str]]) -> dict[str, float]:
    ann_ids, ann_ms = timed(lambda q: vector_ids(table, q[1], exact=False), queries)
    recall = statistics.mean(len(set(a) & set(e)) / max(1, len(e))
                             for a, e in zip(ann_ids, exact_ids, strict=True))
    _, hybrid_ms = timed(lambda q: store.search(q[0], q[1], k=CANDIDATES, depth=CANDIDATES),
                         queries)
    return {"recall_at_10": round(recall, 4),
            "ann_p50_ms": round(statistics.median(ann_ms), 2),
            "ann_p95_ms": round(pct(ann_ms, 0.95), 2),
            "hybrid_p50_ms": round(statistics.median(hybrid_ms), 2),
            "hybrid_p95_ms": round(pct(hybrid_ms, 0.95), 2)}


def build(db: Path, n: int, coll: Collection) -> tuple[float, float]:
    """Write ``n`` synthetic clips into a fresh store at ``db`` and finalize it; the write and
    index build times in seconds."""
    if db.exists():
        shutil.rmtree(db)
    store = LanceStore(db)
    store.ensure_embedder("synthetic-384", DIM)
    t0 = time.perf_counter()
    for start in range(0, n, BATCH):
        clips, vecs = coll.batch(start, min(BATCH, n - start))
        store.add_clips(clips, vecs)
        print(f"  {start + len(clips):>9,} clips written ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.finalize()  # full-text index, ANN index past the threshold, optimize
    build_s = time.perf_counter() - t0
    print(f"  finalize (indices) {build_s:.0f} s", flush=True)
    return round(write_s, 1), round(build_s, 1)


def run_size(n: int, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    db = out / f"clips-{n}"
    coll = Collection(args.topics)
    reused = args.reuse and (db / LanceStore.META_FILE).exists()
    if reused:
        # The same seed gives the same collection: only the queries are measured again.
        write_s = build_s = None
        print(f"  reusing the index in {db}", flush=True)
    else:
        write_s, build_s = build(db, n, coll)
    reader = LanceStore(db, create=False)
    table = reader._table("clips")
    queries = coll.queries(table, args.queries)
    exact_ids, exact_ms = timed(lambda q: vector_ids(table, q[1], exact=True), queries)
    row: dict[str, Any] = {
        "clips": n, "index_type": lance_index.VECTOR_INDEX_TYPE
        if n >= lance_index.VECTOR_INDEX_MIN_ROWS else "none (exact scan)",
        "write_s": write_s, "index_build_s": build_s,
        "disk_mb": round(dir_size(db) / 1e6, 1),
        "exact_p50_ms": round(statistics.median(exact_ms), 2),
        "exact_p95_ms": round(pct(exact_ms, 0.95), 2),
        **measure_queries(reader, table, queries, exact_ids),
    }
    if args.profile:
        from search_profile import profile

        row["profile_ms"] = profile(reader, queries)
    print(json.dumps(row), flush=True)
    rows = [row]
    for other in args.compare:
        t0 = time.perf_counter()
        table.checkout_latest()
        table.create_index("vector", config=lance_index.vector_index_config(DIM, other),
                           name=lance_index.VECTOR_INDEX, replace=True)
        other_build = time.perf_counter() - t0
        reader = LanceStore(db)  # latest versions: the replaced index
        t = reader._table("clips")
        # PQ distances are coarse: that index is queried with its full-vector refinement.
        kept = lance_index.REFINE_FACTOR
        lance_index.REFINE_FACTOR = args.compare_refine
        try:
            alt = {"clips": n, "index_type": other, "refine_factor": args.compare_refine,
                   "vector_index_build_s": round(other_build, 1),
                   "disk_mb": round(dir_size(db) / 1e6, 1),
                   **measure_queries(reader, t, queries, exact_ids)}
        finally:
            lance_index.REFINE_FACTOR = kept
        print(json.dumps(alt), flush=True)
        rows.append(alt)
    if not (args.keep or args.reuse):
        shutil.rmtree(db)
    return {"size": n, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,1000000",
                    help="comma-separated clip counts (default 100000,1000000)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/deerin-search-scale"),
                    help="where the indexes are built and the JSON report is written")
    ap.add_argument("--queries", type=int, default=200, help="queries per measurement")
    ap.add_argument("--topics", type=int, default=1000, help="vector clusters")
    ap.add_argument("--compare", default="", help="other ANN index types to measure too, "
                    "comma-separated (IVF_PQ, IVF_HNSW_SQ)")
    ap.add_argument("--compare-refine", type=int, default=10,
                    help="refine_factor for the --compare index types (default 10)")
    ap.add_argument("--index-type", default=lance_index.VECTOR_INDEX_TYPE,
                    help="the ANN index finalize builds (default: the store's, "
                    f"{lance_index.VECTOR_INDEX_TYPE})")
    ap.add_argument("--keep", action="store_true", help="keep the built indexes")
    ap.add_argument("--reuse", action="store_true",
                    help="measure the queries again on the indexes a --keep run left in --out "
                    "(built if missing; kept)")
    ap.add_argument("--profile", action="store_true",
                    help="also time each part of hybrid search (bench/search_profile.py)")
    args = ap.parse_args()
    lance_index.VECTOR_INDEX_TYPE = args.index_type  # what LanceStore.finalize builds
    args.compare = [c for c in args.compare.split(",") if c]
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"nprobes {lance_index.NPROBES}, ef {lance_index.EF}, "
          f"refine_factor {lance_index.REFINE_FACTOR}; ANN index from "
          f"{lance_index.VECTOR_INDEX_MIN_ROWS:,} rows", flush=True)
    report = []
    for n in (int(s) for s in args.sizes.split(",") if s):
        print(f"== {n:,} clips", flush=True)
        report.append(run_size(n, args.out, args))
        (args.out / "report.json").write_text(json.dumps(report, indent=1))
    print("\nclips      index          build s  disk MB  exact p50  ann p50  recall@10  "
          "hybrid p50/p95 ms")
    for size in report:
        for r in size["rows"]:
            build = r.get("index_build_s", r.get("vector_index_build_s"))
            print(f"{r['clips']:>9,}  {r['index_type']:<13} {build!s:>8}  {r['disk_mb']:>7}  "
                  f"{r.get('exact_p50_ms', '-'):>9}  {r['ann_p50_ms']:>7}  "
                  f"{r['recall_at_10']:>9}  {r['hybrid_p50_ms']}/{r['hybrid_p95_ms']}")


if __name__ == "__main__":
    main()
