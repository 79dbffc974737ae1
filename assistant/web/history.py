"""What a workshop keeps: conversations, answers and the participants' verdicts, in a database.

Chainlit's SQLAlchemy data layer keeps the threads (so a participant finds their conversations
after a restart of the server); this module creates its tables, since Chainlit does not, and adds
two of DEERIn's own: ``deerin_answers`` (each checked answer with its collection, question,
refusal and cited moments) and ``deerin_verdicts`` (right / wrong / partly, a comment and,
optionally, the moment the participant says is the right one). ``deerin feedback export`` turns
those into rows of the question sheet; ``deerin workshop report`` summarises them.

The database is the setting ``serve.database``: an SQLAlchemy URL (``postgresql+asyncpg://...``
with the ``postgres`` extra), else an SQLite file beside the configuration file. The same SQL
serves both: quoted identifiers, TEXT/INTEGER/REAL columns, ``ON CONFLICT`` upserts.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("deerin.history")

VERDICTS = ("right", "partly", "wrong")

# Chainlit's tables (the columns its SQLAlchemy data layer writes), then DEERIn's.
SCHEMA = (
    'CREATE TABLE IF NOT EXISTS users ("id" TEXT PRIMARY KEY, "identifier" TEXT NOT NULL '
    'UNIQUE, "metadata" TEXT NOT NULL, "createdAt" TEXT)',
    'CREATE TABLE IF NOT EXISTS threads ("id" TEXT PRIMARY KEY, "createdAt" TEXT, "name" TEXT, '
    '"userId" TEXT, "userIdentifier" TEXT, "tags" TEXT, "metadata" TEXT)',
    'CREATE TABLE IF NOT EXISTS steps ("id" TEXT PRIMARY KEY, "name" TEXT NOT NULL, '
    '"type" TEXT NOT NULL, "threadId" TEXT NOT NULL, "parentId" TEXT, "streaming" BOOLEAN, '
    '"waitForAnswer" BOOLEAN, "isError" BOOLEAN, "metadata" TEXT, "tags" TEXT, "input" TEXT, '
    '"output" TEXT, "createdAt" TEXT, "command" TEXT, "modes" TEXT, "start" TEXT, "end" TEXT, '
    '"generation" TEXT, "showInput" TEXT, "language" TEXT, "indent" INTEGER, '
    '"defaultOpen" BOOLEAN, "autoCollapse" BOOLEAN, "icon" TEXT)',
    'CREATE TABLE IF NOT EXISTS elements ("id" TEXT PRIMARY KEY, "threadId" TEXT, "type" TEXT, '
    '"url" TEXT, "chainlitKey" TEXT, "name" TEXT NOT NULL, "display" TEXT, "objectKey" TEXT, '
    '"size" TEXT, "page" INTEGER, "language" TEXT, "forId" TEXT, "mime" TEXT, "props" TEXT, '
    '"autoPlay" BOOLEAN, "playerConfig" TEXT)',
    'CREATE TABLE IF NOT EXISTS feedbacks ("id" TEXT PRIMARY KEY, "forId" TEXT NOT NULL, '
    '"threadId" TEXT, "value" INTEGER NOT NULL, "comment" TEXT)',
    'CREATE TABLE IF NOT EXISTS deerin_answers ("id" TEXT PRIMARY KEY, "thread_id" TEXT, '
    '"collection" TEXT NOT NULL, "user_identifier" TEXT, "question" TEXT NOT NULL, '
    '"answer" TEXT NOT NULL, "refused" INTEGER NOT NULL, "citations" TEXT NOT NULL, '
    '"llm" TEXT, "kind" TEXT NOT NULL, "created_at" TEXT NOT NULL)',
    'CREATE TABLE IF NOT EXISTS deerin_verdicts ("answer_id" TEXT PRIMARY KEY, '
    '"verdict" TEXT NOT NULL, "comment" TEXT, "moment_file" TEXT, "moment_start" REAL, '
    '"moment_end" REAL, "user_identifier" TEXT, "created_at" TEXT NOT NULL)',
    'CREATE TABLE IF NOT EXISTS deerin_preferences ("answer_id" TEXT PRIMARY KEY, '
    '"preferred" TEXT NOT NULL, "user_identifier" TEXT, "created_at" TEXT NOT NULL)',
    'CREATE INDEX IF NOT EXISTS deerin_answers_collection ON deerin_answers ("collection")',
)


def database_url(env: Mapping[str, str] | None = None) -> str:
    """The database of ``deerin serve``: the setting ``serve.database``, else
    ``sqlite+aiosqlite:///<folder of the configuration file>/deerin-workshop.db``."""
    from config import load_config, user_file

    chosen = str(load_config(env)["serve.database"]).strip()
    if chosen:
        return chosen
    return f"sqlite+aiosqlite:///{user_file(env).parent.resolve() / 'deerin-workshop.db'}"


