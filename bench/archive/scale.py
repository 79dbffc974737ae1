"""Grow one index over the test archive, 1 -> 10 -> 50 hours, and measure each size.

    python bench/archive/build.py --hours 50 --out ARCHIVE
    python bench/archive/scale.py --archive ARCHIVE --work WORK [--sizes 1 10 50]

The archive of fewer hours is a prefix of the larger one (``build.py`` takes whole parts), so
each size indexes only the files it adds, into the same index, as an archive grows. Per size,
on this machine, in one run:

* **indexing**: ``deerin index`` of the added files (graph off, shots/OCR/faces off: the picture
  is black), wall time, and the seconds the indexer reports per file (model loading excluded);
  throughput in hours of media per hour of wall time, for the added files;
* **graph**: ``deerin graph build`` from scratch on a copy of the whole index at that size
  (extraction of every clip, merging, writing), wall time, peak memory (``ru_maxrss`` of the
  process), and its ratio to the summed indexing time of the archive;
* **disk**: the index folder (and the graph's part of it);
* **search**: first-stage hybrid search (query embedding, BM25 + vectors, fused; no rerank) as
  the assistant runs it, p50/p95 over the archive's questions (``eval/sets/archive/``), three
  warm passes; and the store's part alone (the query embedding does not grow with the archive);
* **map**: ``deerin map`` wall time (the whole command: load, layout, write);
* **graph show**: ``deerin graph show NAME`` wall time over a few entities (the whole command,
  as a user waits for it), and the in-process lookup of one entity's evidence.

With ``--speech FILE`` a real speech recording is also indexed (speech recognition included, the
seconds the indexer reports for it), so the graph build can be set against what indexing the same
hours of real speech would take: the test archive's subtitles skip speech recognition, which is
most of indexing for real footage.

The index at each size is kept as ``WORK/db-<H>h`` for ``deerin eval``. Figures go to
``WORK/scale.json`` and a Markdown table on stdout. Absolute times swing on a shared machine;
compare sizes within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SHOW_NAMES = ("Congress", "Spain", "Cuba", "Great Britain", "United States")  # named at 1 h
_FILE_SECONDS = re.compile(r"^indexed .*: .* in ([\d.]+) s$", re.MULTILINE)


def prefix(manifest: dict, hours: float) -> list[dict]:
    """The manifest's first files until ``hours`` of media are reached."""
    out, total = [], 0.0
    for f in manifest["files"]:
        if total >= hours * 3600:
            break
        out.append(f)
        total += f["duration_s"]
    return out


