"""DEERIn's HTTP API: search, ask (streamed), clips and files of the served collection, and API
tokens. Mounted by the chat app under ``/api``, behind the chat's login when it has one; its
OpenAPI document is ``/api/openapi.json`` (see :mod:`assistant.web.api_docs`).

Every route names its collection (``?collection=NAME``, default the served one, setting
``chat.collection``); an unknown name is a 404, as is an id of a file or clip the collection
does not hold: the client learns no more about what it may not see than about what does not
exist. Errors are JSON (:mod:`assistant.web.errors`).

``/api/ask`` streams server-sent events: ``clips`` (the retrieved clips, each with a URL that
plays it), ``token`` (the draft answer as the model writes it), ``answer`` (the checked answer:
unsupported sentences dropped, citations narrowed to the seconds that support them), ``done``;
a failure after the stream began is an ``error`` event. Comment lines keep the connection
alive while the model works. A question asking for every moment or recording that names
something ("which recordings mention Cuba?") is answered at once with the knowledge graph's
whole list instead: one ``answer`` whose ``evidence`` holds it (the text states the count),
then ``done``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse

from assistant.web.api_ask import (
    SSE_HEADERS,
    SSE_MEDIA_TYPE,
    AskGate,
    Note,
    answer_steps,
    failure,
    keepalive,
    sse,
)
from assistant.web.api_models import (
    TOKEN_DAYS_DEFAULT,
    AnswerOut,
    AskIn,
    ClipDetail,
    FileOut,
    FilesOut,
    SearchOut,
    TokenIn,
    TokenOut,
    answer_out,
    clip_detail,
    evidence_answer_out,
    file_out,
    hit_out,
)
from assistant.web.auth import SECRET_ENV, AuthConfig
from assistant.web.chat_service import MAX_K
from assistant.web.streaming import IDLE

if TYPE_CHECKING:
    from assistant.web.evidence_view import EvidencePage
    from assistant.web.extensions import ChatHost
    from indexing.stores.base import MediaRecord

log = logging.getLogger("deerin.api")

PREFIX = "/api"
_ID = re.compile(r"[0-9a-f]{8,128}")
MAX_SEARCH_K = 50
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class EventStream(StreamingResponse):
    """A ``text/event-stream`` answer (and how the OpenAPI document names it)."""

    media_type = SSE_MEDIA_TYPE


ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["status", "type", "message"],
                             "properties": {"status": {"type": "integer"},
                                            "type": {"type": "string"},
                                            "message": {"type": "string"}}}},
}
_ERROR_TEXT = {400: "Malformed JSON", 401: "No valid credentials (when the server has "
               "accounts)", 403: "Tokens are issued for a password only (HTTP Basic)",
               404: "No such collection, file or clip", 422: "A parameter or "
               "field out of bounds, named in the message", 429: "Too many answers at once: "
               "retry after the seconds of Retry-After", 503: "No index yet, or the language "
               "model cannot be used"}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error ``codes`` of a route, with the JSON error body."""
    return {code: {"description": _ERROR_TEXT[code],
                   "content": {"application/json": {"schema": ERROR_SCHEMA}}}
            for code in (401, *codes)}


