"""``deerin eval``: retrieval, citation and refusal metrics on gold sets (see :mod:`eval`); the
retrieval of each GraphRAG mode (``--modes``); picture search on a shot set (``--shots``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from deerin.cli.options import (
    EXIT_FAILED,
    EXIT_USAGE,
    DbOption,
    JsonOption,
    LlmOption,
    err,
    fail,
    open_store,
    settings_of,
)

if TYPE_CHECKING:
    from indexing.settings import Settings


def evaluate(
    qa: Annotated[list[Path] | None, typer.Option(
        "--qa", help="Gold questions (JSONL, see eval/sets). Repeat to report each set apart, "
        "e.g. the tuning set and a held-out one.")] = None,
    shots: Annotated[Path | None, typer.Option(
        "--shots", help="A text->shot set (eval/sets/shots.jsonl): Recall@5 of picture search "
        "(needs CLIP weights, see DEERIN_CLIP_MODEL).")] = None,
    db: DbOption = None,
    llm: LlmOption = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write report.md, results.json and PNG charts here.")] = None,
    no_answer: Annotated[bool, typer.Option(
        "--no-answer", help="Retrieval metrics only: no LLM, much faster.")] = False,
    modes: Annotated[str | None, typer.Option(
        "--modes", help="Compare retrieval modes instead, e.g. naive,local,hybrid,global "
        "(set-recall@10 and Recall@5 per set and mode; no LLM).")] = None,
    peer: Annotated[bool, typer.Option(
        "--peer", help="Also answer every question with LlamaIndex's CitationQueryEngine over "
        "the same clips, embedder and LLM, side by side in the report.")] = False,
    against: Annotated[Path | None, typer.Option(
        "--against", help="results.json of an earlier run: print each rate before and after "
        "with a paired bootstrap interval of the difference (and write compare.md with "
        "--out).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Measure retrieval, citations and refusals on gold sets, against a dense baseline."""
    if shots is not None:
        shot_eval(shots, db, json_out)
        if not qa:
            return
    if not qa:
        err().print("[red]error:[/] give --qa FILE (questions) or --shots FILE (text->shot)")
        raise typer.Exit(EXIT_USAGE)
    if modes:
        eval_modes(qa, settings_of(db), modes, json_out)
        return
    before = None
    if against is not None:
        try:
            before = json.loads(against.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise fail(f"cannot read {against}: {exc}", EXIT_USAGE) from exc
    from assistant.llm import LLMError, LLMUsageError
    from eval.report import HEADLINE, fmt, printed_metrics, write_report
    from eval.runner import run_eval
    from indexing.stores.base import StoreError

    console = err()
    try:
        with console.status("loading models…") as spinner:
            # A spinner is invisible in a log file; a long run there gets one line per question.
            say = spinner.update if console.is_terminal else console.print
            run = run_eval(qa, settings_of(db), llm, answer=not no_answer, peer=peer,
                           progress=lambda i, n, q: say(f"question {i}/{n}: {q.id}"))
    except (OSError, ValueError, LLMUsageError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_USAGE) from exc
    except (StoreError, LLMError) as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED) from exc
    metrics = run.metrics()
    for warning in run.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if out is not None:
        paths = write_report(run, out)
        console.print(f"report written to {paths['report']}", highlight=False)
    if before is not None:
        from eval.compare import compare, render
        from eval.report import results_dict

        lines = render(compare(before, results_dict(run)))
        if out is not None:
            (out / "compare.md").write_text(
                f"# Against `{against}`\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
        if not json_out:
            Console().print("\n".join(lines), highlight=False, markup=False)
    if json_out:
        print(json.dumps(printed_metrics(run), indent=2))
        return
    table = Table(title=f"DEERIn eval: {metrics['n']} questions")
    # Several sets: a column per set beside the overall figure, so a tuned-set-only gain shows.
    by_set = run.metrics_by_set() if run.multi_set else {}
    for col in ("metric", *by_set, "DEERIn" if not by_set else "all", "baseline"):
        table.add_column(col)
    table.add_row("questions", *(str(m["n"]) for m in by_set.values()), str(metrics["n"]),
                  str(metrics["baseline"]["n"]))
    for key, label in HEADLINE:
        table.add_row(label, *(fmt(m[key]) for m in by_set.values()), fmt(metrics[key]),
                      fmt(metrics["baseline"][key]))
    Console().print(table)


def eval_modes(qa: list[Path], settings: Settings, modes: str, json_out: bool) -> None:
    """``deerin eval --modes``: retrieval of each mode on the gold sets, one table."""
    from eval.modes import SET_K, compare_modes, summarize_modes
    from indexing.graph.store import GraphError
    from indexing.stores.base import StoreError

    console = err()
    try:
        with console.status("loading models…") as spinner:
            say = spinner.update if console.is_terminal else (lambda _m: None)
            results = compare_modes(qa, settings, [m for m in modes.split(",") if m.strip()],
                                    progress=lambda i, n, what: say(f"{i}/{n}: {what}"))
    except (OSError, ValueError) as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    except (StoreError, GraphError) as exc:
        raise fail(str(exc)) from exc
    table = summarize_modes(results)
    if json_out:
        print(json.dumps(table, indent=2))
        return
    keys = ("n", f"set_recall@{SET_K}", "set_recall@5", "recall@1", "recall@5", "mrr", "p50_s")
    view = Table(title="DEERIn retrieval by mode")
    for col in ("set/mode", *keys):
        view.add_column(col)
    for name, row in table.items():
        view.add_row(name, *("-" if row[k] is None else f"{row[k]:.3f}" if isinstance(
            row[k], float) else str(row[k]) for k in keys))
    Console().print(view)


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
