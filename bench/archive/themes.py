"""Theme questions on one index of the test archive: which recordings an answer cites.

    python bench/archive/themes.py --db WORK/db-50h [eval/sets/archive/themes.jsonl]
        [--modes global,default] [--out FILE.json]

Each theme question lists the recordings (``recordings``: the addresses' ids, such as
``1875-Grant-1``) a reader would name for it. For each question and mode the answer is asked
with the shipped LLM, and the recordings its citations point at (or, for an evidence list, the
recordings it lists) are set against the listed ones *present in the index*: how many of them
it cites, and the share of what it cites that is listed. ``global`` is GraphRAG's
collection-wide answer from community reports; ``default`` is what ``deerin ask`` does with the
question as it comes (an evidence list when the question asks for recordings naming something,
else the ordinary answer).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

_DOC = re.compile(r"^\d{4}-(?P<doc>.+?)(?:-p\d+)?$")


def document(media_path: str) -> str:
    """The address a file of the archive holds: ``0003-1875-Grant-1-p2.mp4`` -> ``1875-Grant-1``."""
    stem = Path(media_path).stem
    m = _DOC.match(stem)
    return m.group("doc") if m else stem


def cited(reply: object) -> set[str]:
    """The addresses a :class:`deerin.api.Reply` cites or lists."""
    evidence = getattr(reply, "evidence", None)
    if evidence is not None:
        return {document(f) for f, _ in evidence.files}
    return {document(c.clip.media_path) for c in reply.answer.citations}  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> None:
    import deerin

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="*", type=Path,
                    default=[REPO / "eval/sets/archive/themes.jsonl"])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--modes", default="global,default")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    present = {document(r.path) for r in deerin.open_index(args.db).media()}
    rows = []
    for path in args.sets:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            q = json.loads(line)
            listed = set(q["recordings"]) & present
            for mode in args.modes.split(","):
                t = time.perf_counter()
                reply = deerin.ask(q["question"], args.db,
                                   mode="naive" if mode == "default" else mode)
                got = cited(reply)
                rows.append({"id": q["id"], "mode": mode, "listed": sorted(listed),
                             "cited": sorted(got), "cited_listed": len(got & listed),
                             "precision": len(got & listed) / len(got) if got else None,
                             "as": getattr(reply, "mode", mode),
                             "seconds": time.perf_counter() - t,
                             "answer": reply.answer.text})
                r = rows[-1]
                print(f"{q['id']} [{mode}→{r['as']}]: {r['cited_listed']} of {len(listed)} "
                      f"listed cited; {len(got)} cited; {r['seconds']:.1f} s", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"db": str(args.db), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
