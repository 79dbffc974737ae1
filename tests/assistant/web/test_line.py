"""The line for the model: retrieval passes at once, the rest waits its turn in arrival order,
and places are given back when a stream ends or its participant gives up."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from assistant.web.line import AnswerLine


def _stream(name: str, log: list[str], release: threading.Event) -> Iterator[str]:
    log.append(f"{name} retrieved")
    yield "retrieved"
    log.append(f"{name} answering")
    release.wait(10)
    yield "answer"


def test_one_place_three_answers_in_arrival_order() -> None:
    line = AnswerLine(1)
    log: list[str] = []
    releases = [threading.Event() for _ in range(3)]
    tickets = [line.enter() for _ in range(3)]
    streams = [line.gated(_stream(str(i), log, releases[i]), tickets[i]) for i in range(3)]
    # Every participant gets their clips at once.
    assert [next(s) for s in streams] == ["retrieved"] * 3
    assert [line.position(t) for t in tickets] == [0, 2, 3]
    done: list[str] = []
    workers = [threading.Thread(target=lambda s=s: done.extend(s)) for s in streams]
    for w in workers:
        w.start()
    for i in range(3):
        releases[i].set()
        workers[i].join(10)
        assert not workers[i].is_alive()
    assert [e for e in log if e.endswith("answering")] == ["0 answering", "1 answering",
                                                           "2 answering"]
    assert done == ["answer"] * 3 and line.waiting() == 0


def test_giving_up_frees_the_spot() -> None:
    line = AnswerLine(1)
    first, second, third = line.enter(), line.enter(), line.enter()
    assert line.wait(first)
    line.leave(second)  # the participant closed the tab while in line
    assert line.position(third) == 1  # next: only the answering one is ahead
    line.leave(first)
    assert line.position(third) == 0 and line.wait(third)
    line.leave(third)
    assert line.waiting() == 0
