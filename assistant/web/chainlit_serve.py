"""The Chainlit handlers only ``deerin serve`` has: the collection picker (chat profiles), the
database that keeps threads, reopening a kept thread, verdicts on answers, preferences between
the two sides of ``/compare``, and the participant's place in line for the model.

:func:`register` is called by the chat module (:mod:`assistant.web.chainlit_app`) when the
server put a deployment on Chainlit's state; under ``deerin chat`` none of this exists.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import chainlit as cl

from assistant.web import verdicts

if TYPE_CHECKING:
    from assistant.web.chat_service import ChatService
    from assistant.web.extensions import CommandReply
    from assistant.web.line import AnswerLine, Ticket
    from assistant.web.state import ServiceDirectory

HISTORY_TURNS = 6  # the assistant reads the last 3; a few more keep the chat's thread visible
PREFER = "prefer"
PREFER_LABELS = {"A": "A is better", "B": "B is better", "same": "Equally good"}


async def show_place(line: AnswerLine, ticket: Ticket) -> None:
    """While the answer waits for the model, say where it stands in line (and take the note
    away when its turn comes)."""
    note: cl.Message | None = None
    try:
        while True:
            await asyncio.sleep(0.5)
            place = line.position(ticket)
            if place == 0:
                break
            text = (f"⏳ The model is answering others: you are number {place} in line. "
                    "The clips above are yours to play meanwhile.")
            if note is None:
                note = cl.Message(content=text)
                await note.send()
            elif note.content != text:
                note.content = text
                await note.update()
    finally:
        if note is not None:
            await note.remove()


def who() -> str | None:
    """The signed-in participant's identifier (``None`` without accounts)."""
    user = cl.user_session.get("user")
    return user.identifier if user else None


async def keep_comparison(layer: Any, message: cl.Message, result: CommandReply,
                          collection: str) -> None:
    """Keep a ``/compare`` reply (its question and both configurations) for the report."""
    from assistant.web.history import AnswerRecord, record_answer

    await record_answer(layer.execute_sql, AnswerRecord(
        message.id, collection, result.question or "", result.text, False, (),
        cl.context.session.thread_id, who(), " | ".join(result.sides), "compare"))


def verdict_actions(message_id: str) -> list[cl.Action]:
    """The buttons under a kept answer or list: right, partly or wrong."""
    return [cl.Action(name=verdicts.ACTION, label=label,
                      payload={"answer": message_id, "verdict": verdict})
            for verdict, label in verdicts.LABELS.items()]


def prefer_actions(message_id: str) -> list[cl.Action]:
    """The buttons under a comparison: which side answered better."""
    return [cl.Action(name=PREFER, label=label, payload={"answer": message_id, "side": side})
            for side, label in PREFER_LABELS.items()]


async def _starters(directory: ServiceDirectory, user: str | None, name: str,
                    problem: str | None) -> list[cl.Starter] | None:
    """The suggested first questions of a collection (none for an unavailable one)."""
    if problem:
        return None
    try:
        pairs = await asyncio.to_thread(
            lambda: directory.service_for(user, name).starters())
    except Exception:  # suggestions are a nicety: never break the picker over them
        return None
    return [cl.Starter(label=label, message=question) for label, question in pairs] or None


def _oauth_configured() -> bool:
    from assistant.web.oauth import configured_providers

    return bool(configured_providers())


