"""DEERIn as an OpenAI model, through the real `openai` Python client (the test extra), against
`deerin chat` on loopback (the open API server of conftest.py, answering with the `fast` tier).

The answers must carry their citations twice: as Markdown links under the text (what a chat
front end such as Open WebUI shows) and as data in ``citations``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

QUESTION = "How many joules does the lecturer say are enough to kill you?"
SOURCE = re.compile(r"- \[(\d+)\] \[([^\]]+)\]\((http://[^)]+#t=([0-9.]+),([0-9.]+))\)")


@pytest.fixture(scope="module")
def client(api: httpx.Client) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=str(api.base_url).rstrip("/") + "/v1", api_key="unused",
                  max_retries=0, timeout=300)


def check_cited(text: str, citations: list[dict[str, Any]]) -> None:
    """The answer's markers, its sources' links and its ``citations`` data agree, and each
    link plays a span inside the cited clip."""
    sources = SOURCE.findall(text)
    assert sources and len(sources) == len(citations), text
    for (n, label, url, start, end), cited in zip(sources, citations, strict=True):
        assert f"[{n}]" in text.split("**Sources**")[0]
        assert int(n) == cited["n"] and label == cited["label"] and url == cited["url"]
        assert cited["clip"]["start"] - 0.01 <= float(start) < float(end) <= \
            cited["clip"]["end"] + 0.01
        played = httpx.get(url.split("#")[0], headers={"Range": "bytes=0-9"})
        assert played.status_code == 206


def test_models_list_the_collection(client: Any) -> None:
    assert [m.id for m in client.models.list()] == ["deerin/default"]


def test_completion_cites_playable_clips(client: Any) -> None:
    reply = client.chat.completions.create(
        model="deerin/default", temperature=0.7, max_tokens=5,  # accepted, and ignored
        messages=[{"role": "system", "content": "You are a pirate."},
                  {"role": "user", "content": QUESTION}])
    assert reply.object == "chat.completion" and reply.choices[0].finish_reason == "stop"
    text = reply.choices[0].message.content
    assert "150" in text.split("**Sources**")[0]
    check_cited(text, reply.model_extra["citations"])
    assert reply.usage.completion_tokens > 0


def test_streamed_completion_sends_the_checked_answer(client: Any) -> None:
    stream = client.chat.completions.create(
        model="deerin", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": [{"type": "text", "text": QUESTION}]}])
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finished = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert len(finished) == 1
    check_cited(text, finished[0].model_extra["citations"])
    assert chunks[-1].usage is not None and not chunks[-1].choices


def test_follow_up_reads_the_conversation(client: Any) -> None:
    first = client.chat.completions.create(
        model="deerin", messages=[{"role": "user", "content": QUESTION}])
    said = first.choices[0].message.content  # with its sources, as a client sends it back
    reply = client.chat.completions.create(model="deerin", messages=[
        {"role": "user", "content": QUESTION}, {"role": "assistant", "content": said},
        {"role": "user", "content": "What do they use those devices for?"}])
    assert reply.choices[0].message.content


def test_bad_requests_raise_the_clients_own_errors(client: Any) -> None:
    from openai import BadRequestError, NotFoundError, UnprocessableEntityError

    with pytest.raises(NotFoundError, match="no model"):
        client.chat.completions.create(model="gpt-4o",
                                       messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(UnprocessableEntityError, match="empty"):
        client.chat.completions.create(model="deerin",
                                       messages=[{"role": "user", "content": "  "}])
    with pytest.raises((BadRequestError, UnprocessableEntityError), match="last message"):
        client.chat.completions.create(model="deerin",
                                       messages=[{"role": "assistant", "content": "hi"}])
