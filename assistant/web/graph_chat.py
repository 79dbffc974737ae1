"""Chainlit glue for the knowledge graph in the chat (:mod:`assistant.web.graph_view`).

Under an answer, a message lists the graph entities it used, one button each; a button opens the
entity's appearances as players (DEERIn's media route with ``#t=start,end``, never a copy of the
file). The start screen adds questions from the biggest communities. A question asking for every
moment or recording that names something is answered with the graph's whole list instead, a page
at a time (:func:`answer_with_evidence`, :func:`more_evidence`). Imported only by
``chainlit_app.py``; importing it registers the entity button's callback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import chainlit as cl

from assistant.web.evidence_view import PLAYERS, evidence_markdown, more_label
from assistant.web.graph_view import (
    ChatGraph,
    appearances_markdown,
    chat_graph,
    entities_markdown,
)
from assistant.web.state import service_from

if TYPE_CHECKING:
    from collections.abc import Callable

    from assistant.answer import Answer
    from assistant.web.chat_service import ChatService
    from assistant.web.evidence_view import EvidencePage, ShownMoment
    from assistant.web.extensions import ChatHost
    from assistant.web.graph_view import Appearance

log = logging.getLogger("deerin.chat")

ENTITY_ACTION = "deerin_entity"
EVIDENCE_ACTION = "deerin_evidence_more"
EVIDENCE_AUTHOR = "Knowledge graph"


def _chat_graph() -> ChatGraph:
    """The graph view of the served service (one per service, :func:`chat_graph`)."""
    from chainlit.server import app as chainlit_app

    return chat_graph(service_from(chainlit_app.state))


async def community_starters() -> list[cl.Starter]:
    """Starter questions from the biggest communities ([] without a graph)."""
    try:
        pairs = await asyncio.to_thread(_chat_graph().community_questions)
    except Exception as exc:  # a nicety: never break the start page over it
        log.warning("no graph starters: %s", exc)
        return []
    return [cl.Starter(label=label, message=question) for label, question in pairs]


async def show_entities(answer: Answer) -> None:
    """Under ``answer``, the entities of its cited clips, each a button to its appearances."""
    if answer.refused or not answer.citations:
        return
    try:
        entities = await asyncio.to_thread(
            _chat_graph().entities_used, answer.question,
            [c.clip.clip_id for c in answer.citations])
    except Exception:  # the answer is already shown: the graph may only add to it
        log.exception("entities of %r", answer.question)
        return
    if not entities:
        return
    actions = [cl.Action(name=ENTITY_ACTION, payload={"key": e.key}, label=e.name,
                         tooltip=f"Play where {e.name} appears") for e in entities]
    await cl.Message(content="**Entities in this answer** (open one to play where it "
                             "appears)\n\n" + entities_markdown(entities),
                     actions=actions, author="Knowledge graph").send()


@cl.action_callback(ENTITY_ACTION)
async def on_entity(action: cl.Action) -> None:
    """An entity's appearances, each a player opening on the words."""
    graph = _chat_graph()
    entity, shown = await asyncio.to_thread(graph.appearances, str(action.payload.get("key")))
    if entity is None:
        await cl.Message(content="That entity is no longer in the index.").send()
        return
    await cl.Message(content=appearances_markdown(entity, shown), author="Knowledge graph",
                     elements=appearance_players(shown, graph.service)).send()


def appearance_players(shown: list[Appearance], service: ChatHost) -> list[cl.Element]:
    """One inline player per appearance, loading from DEERIn's media route (``url=``)."""
    elements: list[cl.Element] = []
    for i, a in enumerate(shown, 1):
        url = service.media_url(a.clip, start=a.start, end=a.end)
        name = f"[{i}] {a.surface}"
        if service.is_audio_only(a.clip):
            elements.append(cl.Audio(name=name, url=url, display="inline"))
        else:
            elements.append(cl.Video(name=name, url=url, display="inline",
                                     player_config={"file": {"attributes":
                                                             {"preload": "metadata"}}}))
    return elements


# -- evidence lists ------------------------------------------------------------------------------
async def answer_with_evidence(
        question: str, service: ChatService,
        judging: Callable[[str], list[cl.Action]] | None = None,
) -> tuple[EvidencePage, str] | None:
    """When ``question`` asks for every moment or recording naming something the graph knows,
    send the first page of that list (with players and a "More" button; under it the actions
    ``judging`` makes for the message's id, the verdict buttons of ``deerin serve``) and
    return the page and the id of its message; else ``None``, and the ordinary answer
    follows. Never raises: the chat must not fail over the graph (a failure is logged, and the
    ordinary answer follows too)."""
    try:
        page = await asyncio.to_thread(chat_graph(service).evidence_page, question, 1)
        if page is None:
            return None
        sent = await _send_page(page, service, judging)
    except Exception:
        log.exception("showing the evidence list of %r failed; answering as usual", question)
        return None
    return page, sent


async def more_evidence(action: cl.Action, service: ChatService) -> None:
    """The next page a "More" button asks for (the button goes: the page has its own)."""
    question = str(action.payload.get("question") or "")
    try:
        number = int(action.payload.get("page") or 0)
    except (TypeError, ValueError):
        number = 0
    try:
        await action.remove()
    except Exception as exc:  # a button already gone: the page still comes
        log.debug("removing a More button: %s", exc)
    page = None
    if question and number > 1:
        page = await asyncio.to_thread(chat_graph(service).evidence_page, question, number)
    try:
        if page is not None:
            await _send_page(page, service)
            return
    except Exception:  # a failed page costs that page, not the chat
        log.exception("page %d of the evidence list of %r failed", number, question)
    await cl.Message(content="That list is no longer available: ask the question again.",
                     author=EVIDENCE_AUTHOR).send()


async def _send_page(page: EvidencePage, service: ChatService,
                     judging: Callable[[str], list[cl.Action]] | None = None) -> str:
    """Send ``page``; return its message's id."""
    from indexing.file_meta_index import catalogue_titles

    titles = await asyncio.to_thread(catalogue_titles, service.db_dir) if page.files else {}
    message = cl.Message(content=evidence_markdown(page, titles), author=EVIDENCE_AUTHOR,
                         elements=moment_players(page.moments[:PLAYERS], service))
    actions = list(judging(message.id)) if judging is not None else []
    if page.next is not None:
        actions.append(cl.Action(name=EVIDENCE_ACTION, label=more_label(page),
                                 payload={"question": page.question, "page": page.next},
                                 tooltip="The next moments of this list"))
    message.actions = actions
    await message.send()
    return message.id


def moment_players(moments: tuple[ShownMoment, ...], service: ChatHost) -> list[cl.Element]:
    """One inline player per moment whose clip is in the index, opening on the words."""
    elements: list[cl.Element] = []
    for s in moments:
        if s.clip is None or s.url is None:
            continue
        name = f"[{s.n}] {', '.join(s.moment.surfaces)}"
        if service.is_audio_only(s.clip):
            elements.append(cl.Audio(name=name, url=s.url, display="inline"))
        else:
            elements.append(cl.Video(name=name, url=s.url, display="inline",
                                     player_config={"file": {"attributes":
                                                             {"preload": "metadata"}}}))
    return elements
