"""The Chainlit handlers of ``deerin chat``: ask, watch the answer stream, play the cited clips.

Start it with ``deerin chat`` (see :mod:`assistant.web.server`), not ``chainlit run``: the media
routes the players load from, and the :class:`~assistant.web.chat_service.ChatService` every
session shares, are set up by the server before Chainlit loads this file by its path. The service
is read back through :mod:`assistant.web.state`; this module imports only leaves of the web
layer (the service, its state key, the Markdown rendering), never the server.

Chainlit's decorators register handlers on its process-wide config when this module is executed,
which is the one piece of import-time work here: whether a login page exists must be known then.
Everything per chat lives in ``cl.user_session``; everything shared lives in the service.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, cast

import chainlit as cl
from chainlit.input_widget import Slider, TextInput

from assistant.web import verdicts
from assistant.web.chainlit_serve import (
    HISTORY_TURNS,
    keep_comparison,
    prefer_actions,
    show_place,
    verdict_actions,
    who,
)
from assistant.web.chat_service import MAX_K, ChatService
from assistant.web.graph_chat import (
    EVIDENCE_ACTION,
    answer_with_evidence,
    community_starters,
    more_evidence,
    show_entities,
)
from assistant.web.picture import found_shots, picture_search_note
from assistant.web.render import (
    COLLECTION_COMMAND,
    answer_markdown,
    citation_label,
    collection_text,
    details,
    empty_index_text,
    hits_table,
    span_label,
)
from assistant.web.state import directory_from, service_from
from assistant.web.streaming import IDLE, in_thread

if TYPE_CHECKING:
    from chainlit.types import CommandDict

    from assistant.answer import Answer, Citation, Event
    from assistant.web.auth import AuthConfig
    from assistant.web.extensions import ChatCommand
    from assistant.web.state import ServiceDirectory
    from indexing.types import Hit

log = logging.getLogger("deerin.chat")



def _directory() -> ServiceDirectory | None:
    from chainlit.server import app as chainlit_app

    return directory_from(chainlit_app.state)


def _service() -> ChatService:
    """The service of this chat: the one index of ``deerin chat``, or under ``deerin serve``
    the collection picked in this chat's profile, checked against the user again (raise
    :class:`LookupError` when they may not use it)."""
    from chainlit.server import app as chainlit_app

    directory = directory_from(chainlit_app.state)
    if directory is None:
        return service_from(chainlit_app.state)
    return directory.service_for(who(), cl.user_session.get("chat_profile"))


def _auth() -> AuthConfig:
    from chainlit.server import app as chainlit_app

    directory = directory_from(chainlit_app.state)
    return directory.auth if directory is not None else service_from(chainlit_app.state).auth


def _login_required() -> bool:
    try:
        return _auth().has_accounts
    except RuntimeError:
        return False


# -- authentication ------------------------------------------------------------------------------
# Registering the callback is what turns Chainlit's login page on, so it is registered only when
# there are accounts (DEERIN_AUTH, or the users file of `deerin serve`); the media routes are
# guarded under the same condition.
if _login_required():

    @cl.password_auth_callback
    async def login(username: str, password: str) -> cl.User | None:
        """Accept the accounts (an argon2 check takes a moment: off the event loop)."""
        if await asyncio.to_thread(_auth().check_password, username, password):
            return cl.User(identifier=username, metadata={"provider": "credentials"})
        return None


def _data_layer() -> Any:
    """The data layer keeping threads and answers (``deerin serve``), else ``None``."""
    if _directory() is None:
        return None
    from chainlit.data import get_data_layer

    return get_data_layer()


# -- collections (`deerin serve`) ----------------------------------------------------------------
if _directory() is not None:
    from assistant.web.chainlit_serve import register

    register(_directory, _service, _data_layer)

# -- start ---------------------------------------------------------------------------------------
@cl.set_starters
async def starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    """Suggested first questions, built from the words of the indexed files (under `deerin
    serve` each collection's picker entry carries its own)."""
    if _directory() is not None:
        return []
    try:
        pairs = await asyncio.to_thread(_service().starters)
    except Exception as exc:  # suggestions are a nicety: never break the start page over them
        log.warning("no starters: %s", exc)
        return []
    if not pairs:
        return []
    found = [cl.Starter(label=label, message=question) for label, question in pairs]
    found.append(cl.Starter(label="What does this collection hold?",
                            message="What does this collection hold?",
                            command=COLLECTION_COMMAND))
    return found + await community_starters()


@cl.on_chat_start
async def start() -> None:
    """Check the index, offer the settings; explain how to index when there is nothing."""
    try:
        service = _service()
    except LookupError as exc:  # deerin serve: a collection this user may not, or cannot, use
        await cl.Message(content=f"**{exc}.** Pick another collection above.").send()
        return
    cl.user_session.set("history", [])
    cl.user_session.set("llm", service.llm_spec)
    cl.user_session.set("k", service.k)
    snapshot = await asyncio.to_thread(service.snapshot)
    if not snapshot.media:
        await cl.Message(content=empty_index_text(snapshot)).send()
        return
    await cl.ChatSettings([
        TextInput(id="llm", label="Language model", initial=service.llm_spec,
                  description="llamacpp (built-in SmolLM2), llamacpp:/path/to/model.gguf, "
                              "or ollama:MODEL (e.g. ollama:llama3.2)"),
        Slider(id="k", label="Clips to answer from", initial=service.k, min=1, max=MAX_K,
               step=1),
    ]).send()
    commands: list[CommandDict] = [{
        "id": COLLECTION_COMMAND, "icon": "library", "button": False, "persistent": False,
        "selected": False, "description": "List the indexed files, their kind and duration",
    }]
    commands += [{"id": name, "icon": "film", "button": False, "persistent": False,
                  "selected": False, "description": command.description}
                 for name, command in service.commands.items()]
    await cl.context.emitter.set_commands(commands)
    note = picture_search_note(service.settings)
    if note:
        await cl.context.emitter.send_toast(note, "info")


@cl.on_settings_update
async def settings_changed(values: dict[str, Any]) -> None:
    """Take the new backend and clip count for this chat's next questions."""
    from assistant.llm import LLMError, parse_llm_spec

    try:
        service = _service()
    except LookupError:  # deerin serve: no collection of theirs in this chat; nothing to set
        return
    spec = str(values.get("llm") or "").strip() or service.llm_spec
    from chainlit.server import app as chainlit_app

    directory = directory_from(chainlit_app.state)
    try:
        parse_llm_spec(spec)
        allowed = directory is None or directory.may_pick_llm(who(), spec)
    except LLMError as exc:  # a spec naming no tier, backend or file
        await cl.context.emitter.send_toast(str(exc), "error")
    else:
        if allowed:
            cl.user_session.set("llm", spec)
        else:
            await cl.context.emitter.send_toast(
                "Only an admin may load a model file on this server: pick a tier "
                "(tiny, fast, default) or an Ollama model.", "error")
    try:
        k = int(float(values.get("k") or service.k))
    except (TypeError, ValueError):
        k = service.k
    cl.user_session.set("k", max(1, min(MAX_K, k)))


# -- answering -----------------------------------------------------------------------------------
@cl.on_message
async def on_question(message: cl.Message) -> None:
    """Retrieve, stream the LLM's words, then show the checked answer with its players."""
    from assistant.answer import QuestionError
    from assistant.llm import LLMError
    from indexing.file_meta_index import catalogue_of_db, catalogue_titles
    from indexing.stores.base import StoreError

    try:
        service = _service()
    except LookupError as exc:
        await cl.Message(content=f"**{exc}.**").send()
        return
    if message.command == COLLECTION_COMMAND:
        snapshot = await asyncio.to_thread(service.snapshot)
        note = picture_search_note(service.settings)
        records = await asyncio.to_thread(catalogue_of_db, service.db_dir)
        await cl.Message(content=collection_text(snapshot, records)
                         + (f"\n\n*{note}*" if note else "")).send()
        return
    command, argument = _command_of(message, service)
    if command is not None:
        await _run_command(command, argument, service)
        return
    history: list[tuple[str, str]] = cl.user_session.get("history") or []
    # Every moment or recording that names something: the knowledge graph's whole list, not an
    # LLM answer from the top clips (the question read on its own; None: answer as usual).
    layer = _data_layer()
    listed = await answer_with_evidence(message.content, service,
                                        verdict_actions if layer is not None else None)
    if listed is not None:
        page, sent = listed
        if layer is not None:  # deerin serve: the list is kept, and takes a verdict
            await verdicts.keep(layer.execute_sql, verdicts.record_of_list(
                page, sent, service.web.collection, thread_id=cl.context.session.thread_id,
                user=who()))
        history.append((message.content, page.found.summary()))
        cl.user_session.set("history", history[-HISTORY_TURNS:])
        return
    try:
        assistant, problem = await asyncio.to_thread(service.assistant, cl.user_session.get("llm"))
    except StoreError:
        snapshot = await asyncio.to_thread(service.snapshot)
        await cl.Message(content=empty_index_text(snapshot)).send()
        return
    if problem:
        await cl.context.emitter.send_toast(
            f"Language model unavailable — quoting the best clip instead. {problem}", "warning")
    if service.rerank_problem:
        await cl.context.emitter.send_toast(
            f"Rerank unavailable — clips keep their first-stage order. {service.rerank_problem}",
            "warning")

    titles = await asyncio.to_thread(catalogue_titles, service.db_dir)
    step: cl.Step | None = None
    reply: cl.Message | None = None
    final: Answer | None = None
    events = assistant.stream(message.content, history, k=cl.user_session.get("k"))
    directory = _directory()
    line = directory.line if directory is not None else None
    ticket = line.enter() if line is not None else None
    if line is not None and ticket is not None:  # deerin serve: clips at once, then a turn
        events = line.gated(events, ticket)
        watcher = asyncio.create_task(show_place(line, ticket))
    try:
        async for event in _events(events):
            if event.kind == "retrieved":
                async with cl.Step(name="Retrieved clips", type="retrieval",
                                   show_input=False) as step:
                    step.output = hits_table(event.hits, titles)
                reply = cl.Message(content="")
            elif event.kind == "token" and reply is not None:
                await reply.stream_token(event.token)
            elif event.kind == "answer":
                final = event.answer
    except QuestionError as exc:
        await _say(reply, f"Please rephrase: {exc}.")
        return
    except (LLMError, StoreError) as exc:
        await _say(reply, f"**The answer failed:** {exc}")
        return
    except Exception as exc:  # a bug must cost one answer, not the chat: say so, log the trace
        log.exception("answering %r failed", message.content)
        await _say(reply, f"**The answer failed** ({type(exc).__name__}: {exc}). "
                          "The server log has the details.")
        return
    finally:
        if line is not None and ticket is not None:
            watcher.cancel()
            if not ticket.answering:  # gave up while in line: the place goes to the next
                line.leave(ticket)
    if final is None:  # the stream ended without an answer: nothing checked to show
        await _say(reply, "**The answer failed:** the assistant stopped without answering.")
        return
    reply = reply or cl.Message(content="")
    # The streamed draft is replaced by the checked text: unsupported sentences are gone and the
    # markers renumbered, so what stays on screen is exactly what the sources support.
    reply.content = answer_markdown(final, titles)
    reply.elements = players(final.citations, service)  # type: ignore[assignment]
    reply.elements += shot_players(final.retrieved, final.citations, service)
    if layer is not None:  # deerin serve: the answer is kept, and takes a verdict
        reply.actions = verdict_actions(reply.id)
    await reply.send()
    if layer is not None:
        await verdicts.keep(layer.execute_sql, verdicts.record_of(
            final, reply.id, service.web.collection, thread_id=cl.context.session.thread_id,
            user=who(), llm=cl.user_session.get("llm")))
    await show_entities(final)
    if step is not None:
        step.output = f"{step.output}\n\n{details(final)}"
        await step.update()
    history.append((final.question, final.text))
    cl.user_session.set("history", history[-HISTORY_TURNS:])


@cl.action_callback(EVIDENCE_ACTION)
async def on_more_evidence(action: cl.Action) -> None:
    """The next page of an evidence list ("More" under the last page shown)."""
    try:
        service = _service()
    except LookupError as exc:
        await cl.Message(content=f"**{exc}.**").send()
        return
    await more_evidence(action, service)


def _command_of(message: cl.Message, service: ChatService) -> tuple[ChatCommand | None, str]:
    """The extension command a message asks for: picked from the command menu, or typed as
    ``/name argument``."""
    if message.command in service.commands:
        return service.commands[message.command], message.content.strip()
    text = message.content.strip()
    if text.startswith("/"):
        name, _, argument = text[1:].partition(" ")
        if name in service.commands:
            return service.commands[name], argument.strip()
    return None, ""


async def _run_command(command: ChatCommand, argument: str, service: ChatService) -> None:
    reply = cl.Message(content=f"Working on /{command.name} {argument}…")
    await reply.send()
    try:
        result = await asyncio.to_thread(command.run, service, argument)
    except Exception as exc:  # a failed command costs one reply, not the chat
        log.exception("/%s %r failed", command.name, argument)
        reply.content = f"**/{command.name} failed** ({type(exc).__name__}: {exc})."
        await reply.update()
        return
    elements: list[cl.Element] = []
    for p in result.players:
        if p.audio:
            elements.append(cl.Audio(name=p.name, url=p.url, display="inline"))
        else:
            attributes = {"preload": "metadata", **({"poster": p.poster} if p.poster else {})}
            elements.append(cl.Video(name=p.name, url=p.url, display="inline",
                                     player_config={"file": {"attributes": attributes}}))
    await reply.remove()
    answer = cl.Message(content=result.text, elements=elements)  # type: ignore[arg-type]
    layer = _data_layer()
    if layer is not None and result.sides:  # deerin serve: which side was better?
        answer.actions = prefer_actions(answer.id)
    await answer.send()
    if layer is not None and result.sides:
        await keep_comparison(layer, answer, result, service.web.collection)


async def _say(reply: cl.Message | None, text: str) -> None:
    """Show ``text`` in place of a half-streamed reply (or as a new message)."""
    reply = reply or cl.Message(content="")
    reply.content = text
    await reply.send()


async def _events(stream: Iterator[Event]) -> AsyncIterator[Event]:
    """The events of a blocking answer stream, as they are made (:func:`in_thread`)."""
    async for event in in_thread(stream):
        if event is not IDLE:  # never sent: no idle_after
            yield cast("Event", event)


# -- players -------------------------------------------------------------------------------------
def players(citations: tuple[Citation, ...], service: ChatService) -> list[cl.Element]:
    """One inline player per citation, opening on the cited words (``#t=start,end``), plus the
    clip's keyframe.

    The players load from DEERIn's media route (``url=``), which streams byte ranges of the
    indexed file; ``path=`` would copy whole archive files into the chat session.
    """
    elements: list[cl.Element] = []
    for c in citations:
        name = f"[{c.n}] {citation_label(c)}"
        url = service.media_url(c.clip, start=c.start, end=c.end)
        if service.is_audio_only(c.clip):
            elements.append(cl.Audio(name=name, url=url, display="inline"))
            continue
        thumb = service.keyframe_url(c.clip)
        attributes: dict[str, str] = {"preload": "metadata"}
        if thumb:
            attributes["poster"] = thumb
        elements.append(cl.Video(name=name, url=url, display="inline",
                                 player_config={"file": {"attributes": attributes}}))
        if thumb:
            elements.append(cl.Image(name=f"[{c.n}] keyframe", url=thumb, display="inline",
                                     size="small"))
    return elements


def shot_players(hits: tuple[Hit, ...], citations: tuple[Citation, ...],
                 service: ChatService) -> list[cl.Element]:
    """A player at the shot's times and its keyframe for each shot that picture search found
    and no citation plays (a shot has no words for the answer to cite, but may be what the
    user is looking for)."""
    elements: list[cl.Element] = []
    for h in found_shots(hits, citations):
        c = h.clip
        name = f"shot {span_label(c.media_path, c.start, c.end)}"
        thumb = service.keyframe_url(c)
        attributes: dict[str, str] = {"preload": "metadata"}
        if thumb:
            attributes["poster"] = thumb
        elements.append(cl.Video(name=name, url=service.media_url(c, start=c.start, end=c.end),
                                 display="inline",
                                 player_config={"file": {"attributes": attributes}}))
        if thumb:
            elements.append(cl.Image(name=f"{name} keyframe", url=thumb, display="inline",
                                     size="small"))
    return elements
