"""Communities: groups of entities that appear together, in a two-level hierarchy.

Leiden (hierarchical: communities over ``max_size`` members are split again) comes from
``graspologic-native`` (MIT, a Rust wheel; the usual ``leidenalg``/``igraph`` pair is GPL and
so not used). Where that wheel is missing, networkx's Louvain (BSD) runs at a coarse resolution
and again inside each large community. Both are seeded, and edges are given in a sorted order,
so the same graph always gives the same communities.

Only positively associated pairs (npmi > 0) are edges: two words that merely both occur
often say nothing about a theme. Communities of one entity are dropped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from indexing.graph.build import KnowledgeGraph
from indexing.graph.types import ACTION, Community
from indexing.types import content_id

SEED = 42
MAX_SIZE = 12  # a community larger than this is split into the next level


def detect(kg: KnowledgeGraph, seed: int = SEED, max_size: int = MAX_SIZE) -> list[Community]:
    """The communities of ``kg``: level 0 first (largest first), then their sub-communities."""
    edges = sorted((r.a, r.b, float(r.weight)) for r in kg.relations() if r.npmi > 0)
    if not edges:
        return []
    try:
        levels = _leiden(edges, seed, max_size)
    except ImportError:
        levels = _louvain(edges, seed, max_size)
    return _communities(kg, levels)


def algorithm() -> str:
    """Which algorithm :func:`detect` uses here."""
    try:
        import graspologic_native  # noqa: F401
    except ImportError:
        return "louvain (networkx)"
    return "leiden (graspologic-native)"


Levels = list[dict[str, list[tuple[str, ...]]]]  # per level: parent label -> member groups


def _leiden(edges: Sequence[tuple[str, str, float]], seed: int, max_size: int) -> Levels:
    import graspologic_native as gn

    found = gn.hierarchical_leiden(list(edges), max_cluster_size=max_size, seed=seed,
                                   resolution=1.0, randomness=0.001, use_modularity=True)
    groups: dict[tuple[int, int], list[str]] = defaultdict(list)
    parent_of: dict[tuple[int, int], int | None] = {}
    for c in found:
        groups[(c.level, c.cluster)].append(c.node)
        parent_of[(c.level, c.cluster)] = c.parent_cluster
    levels: Levels = []
    for (level, cluster), members in sorted(groups.items()):
        while len(levels) <= level:
            levels.append(defaultdict(list))
        parent = parent_of[(level, cluster)]
        levels[level]["" if parent is None else f"{level - 1}:{parent}"].append(tuple(members))
    return _with_labels(levels, groups)


def _with_labels(levels: Levels, groups: dict[tuple[int, int], list[str]]) -> Levels:
    """Replace parent cluster numbers by the parent's sorted member tuple (stable labels)."""
    by_label = {f"{lvl}:{cl}": tuple(sorted(ms)) for (lvl, cl), ms in groups.items()}
    return [{(",".join(by_label[p]) if p else ""): v for p, v in level.items()}
            for level in levels]


def _louvain(edges: Sequence[tuple[str, str, float]], seed: int, max_size: int) -> Levels:
    import networkx as nx

    g = nx.Graph()
    g.add_weighted_edges_from(edges)
    top = nx.community.louvain_communities(g, weight="weight", resolution=1.0, seed=seed)
    levels: Levels = [{"": [tuple(sorted(c)) for c in top]}, {}]
    for c in top:
        if len(c) > max_size:
            sub = nx.community.louvain_communities(g.subgraph(c), weight="weight",
                                                   resolution=1.0, seed=seed)
            if len(sub) > 1:
                levels[1][",".join(sorted(c))] = [tuple(sorted(s)) for s in sub]
    return [lvl for lvl in levels if lvl]


def _communities(kg: KnowledgeGraph, levels: Levels) -> list[Community]:
    out: list[Community] = []
    ids: dict[str, str] = {}  # sorted member label -> community id
    for level, groups in enumerate(levels):
        made = []
        for parent_label, member_groups in groups.items():
            for members in member_groups:
                if len(members) < 2:
                    continue
                ordered = _by_weight(kg, members)
                cid = content_id(str(level), *sorted(members))
                ids[",".join(sorted(members))] = cid
                made.append(Community(cid, level, ordered, ids.get(parent_label)))
        made.sort(key=lambda c: (-_mentions(kg, c.members), c.id))
        out += made
    return out


def _by_weight(kg: KnowledgeGraph, members: Sequence[str]) -> tuple[str, ...]:
    """Most mentioned first, actions after everything else: a community's title and the
    questions it suggests name who and what, not "come" or "let"."""
    return tuple(sorted(members, key=lambda k: (_is_action(kg, k), -_clips(kg, k), k)))


def _is_action(kg: KnowledgeGraph, key: str) -> bool:
    e = kg.entity(key)
    return e is not None and e.label == ACTION


def _clips(kg: KnowledgeGraph, key: str) -> int:
    e = kg.entity(key)
    return e.clips if e is not None else 0


def _mentions(kg: KnowledgeGraph, members: Sequence[str]) -> int:
    return sum(_clips(kg, k) for k in members)
