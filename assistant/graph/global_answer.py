"""Collection-wide answers: map over the community reports closest to the question, reduce.

Map: for each of the closest communities (:meth:`GraphIndex.relevant_communities`) the LLM
reads the community's report (LLM-written and cached, :mod:`assistant.graph.reports`) and says
in one sentence what it contributes to the question, or NONE. Reduce: the contributions in order
of relevance, each citing the clip of its community (any clip where one of its entities appears)
closest to the question, so the answer cites
playable clips like any other. Without an LLM the reports' own titles and summaries are the
contributions (an extractive answer).
"""

from __future__ import annotations

import time

import numpy as np

import prompts
from assistant.answer import REFUSAL_TEXT, Answer, Citation, check_question
from assistant.graph.index import GraphIndex
from assistant.graph.reports import llm_report
from assistant.llm import LLM, LLMError, complete
from indexing.protocols import Embedder
from indexing.types import Clip, Hit


def answer_global(question: str, graph: GraphIndex, embedder: Embedder,
                  llm: LLM | None = None) -> Answer:
    """Answer a collection-wide ``question`` from community reports (see the module doc)."""
    question = check_question(question)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    points: list[tuple[str, Citation]] = []
    retrieved: list[Hit] = []
    for community, score in graph.relevant_communities(question, embedder):
        report = llm_report(graph, community, llm) if llm is not None else graph.report(community)
        clips = [c for cid in graph.community_clips(community)
                 if (c := graph.clip(cid)) is not None]
        if not clips:
            continue
        clips = _closest_first(question, clips, embedder)
        retrieved += [Hit(clip=c, score=score, sources=("community",), clip_id=c.clip_id)
                      for c in clips]
        point = f"{report.title}: {report.summary}" if report.summary else report.title
        if llm is not None:
            messages = [{"role": "user", "content": prompts.render(
                "global_map", title=report.title, summary=report.summary,
                entities=", ".join(report.key_entities), question=question)}]
            try:
                reply = complete(llm, messages, max_tokens=70, temperature=0.0).strip()
            except LLMError:
                reply = ""
            if reply and not reply.upper().startswith("NONE"):
                point = " ".join(reply.split())
        points.append((point, Citation(len(points) + 1, clips[0], score)))
    timings["total_s"] = time.perf_counter() - t0
    if not points:
        return Answer(question, question, REFUSAL_TEXT, True, (), tuple(retrieved), timings)
    text = " ".join(f"{_sentence(p)[:-1]} [{c.n}]{_sentence(p)[-1]}" for p, c in points)
    return Answer(question, question, text, False, tuple(c for _, c in points),
                  tuple(retrieved), timings, extractive=llm is None)


def _closest_first(question: str, clips: list[Clip], embedder: Embedder) -> list[Clip]:
    """``clips`` by cosine similarity to ``question``, closest first: a community's citation
    is its clip that speaks to the question, not merely its most central one."""
    q = np.asarray(embedder.embed_query(question), dtype=np.float32)
    vecs = np.asarray(embedder.embed_texts([c.embedding_text() for c in clips]), dtype=np.float32)
    order = np.argsort(-(vecs @ q), kind="stable")
    return [clips[i] for i in order]


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text[-1:] in ".!?" else text + "."

