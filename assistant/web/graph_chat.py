"""Chainlit glue for the knowledge graph in the chat (:mod:`assistant.web.graph_view`).

Under an answer, a message lists the graph entities it used, one button each; a button opens the
entity's appearances as players (DEERIn's media route with ``#t=start,end``, never a copy of the
file). The start screen adds questions from the biggest communities. Imported only by
``chainlit_app.py``; importing it registers the button's callback.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import chainlit as cl

from assistant.web.graph_view import ChatGraph, appearances_markdown, entities_markdown
from assistant.web.state import service_from

if TYPE_CHECKING:
    from assistant.answer import Answer
    from assistant.web.chat_service import ChatService
    from assistant.web.graph_view import Appearance

log = logging.getLogger("deerin.chat")

ENTITY_ACTION = "deerin_entity"
_GRAPH_KEY = "deerin_graph"


def _chat_graph() -> ChatGraph:
    """The graph view kept beside the service on Chainlit's app state (one per service)."""
    from chainlit.server import app as chainlit_app

    service = service_from(chainlit_app.state)
    graph = getattr(chainlit_app.state, _GRAPH_KEY, None)
    if not isinstance(graph, ChatGraph) or graph.service is not service:
        graph = ChatGraph(service)
        setattr(chainlit_app.state, _GRAPH_KEY, graph)
    return graph


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


def appearance_players(shown: list[Appearance], service: ChatService) -> list[cl.Element]:
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
