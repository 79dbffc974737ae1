"""``deerin eval --shots``: Recall@5 of text → shot search on a hand-labelled shot set."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from deerin.common import EXIT_USAGE, err, fail, open_store, settings_of


def shot_eval(path: Path, db: Path | None, json_out: bool) -> None:
    """Run the shot set in ``path`` against the index ``db`` and print Recall@5; when picture
    search is off, say so (exit 0: the harness ran, there is nothing to measure)."""
    from eval.shots import load_shot_set, run_shot_eval

    try:
        queries = load_shot_set(path)
    except (OSError, ValueError) as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    store = open_store(db)
    result = run_shot_eval(store, settings_of(db), queries)
    if json_out:
        print(json.dumps(result.to_json(), indent=2))
    if result.problem:
        err().print(f"[yellow]shot eval: {len(queries)} queries not scored:[/] "
                    f"{result.problem}", highlight=False)
        return
    if json_out:
        return
    table = Table(title=f"DEERIn shot search: {len(result.ranks)} queries over {result.shots} "
                  "shots")
    for col in ("metric", "value"):
        table.add_column(col)
    table.add_row("model", str(result.model))
    table.add_row(f"Recall@{result.k}", f"{result.recall:.3f}")
    table.add_row(f"chance Recall@{result.k}", f"{result.chance_recall:.3f}")
    Console().print(table)
    if result.skipped:
        err().print(f"{len(result.skipped)} queries not scored (their files are not in this "
                    f"index): {', '.join(result.skipped)}", highlight=False)
    missed = [q for q, r in result.ranks.items() if r is None]
    if missed:
        err().print(f"missed: {', '.join(missed)}", highlight=False)