def shown_url(url: str) -> str:
    """``url`` with any password masked, for logs and messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable database URL)"


async def create_schema(url: str) -> None:
    """Create the tables that are missing (an SQLite file and its folder too)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in SCHEMA:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@dataclass(frozen=True, slots=True)
class Moment:
    """A span of a file: ``file`` is its name, seconds from its start."""

    file: str
    start: float
    end: float
    media_id: str = ""


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One checked answer as the workshop keeps it. ``kind`` is ``chat``, ``compare`` or
    ``list`` (an evidence list: ``answer`` its summary, ``citations`` its first page)."""

    id: str
    collection: str
    question: str
    answer: str
    refused: bool
    citations: tuple[Moment, ...]
    thread_id: str | None = None
    user: str | None = None
    llm: str | None = None
    kind: str = "chat"
    created_at: str = ""


@dataclass(frozen=True, slots=True)
class Judged:
    """An answer with its verdict (``verdict`` empty when nobody judged it)."""

    answer: AnswerRecord
    verdict: str = ""
    comment: str = ""
    moment: Moment | None = None
    judged_by: str | None = None


def now_text() -> str:
    """The time now, as the tables keep it (ISO 8601, UTC)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


async def record_answer(execute: Any, record: AnswerRecord) -> None:
    """Insert ``record`` with ``execute`` (a data layer's ``execute_sql``)."""
    await execute(
        'INSERT INTO deerin_answers ("id", "thread_id", "collection", "user_identifier", '
        '"question", "answer", "refused", "citations", "llm", "kind", "created_at") VALUES '
        '(:id, :thread_id, :collection, :user, :question, :answer, :refused, :citations, '
        ':llm, :kind, :created_at) ON CONFLICT ("id") DO NOTHING',
        {"id": record.id, "thread_id": record.thread_id, "collection": record.collection,
         "user": record.user, "question": record.question, "answer": record.answer,
         "refused": int(record.refused), "citations": json.dumps(
             [{"file": m.file, "media_id": m.media_id, "start": m.start, "end": m.end}
              for m in record.citations]),
         "llm": record.llm, "kind": record.kind, "created_at": record.created_at or now_text()})


async def record_verdict(execute: Any, answer_id: str, verdict: str, comment: str = "",
                         moment: Moment | None = None, user: str | None = None) -> None:
    """Keep ``verdict`` on the answer ``answer_id`` (a later verdict replaces it)."""
    if verdict not in VERDICTS:
        raise ValueError(f"a verdict is one of {', '.join(VERDICTS)}, not {verdict!r}")
    await execute(
        'INSERT INTO deerin_verdicts ("answer_id", "verdict", "comment", "moment_file", '
        '"moment_start", "moment_end", "user_identifier", "created_at") VALUES (:answer_id, '
        ':verdict, :comment, :file, :start, :end, :user, :created_at) ON CONFLICT '
        '("answer_id") DO UPDATE SET "verdict" = EXCLUDED."verdict", "comment" = '
        'EXCLUDED."comment", "moment_file" = EXCLUDED."moment_file", "moment_start" = '
        'EXCLUDED."moment_start", "moment_end" = EXCLUDED."moment_end", "user_identifier" = '
        'EXCLUDED."user_identifier", "created_at" = EXCLUDED."created_at"',
        {"answer_id": answer_id, "verdict": verdict, "comment": comment or None,
         "file": moment.file if moment else None, "start": moment.start if moment else None,
         "end": moment.end if moment else None, "user": user, "created_at": now_text()})


