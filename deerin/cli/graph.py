"""``deerin graph …``: build and read the knowledge graph (who and what appears where)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from deerin.cli.options import (
    EXIT_USAGE,
    DbOption,
    JsonOption,
    WaitOption,
    command_config,
    err,
    fail,
    open_store,
)
from indexing.fmt import fmt_time

if TYPE_CHECKING:
    from indexing.graph.build import KnowledgeGraph
    from indexing.stores.lance import LanceStore

def current_graph(store: LanceStore) -> KnowledgeGraph:
    """The graph of ``store``, brought up to date first when the writer lock is free (see
    :func:`indexing.graph.sync.current_graph`); warnings printed. Raises ``typer.Exit`` with
    the problem printed when the graph store cannot be used."""
    from indexing.graph.settings import GraphSettings
    from indexing.graph.store import GraphError
    from indexing.graph.sync import current_graph as read

    try:
        kg, warnings = read(store, GraphSettings.from_config(command_config(store.db_dir)))
    except GraphError as exc:
        raise fail(str(exc)) from exc
    for warning in warnings:
        err().print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    return kg


def _graph(db: Path | None) -> tuple[LanceStore, KnowledgeGraph]:
    store = open_store(db)
    return store, current_graph(store)


def build(db: DbOption = None, wait: WaitOption = 0.0) -> None:
    """Extract entities from every indexed clip the graph lacks; drop removed files."""
    from indexing.graph.settings import GraphSettings
    from indexing.graph.sync import sync_graph
    from indexing.stores.base import StoreError

    store = open_store(db)
    settings = GraphSettings.from_config(command_config(db))
    if not settings.enabled:
        raise fail("the knowledge graph is off (graph.enabled = false, DEERIN_GRAPH=off)")
    try:
        with store.writing(wait):
            done = sync_graph(store, settings)
    except StoreError as exc:
        raise fail(str(exc)) from exc
    if done.report is None:
        raise fail(done.problem)
    result = done.report
    for warning in result.warnings:
        err().print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    err().print(f"graph: {len(result.added)} file(s) extracted ({result.mentions} mentions), "
                f"{len(result.removed)} dropped, in {result.seconds:.1f} s", highlight=False)


def entities(
    db: DbOption = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many.")] = 30,
    label: Annotated[str | None, typer.Option(
        "--label", help="Only this label: PERSON, ORG, GPE, CONCEPT, ...")] = None,
    json_out: JsonOption = False,
) -> None:
    """The most widely mentioned entities, with how many clips and files they appear in."""
    _, kg = _graph(db)
    found = kg.entities([label.upper()] if label else None)[:top]
    if json_out:
        print(json.dumps([{"key": e.key, "name": e.name, "label": e.label, "clips": e.clips,
                           "files": list(e.files), "aliases": list(e.aliases)} for e in found],
                         indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(kg)} entities")
    for col in ("entity", "label", "clips", "files"):
        table.add_column(col)
    for e in found:
        table.add_row(escape(e.name), e.label, str(e.clips), str(len(e.files)))
    Console().print(table)


def show(
    name: Annotated[str, typer.Argument(help="An entity's name or alias, any case.")],
    db: DbOption = None,
    related: Annotated[int, typer.Option("--related", min=0, help="How many related.")] = 10,
    json_out: JsonOption = False,
) -> None:
    """Every clip where an entity appears (file, seconds) and the entities it appears with."""
    _, kg = _graph(db)
    entity = kg.find(name)
    if entity is None:
        raise fail(f"no entity named {name!r} in the graph (try `deerin graph entities`)")
    rel = kg.related(entity.key, related)
    if json_out:
        print(json.dumps({
            "key": entity.key, "name": entity.name, "label": entity.label,
            "aliases": list(entity.aliases),
            "appearances": [{"media": m.media_path, "start": m.start, "end": m.end,
                             "said_start": m.said_start, "said_end": m.said_end,
                             "surface": m.surface, "clip_id": m.clip_id}
                            for m in entity.mentions],
            "related": [{"name": e.name, "label": e.label, "weight": r.weight,
                         "npmi": round(r.npmi, 3)} for e, r in rel],
        }, indent=2, ensure_ascii=False))
        return
    out = Console()
    out.print(f"[bold]{escape(entity.name)}[/] ({entity.label}) — {entity.clips} clip(s) in "
              f"{len(entity.files)} file(s)", highlight=False)
    if entity.aliases:
        out.print(f"  also: {escape(', '.join(entity.aliases))}", highlight=False)
    for m in entity.mentions:
        out.print(f"  {escape(Path(m.media_path).name)} @ {fmt_time(m.said_start)}"
                  f"  (clip {fmt_time(m.start)}–{fmt_time(m.end)})  “{escape(m.surface)}”",
                  highlight=False)
    if rel:
        out.print("related: " + ", ".join(f"{escape(e.name)} ({r.weight:g})" for e, r in rel),
                  highlight=False)


def export(
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="graphml or json")] = "graphml",
    db: DbOption = None,
) -> None:
    """Write the graph (nodes with their appearances, weighted edges) as GraphML or JSON."""
    fmt = fmt.lower()
    if fmt not in ("graphml", "json"):
        raise fail(f"unknown format {fmt!r}: use graphml or json", EXIT_USAGE)
    _, kg = _graph(db)
    g = kg.to_networkx()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "json":
            import networkx as nx

            out.write_text(json.dumps(nx.node_link_data(g, edges="edges"), ensure_ascii=False),
                           encoding="utf-8")
        else:
            _write_graphml(g, out)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc}") from exc
    err().print(f"{g.number_of_nodes()} entities, {g.number_of_edges()} relations → {out}",
                 highlight=False)


def _write_graphml(g: Any, out: Path) -> None:
    """GraphML holds scalars only: lists (aliases, mentions, evidence clips) become JSON text."""
    import networkx as nx

    flat = nx.Graph()
    for node, data in g.nodes(data=True):
        flat.add_node(node, **{k: json.dumps(v) if isinstance(v, list) else v
                               for k, v in data.items()})
    for a, b, data in g.edges(data=True):
        flat.add_edge(a, b, **{k: json.dumps(v) if isinstance(v, list) else v
                               for k, v in data.items()})
    nx.write_graphml(flat, out)


def communities(
    db: DbOption = None,
    level: Annotated[int | None, typer.Option("--level", help="Only this level (0 = top).")]
    = None,
    json_out: JsonOption = False,
) -> None:
    """Groups of entities that appear together, each with an extractive report."""
    from indexing.graph.communities import algorithm, detect
    from indexing.graph.reports import clips_by_id, extractive_report

    store, kg = _graph(db)
    found = [c for c in detect(kg) if level is None or c.level == level]
    clips = clips_by_id(store, (m for e in kg.entities() for m in e.mentions))
    reports = [(c, extractive_report(kg, c, clips)) for c in found]
    if json_out:
        print(json.dumps([{
            "id": c.id, "level": c.level, "parent": c.parent, "members": list(c.members),
            "title": r.title, "summary": r.summary, "key_entities": list(r.key_entities),
            "clips": [{"media": clips[x].media_path, "start": clips[x].start,
                       "end": clips[x].end} for x in r.clip_ids if x in clips]}
            for c, r in reports], indent=2, ensure_ascii=False))
        return
    out = Console()
    out.print(f"{len(found)} communities ({algorithm()})", highlight=False)
    for c, r in reports:
        where = ", ".join(f"{Path(clips[x].media_path).name} @ {fmt_time(clips[x].start)}"
                          for x in r.clip_ids if x in clips)
        out.print(f"[bold]{'  ' * c.level}{escape(r.title)}[/] ({len(c.members)} entities) "
                  f"— {escape(where)}", highlight=False)
        if r.summary:
            out.print(f"{'  ' * c.level}  {escape(r.summary[:200])}", highlight=False)