def run(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Run ``cmd``; its wall seconds, peak resident memory (MiB), stdout and stderr."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, **(env or {})})
    out, err = p.communicate()
    wall = time.perf_counter() - t
    if p.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({p.returncode}):\n{err[-2000:]}")
    return {"wall_s": wall, "stdout": out, "stderr": err, "rc": p.returncode}


def peak_rss(cmd: list[str], env: dict[str, str] | None = None) -> dict:
    """Like :func:`run`, with the process's own peak resident memory from ``wait4``."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, **(env or {})})
    assert p.stderr is not None
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t
    if p.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({p.returncode}):\n{err[-2000:]}")
    return {"wall_s": wall, "peak_mib": usage.ru_maxrss / 1024, "stderr": err}


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def questions() -> list[str]:
    """Every question of the archive's sets (search latency runs over them)."""
    out = []
    for path in sorted((REPO / "eval/sets/archive").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("//"):
                out.append(json.loads(line)["question"])
    return out


def search_latency(db: Path, qs: list[str], passes: int = 3) -> dict:
    """p50/p95 of first-stage hybrid search over ``qs``: the whole of it (query embedding,
    BM25 + vector query, fusion) and the store's part alone (what grows with the archive)."""
    from assistant.calibration import CANDIDATES
    from assistant.retrieval import Retriever, by_fusion, dedupe
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    settings = Settings(db_dir=db)
    store = LanceStore(db, create=False)
    retriever = Retriever(store, settings, reranker="off")
    retriever.search("warm up", k=10)
    whole, part = [], []
    for _ in range(passes):
        for q in qs:
            t = time.perf_counter()
            vector = retriever.embed_query(q)
            t1 = time.perf_counter()
            dedupe(by_fusion(store.search(q, vector, k=CANDIDATES, depth=CANDIDATES)))
            t2 = time.perf_counter()
            whole.append(t2 - t)
            part.append(t2 - t1)

    def pct(xs: list[float], q: float) -> float:
        xs = sorted(xs)
        return 1000 * xs[int(q * (len(xs) - 1))]

    return {"n": len(whole), "p50_ms": pct(whole, 0.5), "p95_ms": pct(whole, 0.95),
            "store_p50_ms": pct(part, 0.5), "store_p95_ms": pct(part, 0.95)}


def lookup_latency(db: Path) -> dict:
    """Loading the graph, then p50 of finding one entity and listing its clips, in process."""
    from indexing.graph.build import KnowledgeGraph
    from indexing.graph.networkx_store import NetworkxGraphStore

    t = time.perf_counter()
    kg = KnowledgeGraph(NetworkxGraphStore(db).mentions())
    load = time.perf_counter() - t
    times = []
    for _ in range(5):
        for name in SHOW_NAMES:
            t = time.perf_counter()
            e = kg.find(name)
            _ = sorted({m.clip_id for m in e.mentions}) if e else []
            times.append(time.perf_counter() - t)
    return {"load_s": load, "find_p50_ms": 1000 * statistics.median(times),
            "entities": len(kg), "mentions": kg.mention_count()}


def measure_size(hours: float, files: list[dict], added: list[dict], archive: Path, work: Path,
                 deerin: list[str], qs: list[str], index_total: float) -> dict:
    db = work / "db"
    row: dict = {"hours": hours, "files": len(files),
                 "media_h": sum(f["duration_s"] for f in files) / 3600,
                 "added_media_h": sum(f["duration_s"] for f in added) / 3600}
    quiet = {"DEERIN_GRAPH": "off"}
    idx = run([*deerin, "index", *[str(archive / f["video"]) for f in added], "--db", str(db),
               "--no-shots", "--no-ocr", "--no-faces", "--no-proxies"], env=quiet)
    per_file = [float(s) for s in _FILE_SECONDS.findall(idx["stderr"])]
    row["index_wall_s"] = idx["wall_s"]
    row["index_files_s"] = sum(per_file)
    row["index_h_per_h"] = row["added_media_h"] * 3600 / idx["wall_s"]
    row["index_files_h_per_h"] = row["added_media_h"] * 3600 / max(sum(per_file), 1e-9)
    index_total += idx["wall_s"]
    row["index_total_wall_s"] = index_total

    copy = work / f"db-{hours:g}h"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(db, copy)
    shutil.rmtree(copy / "graph", ignore_errors=True)
    graph = peak_rss([*deerin, "graph", "build", "--db", str(copy)])
    row["graph_build_s"] = graph["wall_s"]
    row["graph_peak_mib"] = graph["peak_mib"]
    row["graph_vs_index"] = graph["wall_s"] / index_total
    row["disk_mib"] = du(copy) / 2**20
    row["graph_disk_mib"] = du(copy / "graph") / 2**20 if (copy / "graph").exists() else 0.0

    row["search"] = search_latency(copy, qs)
    m = run([*deerin, "map", "--db", str(copy), "--out", str(work / f"map-{hours:g}h.html")])
    row["map_s"] = m["wall_s"]
    shows = sorted(run([*deerin, "graph", "show", name, "--db", str(copy)])["wall_s"]
                   for name in SHOW_NAMES)
    row["graph_show_p50_s"] = statistics.median(shows)
    row["graph_lookup"] = lookup_latency(copy)
    return row


def speech_rate(path: Path, work: Path, deerin: list[str]) -> dict:
    """Hours of real speech indexed per hour (the indexer's own seconds for the file)."""
    db = work / "speech-db"
    shutil.rmtree(db, ignore_errors=True)
    idx = run([*deerin, "index", str(path), "--db", str(db), "--no-shots", "--no-ocr",
               "--no-faces", "--no-proxies"], env={"DEERIN_GRAPH": "off"})
    seconds = sum(float(s) for s in _FILE_SECONDS.findall(idx["stderr"]))
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                            "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                           check=True)
    media = float(probe.stdout)
    return {"file": path.name, "media_s": media, "index_s": seconds,
            "h_per_h": media / max(seconds, 1e-9)}


def table(rows: list[dict]) -> str:
    lines = ["| archive | files | index h/h (wall) | index h/h (files) | graph build s "
             "(vs index) | graph MiB | disk MiB | search p50/p95 ms | store p50/p95 ms | map s "
             "| graph show s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s = r["search"]
        lines.append(
            f"| {r['media_h']:.1f} h | {r['files']} | {r['index_h_per_h']:.0f} | "
            f"{r['index_files_h_per_h']:.0f} | {r['graph_build_s']:.1f} "
            f"({100 * r['graph_vs_index']:.0f} %) | {r['graph_peak_mib']:.0f} | "
            f"{r['disk_mib']:.1f} | {s['p50_ms']:.1f} / {s['p95_ms']:.1f} | "
            f"{s['store_p50_ms']:.1f} / {s['store_p95_ms']:.1f} | {r['map_s']:.1f} | "
            f"{r['graph_show_p50_s']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=Path, required=True, help="built by build.py")
    ap.add_argument("--work", type=Path, required=True, help="indexes and figures go here")
    ap.add_argument("--sizes", type=float, nargs="+", default=[1, 10, 50])
    ap.add_argument("--speech", type=Path, help="a real speech recording, for the graph's "
                    "share of what indexing real footage takes")
    args = ap.parse_args(argv)
    manifest = json.loads((args.archive / "manifest.json").read_text())
    args.work.mkdir(parents=True, exist_ok=True)
    if (args.work / "db").exists():
        shutil.rmtree(args.work / "db")
    deerin = [sys.executable, "-m", "deerin"]
    qs = questions()
    rows: list[dict] = []
    done: list[dict] = []
    index_total = 0.0
    for hours in sorted(args.sizes):
        files = prefix(manifest, hours)
        added = files[len(done):]
        print(f"{hours:g} h: {len(files)} files ({len(added)} added)", flush=True)
        row = measure_size(hours, files, added, args.archive, args.work, deerin, qs, index_total)
        index_total = row["index_total_wall_s"]
        rows.append(row)
        done = files
        (args.work / "scale.json").write_text(json.dumps(rows, indent=2) + "\n")
        print(json.dumps(row, indent=1), flush=True)
    print(table(rows))
    if args.speech:
        rate = speech_rate(args.speech, args.work, deerin)
        for r in rows:
            r["graph_vs_speech_index"] = r["graph_build_s"] / (r["media_h"] * 3600
                                                               / rate["h_per_h"])
        (args.work / "scale.json").write_text(json.dumps({"sizes": rows, "speech": rate},
                                                         indent=2) + "\n")
        print(f"real speech ({rate['file']}) indexes at {rate['h_per_h']:.1f} h/h; the graph "
              "build against indexing the same hours of speech: " + ", ".join(
                  f"{r['media_h']:.0f} h {100 * r['graph_vs_speech_index']:.1f} %" for r in rows))


if __name__ == "__main__":
    main()