def api_router(service: ChatHost, auth: AuthConfig, gate: AskGate) -> APIRouter:
    """The ``/api`` routes over ``service``'s collection; ``auth`` issues tokens, ``gate``
    bounds the answers made at once."""
    router = APIRouter(prefix=PREFIX, tags=["collection"])

    def collection_of(collection: Annotated[str | None, Query(
            description="The collection (default: the one this server serves).")] = None
    ) -> str:
        if collection is not None and collection != service.web.collection:
            raise HTTPException(404, f"no collection {collection!r} here (this server "
                                     f"serves {service.web.collection!r})")
        return service.web.collection

    # A dependency of the route, not a parameter: its name need not resolve in annotations.
    scoped = [Depends(collection_of)]
    served = service.web.collection

    def visible_file(media_id: str) -> MediaRecord:
        # The one place a file is let out: per-user visibility belongs here.
        record = service.snapshot().by_id(media_id) if _ID.fullmatch(media_id) else None
        if record is None:
            raise HTTPException(404, f"no file {media_id!r} in this collection")
        return record

    @router.get("/files", summary="The indexed files", responses=errors(404, 422),
                dependencies=scoped)
    def files(request: Request,
              offset: Annotated[int, Query(ge=0)] = 0,
              limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> FilesOut:
        """The collection's files, ordered by path, ``limit`` from ``offset`` on."""
        media = sorted(service.snapshot().media, key=lambda m: m.path)
        base = service.web.base_for(request)
        return FilesOut(collection=served, total=len(media), offset=offset, limit=limit,
                        files=[file_out(m, service, base) for m in media[offset:offset + limit]])

    @router.get("/files/{media_id}", summary="One indexed file", responses=errors(404, 422),
                dependencies=scoped)
    def one_file(media_id: str, request: Request) -> FileOut:
        """The file with this content id."""
        return file_out(visible_file(media_id), service,
                        service.web.base_for(request))

    @router.get("/clips/{clip_id}", summary="One clip", responses=errors(404, 422, 503),
                dependencies=scoped)
    def clip(clip_id: str, request: Request) -> ClipDetail:
        """The clip with this content id, with the seconds of its words."""
        found = _reader(service).clip(clip_id) if _ID.fullmatch(clip_id) else None
        if found is None:
            raise HTTPException(404, f"no clip {clip_id!r} in this collection")
        visible_file(found.media_id)
        return clip_detail(found, service, service.web.base_for(request))

    @router.get("/search", summary="Search the clips", responses=errors(404, 422, 503),
                dependencies=scoped)
    def search(request: Request,
               q: Annotated[str, Query(min_length=1, max_length=2000,
                                       description="What to look for, in plain words.")],
               k: Annotated[int, Query(ge=1, le=MAX_SEARCH_K)] = 10,
               kind: Annotated[list[str] | None, Query(
                   description="Only clips of these kinds (speech, subtitle, ocr, caption, "
                               "shot, meta); repeat for several.")] = None,
               rerank: Annotated[bool, Query(
                   description="Rerank the closest clips (slower, a little better).")] = True
               ) -> SearchOut:
        """The ``k`` clips that best match ``q``, best first (hybrid search, then the rerank)."""
        from indexing.stores.base import StoreError
        from indexing.types import ClipKind

        if not q.strip():
            raise HTTPException(422, "query.q: the search text is empty")
        try:
            kinds = [ClipKind(x) for x in kind] if kind else None
        except ValueError:
            raise HTTPException(422, "query.kind: one of "
                                + ", ".join(k.value for k in ClipKind)) from None
        try:
            retriever = service.retriever()
            hits = (retriever.search(q, k=k, kinds=kinds) if rerank
                    else retriever.candidates(q, kinds)[:k])
        except StoreError as exc:
            raise HTTPException(503, str(exc)) from exc
        base = service.web.base_for(request)
        return SearchOut(collection=served, query=q,
                         hits=[hit_out(h, service, base) for h in hits])

    ask_doc = {200: {"description": "Server-sent events: `clips` (`{clips: [Clip]}`), `token` "
                     "(`{text}`) while the draft is written, `answer` (an Answer), `done`; "
                     "`error` (`{error: {status, type, message}}`) if the answer fails after "
                     "the stream began. A question asking for every moment or recording that "
                     "names something gets only `answer` (its `evidence` the whole list) and "
                     "`done`.",
                     "content": {SSE_MEDIA_TYPE: {"schema": {"type": "string"}}}},
               **errors(404, 422, 429, 503)}

    @router.post("/ask", summary="Ask a question (streamed)", response_class=EventStream,
                 responses=ask_doc, dependencies=scoped)
    async def ask(request: Request,
                  body: Annotated[AskIn, Body()]) -> StreamingResponse:
        """Answer ``question`` from the collection, streaming the clips found, the draft and
        the checked answer with its citations."""
        history = [(t.question, t.answer) for t in body.history]
        return await _ask(request, body.question, history, body.k)

    @router.get("/ask", summary="Ask a question (streamed, for EventSource)",
                response_class=EventStream, responses=ask_doc, dependencies=scoped)
    async def ask_get(request: Request,
                      question: Annotated[str, Query(max_length=4000)],
                      k: Annotated[int | None, Query(ge=1, le=MAX_K)] = None
                      ) -> StreamingResponse:
        """As ``POST /api/ask``, without history, for a browser's ``EventSource``."""
        return await _ask(request, question, [], k)

    async def _ask(request: Request, question: str, history: list[tuple[str, str]],
                   k: int | None) -> StreamingResponse:
        question = await admit(service, gate, question, "question")
        base = service.web.base_for(request)
        return EventStream(_ask_events(service, gate, base, question, history, k),
                           headers=SSE_HEADERS)

    @router.post("/token", summary="Get an API token", tags=["auth"],
                 responses=errors(400, 403, 422))
    def token(request: Request, body: Annotated[TokenIn | None, Body()] = None) -> TokenOut:
        """A bearer token for the account whose password the request carries (HTTP Basic),
        lasting ``days``. Send it as ``Authorization: Bearer TOKEN`` to every API, IIIF and
        media route, or as an OpenAI client's API key."""
        days = body.days if body is not None else TOKEN_DAYS_DEFAULT
        if not auth.has_accounts:
            raise HTTPException(400, "this server has no accounts (setting chat.auth): its "
                                     "routes need no token")
        # Only a password issues tokens: a leaked token cannot keep itself alive.
        user = auth.password_user(request)
        if user is None:
            raise HTTPException(403, "tokens are issued for an account's password: send HTTP "
                                     "Basic credentials")
        try:
            issued = auth.issue_token(user, days * 86400)
        except ValueError as exc:
            raise HTTPException(503, str(exc)) from exc
        note = None if not auth.ephemeral_secret else (
            f"signed with a key made at start-up: it lapses when the server restarts "
            f"unless {SECRET_ENV} is set")
        return TokenOut(access_token=issued, expires_in=days * 86400, user=user, note=note)

    router.add_api_route("/{rest:path}", unknown_route(router), methods=ALL_METHODS,
                         include_in_schema=False)
    return router


async def admit(service: ChatHost, gate: AskGate, question: str, field: str) -> str:
    """``question`` checked and admitted for an answer: 422 (naming the request's ``field``)
    for a question that cannot be asked, 503 before there is an index, 429 when every answer
    slot is taken (with ``Retry-After``)."""
    from assistant.answer import QuestionError, check_question

    try:
        question = check_question(question)
    except QuestionError as exc:
        raise HTTPException(422, f"{field}: {exc}") from exc
    if not (await run_in_threadpool(service.snapshot)).exists:
        raise HTTPException(503, f"no DEERIn index at {service.db_dir} yet")
    if gate.full():
        raise HTTPException(429, "too many answers at once; try again shortly",
                            headers={"Retry-After": "5"})
    return question


def unknown_route(router: APIRouter) -> Any:
    """A catch-all for a router's prefix: 405 (with ``Allow``) for a path it serves with
    another method, else 404 — never the chat's page."""
    from starlette.routing import Route

    def unknown(rest: str, request: Request) -> None:
        path, root = request.scope["path"], request.scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        allowed = sorted({m for r in router.routes if isinstance(r, Route)
                          and r.endpoint is not unknown and r.path_regex.match(path)
                          for m in r.methods or ()})
        if allowed:
            raise HTTPException(405, f"{request.method} is not served here; use "
                                     f"{', '.join(allowed)}",
                                headers={"Allow": ", ".join(allowed)})
        raise HTTPException(404, f"no such route: {request.url.path}")

    return unknown


def _reader(service: ChatHost) -> Any:
    from indexing.stores.base import StoreError

    try:
        return service.reader()
    except StoreError as exc:
        raise HTTPException(503, str(exc)) from exc


async def _ask_events(service: ChatHost, gate: AskGate, base: str, question: str,
                      history: list[tuple[str, str]], k: int | None) -> AsyncIterator[bytes]:
    """The event stream of one answer (see the module docstring)."""
    from assistant.answer import Event
    from assistant.web.errors import error_body

    notes: list[str] = []
    try:
        listed = await run_in_threadpool(_evidence_answer, service, question, base)
        if listed is not None:  # every moment something is named: the graph's list
            yield sse("answer", listed)
            yield sse("done", {})
            return
        async for step in answer_steps(service, gate, question, history, k):
            if step is IDLE:
                yield keepalive()
            elif isinstance(step, Note):
                notes.append(step.text)
            elif isinstance(step, Event) and step.kind == "retrieved":
                clips = [hit_out(h, service, base).model_dump() for h in step.hits]
                yield sse("clips", {"clips": clips})
            elif isinstance(step, Event) and step.kind == "token":
                yield sse("token", {"text": step.token})
            elif isinstance(step, Event) and step.answer is not None:
                yield sse("answer", answer_out(step.answer, service, base, notes).model_dump())
        yield sse("done", {})
    except Exception as exc:  # the status line is sent: the failure travels as an event
        status, message = failure(exc)
        yield sse("error", error_body(status, message))


def _evidence_answer(service: ChatHost, question: str, base: str) -> dict[str, Any] | None:
    """The answer (an Answer with ``evidence``) of a question asking for every moment or
    recording that names something the graph knows, the question read on its own; ``None``
    for any other question, or when the graph fails (logged: the ordinary answer follows)."""
    listed = evidence_reply(service, question, base)
    return None if listed is None else listed[0].model_dump()


def evidence_reply(service: ChatHost, question: str,
                   base: str) -> tuple[AnswerOut, EvidencePage] | None:
    """The list answer of a question asking for every moment or recording that names
    something, and its first page with absolute player URLs (what a client that cannot page,
    such as an OpenAI one, shows); ``None`` as for :func:`_evidence_answer`."""
    from assistant.web.evidence_view import evidence_page
    from assistant.web.graph_view import chat_graph

    t = time.perf_counter()
    graph = chat_graph(service)
    found = graph.evidence(question)
    if found is None:
        return None
    try:
        answer = evidence_answer_out(question, found, time.perf_counter() - t, graph.clip,
                                     service, base)
        page = evidence_page(question.strip(), found, 1, graph.clip,
                             lambda clip, start, end: base + service.media_url(
                                 clip, start=start, end=end))
        return answer, page
    except Exception:
        log.exception("the evidence list of %r failed; answering as usual", question)
        return None
