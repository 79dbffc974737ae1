"""Turn pip's ``--dry-run --report`` JSON into pins, and write constraints.txt (scripts/lock.sh).

    python scripts/lock_report.py pins REPORT              # name==version lines on stdout
    python scripts/lock_report.py write LOCK BASE EXTRA... [--note TEXT]...

``write`` takes every pin of the first report and, from the later ones, only the packages the
first lacks, so the lean install's versions win and the extra reports only add their own.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

# The project itself, and the GPU runtime of a CUDA torch build (which of these exist depends on
# the build picked on the machine, so the lock leaves them to torch).
_SKIP = re.compile(r"^(deerin|nvidia-.*|cuda-.*|triton)$")

HEADER = """\
# The lock file: the exact version of every package DEERIn installs, with all its extras, for
# Python 3.11 on Linux x86_64. scripts/setup.sh, the Dockerfile and CI install with it
# (pip install -c constraints.txt ...). Do not edit by hand: regenerate with
#   bash scripts/lock.sh
# and check that every install set still resolves with: bash scripts/lock.sh --check
"""


def normalise(name: str) -> str:
    """The PEP 503 form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(report: Path) -> dict[str, str]:
    """``{name: version}`` of what a pip report installs, local labels dropped (``2.13.0+cpu``
    becomes ``2.13.0``: a pin without a label matches every local build of that release)."""
    data = json.loads(report.read_text())
    found: dict[str, str] = {}
    for item in data["install"]:
        meta = item["metadata"]
        name = normalise(meta["name"])
        if not _SKIP.match(name):
            found[name] = meta["version"].split("+", 1)[0]
    return found


def main(argv: list[str]) -> int:
    """Run the ``pins`` or ``write`` command (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("pins")
    show.add_argument("report", type=Path)
    write = sub.add_parser("write")
    write.add_argument("lock", type=Path)
    write.add_argument("base", type=Path)
    write.add_argument("extra", type=Path, nargs="*")
    write.add_argument("--note", action="append", default=[])
    args = parser.parse_args(argv)
    if args.command == "pins":
        sys.stdout.writelines(f"{n}=={v}\n" for n, v in sorted(pins(args.report).items()))
        return 0
    merged = pins(args.base)
    for extra in args.extra:
        for name, version in pins(extra).items():
            merged.setdefault(name, version)
    notes = "".join(f"# {line}\n" for line in args.note)
    body = "".join(f"{n}=={v}\n" for n, v in sorted(merged.items()))
    args.lock.write_text(HEADER + notes + body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
