"""Community reports written by the LLM, lazily (at query time) and cached on disk.

A report is written only when a global question first reads it, from the community's key
entities and the text of its representative clips, and cached in
``<db>/graph/reports/<community id>-<model>.json``; a community's id hashes its members, so a
changed community gets a new report and an unchanged one is never written twice. Without an
LLM, or when the LLM fails, the extractive report (:mod:`indexing.graph.reports`) stands.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import prompts
from assistant.graph.index import GraphIndex
from assistant.llm import LLM, LLMError, complete
from indexing.graph.types import Community, CommunityReport

_EXCERPT_CHARS = 400


def llm_report(graph: GraphIndex, community: Community, llm: LLM) -> CommunityReport:
    """The LLM-written report of ``community`` (cached), or the extractive one if the LLM
    fails or writes nothing usable."""
    base = graph.report(community)
    model = str(getattr(llm, "model_id", "llm"))
    path = _cache_path(graph.cache_dir, community.id, model)
    cached = _read(path) if path is not None else None
    if cached is not None:
        return cached
    excerpts = "\n".join(
        f"- {clip.text[:_EXCERPT_CHARS]}" for c in base.clip_ids
        if (clip := graph.clip(c)) is not None)
    messages = [{"role": "user", "content": prompts.render(
        "community_report", entities=", ".join(base.key_entities), excerpts=excerpts)}]
    try:
        reply = complete(llm, messages, max_tokens=90, temperature=0.0).strip()
    except LLMError:
        return base
    lines = [ln.strip().strip("*#").strip() for ln in reply.splitlines() if ln.strip()]
    if len(lines) < 2:
        return base
    title = lines[0].removeprefix("Title:").strip().strip('"')[:80]
    report = CommunityReport(community.id, title or base.title, " ".join(lines[1:3])[:400],
                             base.key_entities, base.clip_ids, written_by=model)
    if path is not None:
        _write(path, report)
    return report


def _cache_path(cache_dir: Path | None, community_id: str, model: str) -> Path | None:
    if cache_dir is None:
        return None
    tag = hashlib.sha256(model.encode()).hexdigest()[:10]
    return cache_dir / "reports" / f"{community_id}-{tag}.json"


def _read(path: Path) -> CommunityReport | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return CommunityReport(data["community_id"], data["title"], data["summary"],
                               tuple(data["key_entities"]), tuple(data["clip_ids"]),
                               data["written_by"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or damaged: written again


def _write(path: Path, report: CommunityReport) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({
            "community_id": report.community_id, "title": report.title,
            "summary": report.summary, "key_entities": list(report.key_entities),
            "clip_ids": list(report.clip_ids), "written_by": report.written_by}),
            encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only index: the report is written again next time