async def record_preference(execute: Any, answer_id: str, preferred: str,
                            user: str | None = None) -> None:
    """Keep which side of the comparison ``answer_id`` was preferred (``A``, ``B``, ``same``)."""
    await execute(
        'INSERT INTO deerin_preferences ("answer_id", "preferred", "user_identifier", '
        '"created_at") VALUES (:answer_id, :preferred, :user, :created_at) ON CONFLICT '
        '("answer_id") DO UPDATE SET "preferred" = EXCLUDED."preferred", "created_at" = '
        'EXCLUDED."created_at"',
        {"answer_id": answer_id, "preferred": preferred, "user": user,
         "created_at": now_text()})


async def read_preferences(url: str, collection: str) -> dict[str, str]:
    """The preferred side of each comparison of ``collection``, by its id."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                'SELECT p."answer_id", p."preferred" FROM deerin_preferences p JOIN '
                'deerin_answers a ON a."id" = p."answer_id" WHERE a."collection" = :c'),
                {"c": collection})).all()
    finally:
        await engine.dispose()
    return {str(r[0]): str(r[1]) for r in rows}


async def read_judged(url: str, collection: str | None = None) -> list[Judged]:
    """Every kept answer (of ``collection`` when given) with its verdict, oldest first."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    query = ('SELECT a.*, v."verdict", v."comment", v."moment_file", v."moment_start", '
             'v."moment_end", v."user_identifier" AS "judged_by" FROM deerin_answers a '
             'LEFT JOIN deerin_verdicts v ON v."answer_id" = a."id"'
             + (' WHERE a."collection" = :collection' if collection else "")
             + ' ORDER BY a."created_at", a."id"')
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(query), {"collection": collection})).mappings().all()
    finally:
        await engine.dispose()
    return [_judged(dict(r)) for r in rows]


def _judged(row: Mapping[str, Any]) -> Judged:
    cited = tuple(Moment(c["file"], float(c["start"]), float(c["end"]), c.get("media_id", ""))
                  for c in json.loads(row["citations"] or "[]"))
    record = AnswerRecord(row["id"], row["collection"], row["question"], row["answer"],
                          bool(row["refused"]), cited, row["thread_id"], row["user_identifier"],
                          row["llm"], row["kind"], row["created_at"])
    moment = None
    if row["moment_file"] and row["moment_start"] is not None:
        start = float(row["moment_start"])
        end = float(row["moment_end"]) if row["moment_end"] is not None else start
        moment = Moment(row["moment_file"], start, end)
    return Judged(record, row["verdict"] or "", row["comment"] or "", moment, row["judged_by"])


