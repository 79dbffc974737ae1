"""Thirty participants of a workshop at once: three collections, ten participants each, on the
machine's cores, over Chainlit's socket.io protocol as the web client speaks it.

Participants arrive over ``ARRIVAL_SECONDS`` (as a room of people typing does), each logs in,
opens their collection and asks one question. Every one must get the retrieved clips at once
(p95 of the time from asking to the clips ≤ 1 s), then an answer with no error; those who wait
for the model are told their number in line. The LLM is the tiny tier with short answers (the
load is about serving, not wording). Slow: run with ``--slow``; the figures are printed.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.web.users import set_user
from tests.support.chat import serving
from tests.support.serve import (
    PASSWORDS,
    Reply,
    Workshop,
    ask_in_chat,
    build_index,
    login,
    start_serve,
)

PARTICIPANTS = 30
ARRIVAL_SECONDS = 30.0
QUESTIONS = {"a": ["What does the speaker say?", "Is a bear mentioned?"],
             "b": ["Who is Hildy?", "Is the lord of the universe in?"],
             "c": ["What is said in the recording?", "Which words are spoken?"]}


@pytest.fixture(scope="module")
def crowd(workshop_files: Workshop, tmp_path_factory: pytest.TempPathFactory,
          media_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    base = tmp_path_factory.mktemp("crowd")
    index_c = build_index(base / "index-c", media_dir / "picovoice_leopard_test_en.wav")
    config = base / "deerin.toml"
    config.write_text(workshop_files.config.read_text()
                      + f'\n[collections.c]\npath = "{index_c}"\ngroups = ["radio"]\n')
    users = base / "users.toml"
    users.write_text(workshop_files.users.read_text())
    seats: dict[str, str] = {}
    for i in range(PARTICIPANTS):
        name, collection = f"p{i:02d}", "abc"[i % 3]
        group = {"a": "filmarchiv", "b": "tv", "c": "radio"}[collection]
        set_user(users, name, f"{name}-password", [group])
        PASSWORDS[name] = f"{name}-password"
        seats[name] = collection
    shop = Workshop(config, users, workshop_files.index_a, workshop_files.index_b,
                    workshop_files.broken)
    server = start_serve(shop, base / "serve", args=("--llm", "tiny", "--k", "2",
                                                      "--max-tokens", "24"))
    with serving(server) as url:
        yield url, seats


@pytest.mark.slow
def test_thirty_participants_three_collections(crowd: tuple[str, dict[str, str]]) -> None:
    url, seats = crowd
    tokens = {name: login(url, name) for name in seats}
    rng = random.Random(7)
    arrivals = sorted(rng.uniform(0, ARRIVAL_SECONDS) for _ in seats)

    async def one(name: str, delay: float) -> Reply:
        await asyncio.sleep(delay)
        collection = seats[name]
        question = QUESTIONS[collection][int(name[1:]) % 2]
        return await ask_in_chat(url, tokens[name], collection, question, timeout=900)

    async def everyone() -> list[Reply]:
        return list(await asyncio.gather(*(one(n, d) for n, d in zip(seats, arrivals,
                                                                     strict=True))))

    replies = asyncio.run(everyone())
    errors = [(n, r.errors) for n, r in zip(seats, replies, strict=True) if r.errors]
    firsts = [r.first_clips for r in replies if r.first_clips is not None]
    totals = [r.latency for r in replies if r.latency is not None]
    placed = [r for r in replies if any("in line" in n for n in r.notes or [])]
    p95 = sorted(firsts)[max(0, round(0.95 * len(firsts)) - 1)] if firsts else None
    print(f"\n{PARTICIPANTS} participants over {ARRIVAL_SECONDS:.0f} s, 3 collections: "
          f"first clips p50 {statistics.median(firsts):.2f} s, p95 {p95:.2f} s, max "
          f"{max(firsts):.2f} s; answer p50 {statistics.median(totals):.1f} s, max "
          f"{max(totals):.1f} s; {len(placed)} shown their place in line; "
          f"{len(errors)} errors")
    assert not errors, errors
    assert len(firsts) == PARTICIPANTS and all(r.text for r in replies)
    assert p95 is not None and p95 <= 1.0
    assert placed, "nobody was told their place in line"
