"""``deerin search`` and ``deerin ask``: ranked clips, and answers that cite them."""

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
    command_config,
    err,
    fail,
    settings_of,
)
from indexing.fmt import fmt_time

if TYPE_CHECKING:
    from assistant.graph.evidence import EvidenceList


def search(
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.")],
    db: DbOption = None,
    k: Annotated[int, typer.Option("-k", help="How many clips.")] = 10,
    with_people: Annotated[bool, typer.Option(
        "--with-people", help="Only clips whose shot shows a face.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Find the clips that best match a text (hybrid full-text + vector search)."""
    import deerin
    from assistant.shots import ShotSearch
    from indexing.file_meta_index import catalogue_view
    from indexing.stores.base import StoreError

    if not query.strip():
        raise fail("the search text is empty", EXIT_USAGE)
    config = command_config(db)
    try:
        store = deerin.open_index(db, config=config)
        hits = deerin.search(query, db, k=k, with_people=with_people, config=config)
    except StoreError as exc:
        raise fail(str(exc)) from exc
    titles = {mid: v.title for mid, v in catalogue_view(store).items() if v.title}
    if json_out:
        print(json.dumps([
            {"media": h.clip.media_path, "title": titles.get(h.clip.media_id, ""),
             "start": round(h.clip.start, 2),
             "end": round(h.clip.end, 2), "text": h.clip.text, "kind": h.clip.kind.value,
             "score": round(h.score, 4), "found_by": list(h.sources)}
            | ({"box": list(h.clip.box)} if h.clip.box else {})
            | ({"keyframe": h.clip.keyframe} if h.clip.kind.value == "shot" else {})
            for h in hits], indent=2, ensure_ascii=False))
        return
    problem = ShotSearch(store.db_dir, settings_of(db)).problem
    if problem and any(m.has_video for m in store.media()):
        err().print(f"[dim]{problem}[/]")
    if not hits:
        print("no matching clips")
        return
    table = Table(show_lines=False)
    for col in ("#", "clip", "kind", "score", "text"):
        table.add_column(col, overflow="fold")
    for i, h in enumerate(hits, 1):
        c = h.clip
        # A shot found by its picture shows the picture: its keyframe file.
        text = f"keyframe {c.keyframe}" if c.kind.value == "shot" and c.keyframe else c.text
        title = f"{titles[c.media_id]} — " if c.media_id in titles else ""
        table.add_row(str(i), f"{title}{Path(c.media_path).name} @ "
                      f"{fmt_time(c.start)}–{fmt_time(c.end)}",
                      c.kind.value, f"{h.score:.3f}", text)
    Console().print(table)


def ask(
    question: Annotated[str, typer.Argument(help="A question in plain language.")],
    db: DbOption = None,
    llm: LlmOption = None,
    k: Annotated[int | None, typer.Option("-k", help="How many clips to give the LLM.")] = None,
    mode: Annotated[str, typer.Option(
        "--mode", help="naive (hybrid retrieval), local (the knowledge graph's entities), "
        "hybrid (both fused), global (collection-wide, from community reports), auto.")
    ] = "naive",
    page: Annotated[int, typer.Option(
        "--page", min=1, help="Which page of a list of every moment something is named "
        "(questions such as 'which recordings mention Cuba?').")] = 1,
    json_out: JsonOption = False,
) -> None:
    """Answer a question from the indexed footage, citing timestamped clips.

    A question asking for every moment or recording that names something ("every moment
    where Cuba is named", "which recordings mention Nicaragua?") is answered with the knowledge
    graph's whole list of them: the count, then the moments page by page (``--page``; all of
    them with ``--json``), each with the file and the seconds to play."""
    import deerin
    from assistant.answer import Event, QuestionError
    from assistant.graph.modes import check_mode
    from assistant.llm import LLMError, LLMUsageError
    from indexing.graph.store import GraphError
    from indexing.stores.base import StoreError

    console = err()
    try:
        mode = check_mode(mode)
    except ValueError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    try:
        with console.status("retrieving…") as spinner:
            def on_event(ev: Event) -> None:
                if ev.kind == "retrieved":
                    spinner.update(f"answering from {len(ev.hits)} clips…")

            reply = deerin.ask(question, db, llm=llm, k=k, mode=mode,
                               config=command_config(db), on_event=on_event)
    except (QuestionError, StoreError, LLMError, GraphError) as exc:
        usage = isinstance(exc, QuestionError | LLMUsageError)
        raise fail(str(exc), EXIT_USAGE if usage else EXIT_FAILED) from exc
    answer = reply.answer
    if reply.evidence is not None:
        _print_evidence(question, reply.evidence, page, json_out)
        return
    if json_out:
        extra = {} if mode == "naive" else {
            "mode": reply.mode,
            "entities": [{"name": e.name, "label": e.label, "clips": e.clips}
                         for e in reply.entities]}
        print(json.dumps(answer.to_json() | extra, indent=2, ensure_ascii=False))
        return
    out = Console()
    out.print(answer.text, highlight=False)
    for c in answer.citations:
        out.print(f"  [{c.n}] {c.label}  [dim]{c.clip.text[:90]}[/]", highlight=False)
    if reply.entities:
        out.print("  [dim]entities: " + ", ".join(e.name for e in reply.entities) + "[/]",
                  highlight=False)


def _print_evidence(question: str, found: EvidenceList, page: int, json_out: bool) -> None:
    """The count and one page of an evidence list (all of it as JSON)."""
    from assistant.graph.evidence import PAGE

    if json_out:
        print(json.dumps({"answer": found.summary(), "mode": "evidence"} | found.to_json(),
                         indent=2, ensure_ascii=False))
        return
    out = Console()
    out.print(found.summary(), highlight=False)
    if found.unit == "recording":
        for name, n in found.files:
            out.print(f"  {Path(name).name}: {n} moment{'s' * (n != 1)}", highlight=False)
    shown = found.page(page)
    if not shown:
        out.print(f"  [dim](page {page} is past the last, {found.pages()})[/]", highlight=False)
        return
    first = (page - 1) * PAGE + 1
    out.print(f"  [dim]page {page} of {found.pages()}:[/]", highlight=False)
    for i, m in enumerate(shown, first):
        start, end = m.play
        out.print(f"  [{i}] {Path(m.media_path).name} @ {fmt_time(start)}–{fmt_time(end)}  "
                  f"[dim]{', '.join(m.surfaces)}[/]", highlight=False)
    if page < found.pages():
        out.print(f'  [dim]more: deerin ask "{question}" --page {page + 1}[/]', highlight=False)
