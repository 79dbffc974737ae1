"""DEERIn as an OpenAI-compatible model: ``/v1/models`` and ``/v1/chat/completions``, so Open
WebUI, LibreChat or any OpenAI client can put questions to the collection.

The last user message is the question; earlier user/assistant pairs are its history (a
follow-up is rewritten to stand alone, as in the chat); system messages are ignored, since
DEERIn's own prompt decides how answers are grounded. Sampling options (temperature, max
tokens, ...) are accepted and ignored for the same reason.

What is sent is the *checked* answer, never the draft: the checks may drop sentences or
renumber markers, and a client cannot take back text it was streamed. A streamed completion
therefore starts at once (the role), sends keep-alive comments while the answer is made, then
the checked text and its sources, each source a Markdown link that plays the cited seconds.
The citations also travel as data: a ``citations`` list on the completion (on the last chunk
when streamed), each with its URL, file, seconds and clip.

A question asking for every moment or recording that names something ("which recordings
mention Cuba?") is answered, as in the chat and ``/api/ask``, with the knowledge graph's list:
the text holds the count, the recordings and the first page of moments as links that play
them; the whole list travels as data in ``evidence`` (the shape of ``/api/ask``'s).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from assistant.web.api import (
    ALL_METHODS,
    EventStream,
    admit,
    errors,
    evidence_reply,
    unknown_route,
)
from assistant.web.api_ask import SSE_HEADERS, AskGate, Note, answer_steps, failure, keepalive
from assistant.web.api_models import answer_out
from assistant.web.streaming import IDLE

if TYPE_CHECKING:
    from assistant.answer import Answer
    from assistant.web.extensions import ChatHost

PREFIX = "/v1"
MODEL_OWNER = "deerin"
SOURCES_HEADING = "**Sources**"


class ContentPart(BaseModel):
    """A part of a message's content; only ``text`` parts are read."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One message of the conversation."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    """``include_usage``: end the stream with a chunk carrying the token counts."""

    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The standard chat completion request; options DEERIn does not use are accepted."""

    model_config = ConfigDict(extra="allow")
    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    n: int | None = Field(1, ge=1, le=1)
    stream_options: StreamOptions | None = None


def model_ids(collection: str) -> tuple[str, str]:
    """The model name of ``collection`` (listed) and the bare name also accepted."""
    return f"deerin/{collection}", "deerin"


def openai_router(service: ChatHost, gate: AskGate) -> APIRouter:
    """``/v1/models`` and ``/v1/chat/completions`` over ``service``'s collection."""
    router = APIRouter(prefix=PREFIX, tags=["OpenAI-compatible"])
    started = int(time.time())

    @router.get("/models", summary="The models (one per collection)")
    def models() -> dict[str, Any]:
        """The collection, as a model an OpenAI client can pick."""
        listed, _ = model_ids(service.web.collection)
        return {"object": "list", "data": [{"id": listed, "object": "model",
                                            "created": started, "owned_by": MODEL_OWNER}]}

    @router.post("/chat/completions", summary="Answer the last user message",
                 responses={200: {"description": "A chat completion (JSON), or with "
                                  "`stream: true` its chunks as server-sent events ending "
                                  "`data: [DONE]`.",
                                  "content": {"text/event-stream": {"schema":
                                                                    {"type": "string"}}}},
                            **errors(404, 422, 429, 503)})
    async def completions(request: Request,
                          body: Annotated[ChatRequest, Body()]) -> Response:
        """An OpenAI chat completion whose answer cites playable clips."""
        if body.model not in model_ids(service.web.collection):
            raise HTTPException(404, f"no model {body.model!r}; this server has "
                                     f"{model_ids(service.web.collection)[0]!r}")
        question, history = conversation(body.messages)
        question = await admit(service, gate, question, "messages")
        reply = _Reply(f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), body.model,
                       service.web.base_for(request))
        listed = await run_in_threadpool(_listed, service, question, reply.base)
        if listed is not None:  # every moment something is named: the graph's list
            text, evidence = listed
            if body.stream:
                usage = bool(body.stream_options and body.stream_options.include_usage)
                return EventStream(_list_chunks(reply, text, evidence, usage),
                                   headers=SSE_HEADERS)
            return reply.completion(text, 0, citations=[], notes=[], evidence=evidence)
        steps = answer_steps(service, gate, question, history)
        if body.stream:
            usage = bool(body.stream_options and body.stream_options.include_usage)
            return EventStream(_chunks(service, reply, steps, usage), headers=SSE_HEADERS)
        return await _complete(service, reply, steps)

    router.add_api_route("/{rest:path}", unknown_route(router), methods=ALL_METHODS,
                         include_in_schema=False)
    return router


