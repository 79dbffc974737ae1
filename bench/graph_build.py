"""Benchmark: knowledge-graph build time against indexing time, entity lookup, memory.

    python bench/graph_build.py [--media DIR] [--edges N] [--memory-only]

In one run: indexes ../shared/media into a fresh store (graph off, timed: the baseline), then
builds the graph from that store's clips (spaCy load + extraction + write, timed) and prints the
ratio (the target: <= 10 % of indexing time). Then times entity lookups by name on the
loaded graph (p50; target <= 20 ms) and linking a question to entities (names + meaning), and
reports the memory of a synthetic graph of N edges (default 1,000,000) held as networkx with
DEERIn's edge attributes: resident memory (``VmRSS`` from /proc/self/status) before and after
building it, and per edge; ``--memory-only`` runs just that part. Figures only: nothing is
asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TQDM_DISABLE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _rss_mb() -> float:
    """Resident memory now (VmRSS), in MiB; the peak from getrusage where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--memory-only", action="store_true",
                    help="only the synthetic graph's memory (no indexing)")
    args = ap.parse_args()
    if not args.memory_only:
        _build_and_lookup(args.media)
    _synthetic_memory(args.edges)


def _build_and_lookup(media: Path) -> None:

    from indexing.graph.extract import EntityExtractor
    from indexing.graph.networkx_store import NetworkxGraphStore
    from indexing.graph.sync import load_graph, update
    from indexing.pipeline import Indexer
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    with tempfile.TemporaryDirectory(prefix="deerin-graph-bench-") as tmp:
        db = Path(tmp) / "db"
        store = LanceStore(db)
        t = time.perf_counter()
        report = Indexer(store, Settings.from_env({}, db_dir=db)).index([media])
        index_s = time.perf_counter() - t
        clips = store.count_clips()
        print(f"indexing (baseline): {len(report.results)} files, {clips} clips in "
              f"{index_s:.1f} s")
        t = time.perf_counter()
        sync = update(store, NetworkxGraphStore(db), EntityExtractor())
        build_s = time.perf_counter() - t
        print(f"graph build: {len(sync.added)} files, {sync.mentions} mentions in "
              f"{build_s:.2f} s = {100 * build_s / index_s:.1f} % of indexing (target <= 10 %)")
        t = time.perf_counter()
        kg = load_graph(NetworkxGraphStore(db))
        print(f"graph load: {len(kg)} entities, {len(kg.relations())} relations in "
              f"{1000 * (time.perf_counter() - t):.1f} ms")
        names = [e.name for e in kg.entities()] or ["nothing"]
        times = []
        for i in range(2000):
            name = names[i % len(names)]
            t = time.perf_counter()
            entity = kg.find(name)
            if entity is not None:
                kg.related(entity.key, 10)
            times.append(time.perf_counter() - t)
        print(f"entity lookup (find + 10 related), p50 {1000 * statistics.median(times):.3f} ms, "
              f"max {1000 * max(times):.3f} ms over {len(times)} (target p50 <= 20 ms)")
        from assistant.graph.linking import EntityLinker
        from indexing.stages.embed import embedder_from_settings

        linker = EntityLinker(kg, embedder_from_settings(Settings.from_env({}, db_dir=db)))
        linker.link("warm up")
        questions = ["Which recordings mention Houston?", "In which films do birds appear?",
                     "Who was on board with Laurel Clark?", "What are the main themes?"]
        times = []
        for q in questions * 5:
            t = time.perf_counter()
            linker.link(q)
            times.append(time.perf_counter() - t)
        print(f"question linking (names + meaning), p50 {1000 * statistics.median(times):.1f} ms")


def _synthetic_memory(edges: int) -> None:
    import networkx as nx

    n_nodes = max(edges // 10, 2)
    rng = random.Random(0)
    rss0 = _rss_mb()
    g = nx.Graph()
    g.add_nodes_from((f"entity {i}", {"label": "CONCEPT", "clips": 1}) for i in range(n_nodes))
    added = 0
    while added < edges:  # counted here: Graph.number_of_edges() walks every node each call
        a, b = rng.randrange(n_nodes), rng.randrange(n_nodes)
        if a != b and not g.has_edge(f"entity {a}", f"entity {b}"):
            added += 1
            g.add_edge(f"entity {a}", f"entity {b}", weight=1.0, npmi=0.5,
                       clips=(f"{rng.getrandbits(80):020x}",))
    rss1 = _rss_mb()
    grown = rss1 - rss0
    print(f"synthetic graph: {n_nodes:,} nodes, {g.number_of_edges():,} edges (weight, npmi, one "
          f"evidence clip each): RSS {rss0:.0f} -> {rss1:.0f} MiB, +{grown:.0f} MiB = "
          f"{grown * 2**20 / max(g.number_of_edges(), 1):.0f} bytes per edge")
    t = time.perf_counter()
    for i in range(2000):
        list(g.neighbors(f"entity {i * 7 % n_nodes}"))
    print(f"synthetic neighbour lookup: {1e6 * (time.perf_counter() - t) / 2000:.1f} us each")


if __name__ == "__main__":
    main()