def data_layer(url: str) -> Any:
    """Chainlit's SQLAlchemy data layer over ``url``, keeping the players of answers (their
    URLs point at DEERIn's own media routes, so nothing needs uploading) and turning the
    thumbs of Chainlit's feedback into verdicts."""
    from chainlit.data.sql_alchemy import SQLAlchemyDataLayer

    class WorkshopDataLayer(SQLAlchemyDataLayer):  # type: ignore[misc]
        async def create_element(self, element: Any) -> None:
            if element.path or not element.url or not element.for_id:
                return  # only our URL players: files uploaded in the chat are not kept
            row = {k: v for k, v in element.to_dict().items() if v is not None}
            for key in ("props", "playerConfig"):
                if key in row:
                    row[key] = json.dumps(row[key])
            columns = ", ".join(f'"{k}"' for k in row)
            values = ", ".join(f":{k}" for k in row)
            await self.execute_sql(f"INSERT INTO elements ({columns}) VALUES ({values}) "
                                   'ON CONFLICT ("id") DO NOTHING', row)

        async def update_thread(self, thread_id: str, name: str | None = None,
                                user_id: str | None = None, metadata: dict[str, Any] | None = None,
                                tags: list[str] | None = None) -> None:
            # Chainlit tags a thread with its chat profile as a list, which only PostgreSQL's
            # arrays bind: the profile is in the thread's metadata already.
            await super().update_thread(thread_id, name=name, user_id=user_id,
                                        metadata=metadata, tags=None)

        async def upsert_feedback(self, feedback: Any) -> str:
            found: str = await super().upsert_feedback(feedback)
            verdict = "right" if feedback.value == 1 else "wrong"
            await record_verdict(self.execute_sql, feedback.forId, verdict,
                                 feedback.comment or "")
            return found

    return WorkshopDataLayer(url, user_thread_limit=1000)


def sheet_rows(judged: Sequence[Judged]) -> tuple[list[dict[str, str]], list[str]]:
    """The question-sheet rows the verdicts make, and why the others were left out.

    A right answer's first citation is the gold moment; a partly right or wrong one counts
    only with the moment the participant gave (which wins whenever given). A refusal judged
    right is an unanswerable question. Answers nobody judged are left out.
    """
    rows: list[dict[str, str]] = []
    skipped: list[str] = []
    for j in judged:
        a = j.answer
        if not j.verdict or a.kind != "chat":
            continue
        moment = j.moment
        if moment is None and j.verdict == "right" and a.citations:
            moment = a.citations[0]
        notes = "; ".join(p for p in (f"verdict {j.verdict}", j.comment,
                                      f"by {j.judged_by}" if j.judged_by else "") if p)
        words = expected_words(j)
        if moment is not None and not words:
            skipped.append(f"{a.id}: judged {j.verdict} without expected words (write "
                           "'words: a; b' in the comment)")
        elif moment is not None:
            rows.append({"id": a.id, "question": a.question, "file": moment.file,
                         "start": f"{moment.start:.2f}",
                         "end": f"{max(moment.end, moment.start + 0.01):.2f}",
                         "expected words": "; ".join(words), "answerable": "yes",
                         "notes": notes})
        elif j.verdict == "right" and a.refused:
            rows.append({"id": a.id, "question": a.question, "file": "", "start": "",
                         "end": "", "expected words": "", "answerable": "no", "notes": notes})
        else:
            skipped.append(f"{a.id}: judged {j.verdict} without the right moment")
    return rows, skipped


_WORDS = re.compile(r"\bwords:\s*(?P<words>[^\n]+)", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W\d_][\w'-]*")


def expected_words(judged: Judged) -> list[str]:
    """The words a correct answer must contain: those the participant wrote after ``words:``
    in the comment, else, for an answer judged right, its two longest words (five
    letters or more; the organiser reviews the sheet before an eval)."""
    given = _WORDS.search(judged.comment)
    if given:
        return [w.strip() for w in re.split(r"[;|,]", given.group("words")) if w.strip()]
    if judged.verdict != "right" or judged.answer.refused:
        return []
    text = re.sub(r"\[\d+\]", " ", judged.answer.answer)
    seen: dict[str, str] = {}
    for token in _TOKEN.findall(text):
        if len(token) >= 5:
            seen.setdefault(token.lower(), token)
    return sorted(seen.values(), key=lambda w: (-len(w), w.lower()))[:2]


SHEET_COLUMNS = ("id", "question", "file", "start", "end", "expected words", "answerable",
                 "notes")