def conversation(messages: list[ChatMessage]) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last message, the user's) and the earlier (question, answer) pairs.

    Raises a 422 when the last message is not the user's or a message holds more than text.
    """
    def text(m: ChatMessage) -> str:
        if m.content is None or isinstance(m.content, str):
            return m.content or ""
        if any(p.type != "text" for p in m.content):
            raise HTTPException(422, "messages: only text content is understood")
        return "\n".join(p.text or "" for p in m.content)

    if messages[-1].role != "user":
        raise HTTPException(422, "messages: the last message must be the user's question")
    history: list[tuple[str, str]] = []
    asked: str | None = None
    for m in messages[:-1]:
        if m.role == "user":
            asked = text(m)
        elif m.role == "assistant" and asked is not None:
            # The sources DEERIn appended are links, not part of what was said.
            history.append((asked, text(m).split(f"\n\n{SOURCES_HEADING}", 1)[0].strip()))
            asked = None
    return text(messages[-1]), history


def answer_text(answer: Answer, base: str, service: ChatHost) -> str:
    """The answer and, under it, its sources as Markdown links that play the cited seconds."""
    if not answer.citations:
        return answer.text
    lines = [answer.text, "", SOURCES_HEADING, ""]
    for c in answer.citations:
        url = base + service.media_url(c.clip, start=c.start, end=c.end)
        quote = " ".join(c.clip.text.split())
        quote = quote if len(quote) <= 140 else quote[:139].rstrip() + "…"
        lines.append(f"- [{c.n}] [{c.label}]({url}) — “{quote}”")
    return "\n".join(lines)


def _listed(service: ChatHost, question: str, base: str) -> tuple[str, dict[str, Any]] | None:
    """The Markdown reply to a question asking for a list of occurrences, and the whole list
    as data; ``None`` for any other question."""
    from assistant.web.evidence_view import evidence_markdown
    from indexing.file_meta_index import catalogue_titles

    listed = evidence_reply(service, question, base)
    if listed is None:
        return None
    answer, page = listed
    text = evidence_markdown(page, catalogue_titles(service.db_dir) if page.files else None)
    if page.next is not None:
        rest = page.found.count - len(page.moments)
        # A chat client cannot press "More": say where the rest is.
        text += (f"\n\n… and {rest} more moment{'s' * (rest != 1)}: the whole list is this "
                 "reply's `evidence` data, and pages through in DEERIn's chat.")
    return text, answer.model_dump()["evidence"]


async def _list_chunks(reply: _Reply, text: str, evidence: dict[str, Any],
                       usage: bool) -> AsyncIterator[bytes]:
    from assistant.web.api_ask import sse

    yield reply.chunk({"role": "assistant", "content": ""})
    yield reply.chunk({"content": text})
    yield reply.chunk({}, "stop", citations=[], notes=[], evidence=evidence)
    if usage:
        yield reply.usage_chunk(0)
    yield sse(None, "[DONE]")


class _Reply:
    """What every chunk of one completion repeats."""

    def __init__(self, id_: str, created: int, model: str, base: str) -> None:
        self.id, self.created, self.model, self.base = id_, created, model, base

    def envelope(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def chunk(self, delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        """One server-sent chunk of a streamed completion."""
        from assistant.web.api_ask import sse

        return sse(None, {**self.envelope("chat.completion.chunk"),
                          "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                       "logprobs": None}], **extra})

    def usage_chunk(self, tokens: int) -> bytes:
        """The last chunk of a stream that asked for the usage."""
        from assistant.web.api_ask import sse

        return sse(None, {**self.envelope("chat.completion.chunk"), "choices": [],
                          "usage": _usage(tokens)})

    def completion(self, content: str, tokens: int, **extra: Any) -> JSONResponse:
        """A whole (not streamed) completion of ``content``."""
        said = {"role": "assistant", "content": content}
        return JSONResponse({**self.envelope("chat.completion"),
                             "choices": [{"index": 0, "message": said, "finish_reason": "stop",
                                          "logprobs": None}],
                             "usage": _usage(tokens), **extra})


async def _answer(steps: AsyncIterator[object]
                  ) -> AsyncIterator[tuple[Answer | None, list[str], int]]:
    """Drive ``steps``; yield ``(None, ...)`` on silences, then ``(answer, notes, tokens)``."""
    from assistant.answer import Event

    notes: list[str] = []
    tokens = 0
    async for step in steps:
        if step is IDLE:
            yield None, notes, tokens
        elif isinstance(step, Note):
            notes.append(step.text)
        elif isinstance(step, Event) and step.kind == "token":
            tokens += 1
        elif isinstance(step, Event) and step.answer is not None:
            yield step.answer, notes, tokens


def _citations(answer: Answer, service: ChatHost, base: str) -> list[dict[str, Any]]:
    return [c.model_dump() for c in answer_out(answer, service, base).citations]


def _usage(tokens: int) -> dict[str, int]:
    # DEERIn's prompt is its own; only the draft's tokens are counted.
    return {"prompt_tokens": 0, "completion_tokens": tokens, "total_tokens": tokens}


async def _complete(service: ChatHost, reply: _Reply,
                    steps: AsyncIterator[object]) -> Response:
    final: tuple[Answer, list[str], int] | None = None
    try:
        # Read to the end, so the answer's turn is given back as soon as it is made.
        async for answer, notes, tokens in _answer(steps):
            if answer is not None:
                final = answer, notes, tokens
    except Exception as exc:
        status, message = failure(exc)
        raise HTTPException(status, message) from exc
    if final is None:
        raise HTTPException(503, "the assistant stopped without answering")
    answer, notes, tokens = final
    return reply.completion(answer_text(answer, reply.base, service), tokens,
                            citations=_citations(answer, service, reply.base), notes=notes)


async def _chunks(service: ChatHost, reply: _Reply, steps: AsyncIterator[object],
                  usage: bool) -> AsyncIterator[bytes]:
    from assistant.web.api_ask import sse
    from assistant.web.errors import error_body

    chunk = reply.chunk
    yield chunk({"role": "assistant", "content": ""})
    try:
        async for answer, notes, tokens in _answer(steps):
            if answer is None:
                yield keepalive()
                continue
            text = answer_text(answer, reply.base, service)
            head, sep, sources = text.partition(f"\n\n{SOURCES_HEADING}")
            yield chunk({"content": head})
            if sep:
                yield chunk({"content": sep + sources})
            yield chunk({}, "stop", citations=_citations(answer, service, reply.base),
                        notes=notes)
            if usage:
                yield reply.usage_chunk(tokens)
    except Exception as exc:  # the status line is sent: the failure travels as data
        status, message = failure(exc)
        yield sse(None, error_body(status, message))
    yield sse(None, "[DONE]")
