"""A workshop database filled with answers and verdicts of two collections, as ``deerin serve``
keeps them (real SQLite, the tables the server creates)."""

from __future__ import annotations

from assistant.web.history import (
    AnswerRecord,
    Moment,
    create_schema,
    record_answer,
    record_verdict,
)

CITED = (Moment("speech.ogg", 10.0, 14.5, "ab" * 12),)


async def fill(url: str) -> None:
    """Six answers (five of collection a, one of b) and five verdicts."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    await create_schema(url)
    await create_schema(url)  # twice: creating what exists is no error
    engine = create_async_engine(url)

    async def execute(query: str, parameters: dict[str, object]) -> None:
        async with engine.begin() as conn:
            await conn.execute(text(query), parameters)

    answers = [
        AnswerRecord("1", "a", "Who speaks of liberty?", "The president speaks of liberty [1].",
                     False, CITED, user="anna"),
        AnswerRecord("2", "a", "Is there a dog?", "I can't find that in the collection.", True,
                     ()),
        AnswerRecord("3", "a", "When is the crowd shown?", "At the start [1].", False, CITED),
        AnswerRecord("4", "a", "Who sings?", "Nobody [1].", False, CITED),
        AnswerRecord("5", "a", "Not judged", "Text [1].", False, CITED),
        AnswerRecord("6", "b", "Other collection", "Text [1].", False, CITED),
    ]
    for a in answers:
        await record_answer(execute, a)
    await record_verdict(execute, "1", "wrong", "first thought")
    await record_verdict(execute, "1", "right", "", None, "anna")  # the later verdict wins
    await record_verdict(execute, "2", "right", "indeed no dog")
    await record_verdict(execute, "3", "partly", "later, words: crowd; square",
                         Moment("speech.ogg", 30.0, 35.0))
    await record_verdict(execute, "4", "wrong", "no moment given")
    await record_verdict(execute, "6", "right")
    await engine.dispose()
