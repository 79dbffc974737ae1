"""Benchmark: the same files indexed into a local folder and into an S3 prefix, in one run.

    python bench/object_store.py [--media DIR] [--files NAME ...] [--queries N]

No S3 is reachable here: moto's S3 server (``moto[server]``) on loopback stands in for it, so
wall times show DEERIn's own overhead (pyarrow and LanceDB over HTTP), not a real network's
latency. The figure that carries over to a real object store is the number of HTTP requests
each operation makes (counted from the server's log): multiply by the store's round trip
(typically 10-50 ms for S3 from the same region) for the latency it adds.

Both indexes share one set of loaded models (the first, local, run loads them), OCR and faces
are off. Prints, for each location: index wall time and the driver's ``store`` stage, a
re-index of the unchanged files, opening a reader, hybrid search p50/p95 over ``--queries``
queries, and the requests per operation on S3.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FILES = ["picovoice_leopard_test_en.wav", "mdn_bear_transcript_demo.mp3",
         "jfk_inaugural_1961.flac", "popeye_sinbad_1936_part3.mkv"]
QUERIES = ["ask not what your country can do for you", "an audio file about bears",
           "the apostle of the middle classes", "a sailor fights a giant bird",
           "the torch has been passed to a new generation", "transcribe this recording"]


class _Requests(logging.Handler):
    """Counts the HTTP requests moto's server logs (one werkzeug line per request)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if '"' in record.getMessage():
            self.count += 1


def _server(tmp: Path) -> tuple[Any, str]:
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_REGION="us-east-1", DEERIN_S3_ENDPOINT=endpoint,
                      DEERIN_CACHE_DIR=str(tmp / "cache"))
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
    return server, endpoint


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    parser.add_argument("--files", nargs="+", default=FILES)
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()

    from indexing.filework import Backends
    from indexing.pipeline import Indexer
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    files = [args.media / n for n in args.files]
    counter = _Requests()
    logging.getLogger("werkzeug").addHandler(counter)
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="deerin-objbench-") as tmp_name:
        tmp = Path(tmp_name)
        server, endpoint = _server(tmp)
        backends: Backends | None = None
        rows: list[dict[str, Any]] = []
        for label, db in (("local folder", str(tmp / "db")), ("S3 (moto)", "s3://bench/idx")):
            settings = Settings.from_env({}, db_dir=db, ocr=False, faces=False)
            backends = backends or Backends(settings, None)
            if label.startswith("local"):  # models load outside both timed runs
                _ = backends.transcriber
                embedder = backends.embedder
                embedder.embed_query("warm up")
            row: dict[str, Any] = {"where": label}
            counter.count = 0
            t = time.perf_counter()
            indexer = Indexer(LanceStore(db), settings, backends=backends)
            report = indexer.index(files)
            row["index_s"] = time.perf_counter() - t
            row["store_s"] = indexer.stage_seconds.get("store", 0.0)
            row["index_req"] = counter.count
            assert not report.failures, report.failures
            counter.count = 0
            t = time.perf_counter()
            again = Indexer(LanceStore(db), settings, backends=backends).index(files)
            row["reindex_s"] = time.perf_counter() - t
            row["reindex_req"] = counter.count
            assert again.unchanged == len(files)
            counter.count = 0
            t = time.perf_counter()
            reader = LanceStore(db, create=False)
            reader.media()
            row["open_s"] = time.perf_counter() - t
            row["open_req"] = counter.count
            vectors = [embedder.embed_query(q) for q in QUERIES]
            reader.search(QUERIES[0], vectors[0], k=10)  # first query opens the tables
            times: list[float] = []
            counter.count = 0
            for i in range(args.queries):
                j = i % len(QUERIES)
                t = time.perf_counter()
                reader.search(QUERIES[j], vectors[j], k=10)
                times.append(time.perf_counter() - t)
            row["search_req"] = counter.count / args.queries
            row["p50_ms"] = 1000 * statistics.median(times)
            row["p95_ms"] = 1000 * _pct(times, 0.95)
            rows.append(row)
        server.stop()

    print(f"{len(files)} files ({', '.join(args.files)}); OCR and faces off; {args.queries} "
          f"hybrid searches (k=10); S3 = moto on loopback ({endpoint})")
    print("| where | index | store stage | re-index | open reader | search p50 | search p95 |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['where']} | {r['index_s']:.1f} s | {r['store_s']:.2f} s | "
              f"{r['reindex_s']:.2f} s | {r['open_s']:.3f} s | {r['p50_ms']:.1f} ms | "
              f"{r['p95_ms']:.1f} ms |")
    local, s3 = rows
    print(f"S3 / local: index {s3['index_s'] / local['index_s']:.2f}x, store stage "
          f"{s3['store_s'] / max(local['store_s'], 1e-9):.1f}x, search p50 "
          f"{s3['p50_ms'] / local['p50_ms']:.1f}x")
    print(f"HTTP requests on S3: index {s3['index_req']} ({s3['index_req'] / len(files):.0f} a "
          f"file), re-index {s3['reindex_req']}, open reader {s3['open_req']}, "
          f"search {s3['search_req']:.1f} a query")


if __name__ == "__main__":
    main()