def register(directory: Callable[[], ServiceDirectory | None],
             service: Callable[[], ChatService], data_layer: Callable[[], Any]) -> None:
    """Register the handlers (Chainlit keeps them in its process-wide configuration)."""
    found = directory()
    assert found is not None

    if getattr(found, "header", None) is not None:

        @cl.header_auth_callback
        async def from_proxy(headers: Any) -> cl.User | None:
            """Single sign-on: the user the reverse proxy's header names."""
            current = directory()
            user = current.from_headers(headers) if current is not None else None
            return cl.User(identifier=user, metadata={"provider": "header"}) if user else None

    if getattr(found, "oauth", None) is not None and _oauth_configured():

        @cl.oauth_callback
        async def from_oauth(provider_id: str, token: str, raw_user_data: dict[str, Any],
                             default_user: cl.User, id_token: str | None = None,
                             ) -> cl.User | None:
            """An OAuth login: the users file's entry of the address the provider vouches for,
            or an address of an allowed domain; anyone else is refused."""
            current = directory()
            user = current.from_oauth(provider_id, raw_user_data, default_user.identifier) \
                if current is not None else None
            return cl.User(identifier=user, metadata={"provider": provider_id}) \
                if user else None

    @cl.set_chat_profiles
    async def collections(user: cl.User | None = None,
                          language: str | None = None) -> list[cl.ChatProfile]:
        """The picker: the collections this user may see, an unavailable one with its reason."""
        current = directory()
        if current is None:
            return []
        who = user.identifier if user else None
        profiles = await asyncio.to_thread(current.profiles, who)
        return [cl.ChatProfile(
            name=p.name, markdown_description=(p.description or p.name) + (
                f"\n\n**Unavailable:** {p.problem}" if p.problem else ""),
            default=i == 0, starters=await _starters(current, who, p.name, p.problem))
            for i, p in enumerate(profiles)]

    if found.database_url:
        url = found.database_url

        @cl.data_layer
        def keep_threads() -> Any:
            """Threads, answers and verdicts in the workshop's database."""
            from assistant.web.history import data_layer as make

            return make(url)

    @cl.on_chat_resume
    async def resume(thread: Any) -> None:
        """A kept conversation reopened: its collection, and its turns as the history the
        next question is read with."""
        meta = thread.get("metadata") or {}
        meta = json.loads(meta) if isinstance(meta, str) else meta
        if meta.get("chat_profile"):
            cl.user_session.set("chat_profile", meta["chat_profile"])
        try:
            chosen = service()
        except LookupError as exc:
            await cl.Message(content=f"**{exc}.**").send()
            return
        turns: list[tuple[str, str]] = []
        question: str | None = None
        for step in thread.get("steps") or []:
            if step.get("type") == "user_message":
                question = str(step.get("output") or "")
            elif step.get("type") == "assistant_message" and question:
                turns.append((question, str(step.get("output") or "")))
                question = None
        cl.user_session.set("history", turns[-HISTORY_TURNS:])
        cl.user_session.set("llm", chosen.llm_spec)
        cl.user_session.set("k", chosen.k)

    async def own_answer(layer: Any, answer_id: str) -> dict[str, Any] | None:
        """The kept answer ``answer_id`` when it is the current user's (else ``None``: an
        answer of another participant's thread is not theirs to judge)."""
        rows = await layer.execute_sql(
            'SELECT "citations", "user_identifier" FROM deerin_answers WHERE "id" = :id',
            {"id": answer_id})
        if not rows or rows[0]["user_identifier"] != who():
            return None
        return dict(rows[0])

    @cl.action_callback(verdicts.ACTION)
    async def on_verdict(action: cl.Action) -> None:
        """Keep a verdict on an answer, with what the participant adds to it."""
        from assistant.web.history import record_verdict

        layer = data_layer()
        try:
            verdict = verdicts.check_verdict(action.payload.get("verdict"))
            answer_id = str(action.payload["answer"])
        except (KeyError, ValueError):
            return
        kept = await own_answer(layer, answer_id) if layer is not None else None
        if kept is None:
            return
        first = json.loads(kept["citations"] or "[]")
        reply = await cl.AskUserMessage(content=verdicts.ASK_TEXT.format(verdict=verdict),
                                        timeout=900).send()
        comment, moment = verdicts.parse_reply(str(reply.get("output", "")) if reply else "",
                                               first[0]["file"] if first else None)
        await record_verdict(layer.execute_sql, answer_id, verdict, comment, moment, who())
        await cl.Message(content=f"Verdict kept: **{verdict}**"
                         + (f", right moment {moment.file} at {moment.start:g} s" if moment
                            else "") + ".").send()

    @cl.action_callback(PREFER)
    async def on_prefer(action: cl.Action) -> None:
        """Keep which side of a comparison the participant preferred."""
        from assistant.web.history import record_preference

        layer = data_layer()
        side = action.payload.get("side")
        answer_id = str(action.payload.get("answer", ""))
        if side not in PREFER_LABELS or layer is None:
            return
        if await own_answer(layer, answer_id) is None:
            return
        await record_preference(layer.execute_sql, answer_id, str(side), who())
        await cl.Message(content=f"Preference kept: **{PREFER_LABELS[str(side)]}**.").send()
