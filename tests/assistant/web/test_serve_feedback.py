"""Conversations and verdicts of ``deerin serve`` kept in SQLite: a participant asks in the chat
(over Chainlit's socket.io protocol, as the web client does), judges the answer with its button
and names the right moment; the thread and the verdict survive a restart of the server; the
verdicts export to a question sheet that ``deerin questions convert`` accepts and ``deerin
eval`` runs."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx

from tests.support.chat import serving
from tests.support.serve import Workshop, ask_in_chat, login, start_serve

BEAR = "mdn_bear_transcript_demo.mp3"


def deerin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "deerin", *args], capture_output=True,
                          text=True, env=env, timeout=900)


def test_verdicts_survive_a_restart_and_become_an_eval_set(workshop_files: Workshop,
                                                           tmp_path: Path) -> None:
    database = tmp_path / "workshop.db"
    env = {"DEERIN_DATABASE": f"sqlite+aiosqlite:///{database}",
           # One signing key across the restart, as an organiser would set it.
           "CHAINLIT_AUTH_SECRET": "a-test-key-that-is-long-enough-for-hs256-signing"}
    args = ("--llm", "tiny", "--k", "2", "--max-tokens", "40")
    first = start_serve(workshop_files, tmp_path / "run1", extra_env=env, args=args)
    with serving(first) as url:
        token = login(url, "anna")
        reply = asyncio.run(ask_in_chat(
            url, token, "a", "What does the speaker say about the bear?",
            verdict=("partly", f"the bear, but more precisely {BEAR}@0:00-0:06 "
                               "words: bear")))
        assert not reply.errors, reply.errors
        assert reply.text and {a["payload"]["verdict"] for a in reply.actions or []} == {
            "right", "partly", "wrong"}
        assert any("Verdict kept: **partly**" in n for n in reply.notes or [])
    assert database.exists()

    second = start_serve(workshop_files, tmp_path / "run2", extra_env=env, args=args)
    with serving(second) as url:
        token = login(url, "anna")
        threads = httpx.post(f"{url}/project/threads", cookies={"access_token": token},
                             json={"pagination": {"first": 20}, "filter": {}}, timeout=60)
        assert threads.status_code == 200, threads.text
        found = threads.json()["data"]
        assert len(found) == 1
        opened = httpx.get(f"{url}/project/thread/{found[0]['id']}",
                           cookies={"access_token": token}, timeout=60)
        assert opened.status_code == 200
        outputs = [s.get("output") for s in opened.json()["steps"]]
        assert "What does the speaker say about the bear?" in outputs
        # Another participant sees none of anna's threads.
        other = httpx.post(f"{url}/project/threads",
                           cookies={"access_token": login(url, "ben")},
                           json={"pagination": {"first": 20}, "filter": {}}, timeout=60)
        assert other.json()["data"] == []

    run_env = {k: v for k, v in os.environ.items() if not k.startswith("DEERIN_")}
    run_env |= {"DEERIN_CONFIG": str(workshop_files.config), "HF_HUB_OFFLINE": "1", **env}
    sheet = tmp_path / "sheet.csv"
    out = deerin("feedback", "export", "--collection", "a", "--out", str(sheet), env=run_env)
    assert out.returncode == 0, out.stderr
    text = sheet.read_text()
    assert text.splitlines()[0] == "id,question,file,start,end,expected words,answerable,notes"
    assert f"{BEAR},0.00,6.00,bear,yes" in text and "verdict partly" in text
    # Nothing of collection b was asked: nothing to export, said in one line.
    none = deerin("feedback", "export", "--collection", "b", env=run_env)
    assert none.returncode == 1 and "no judged answer of b" in none.stderr

    gold = tmp_path / "gold.jsonl"
    out = deerin("questions", "convert", str(sheet), "--out", str(gold), env=run_env)
    assert out.returncode == 0, out.stderr
    lines = [line for line in gold.read_text().splitlines() if not line.startswith("//")]
    question = json.loads(lines[0])
    assert question["question"] == "What does the speaker say about the bear?"
    out = deerin("eval", "--qa", str(gold), "--db", str(workshop_files.index_a), "--no-answer",
                 "--json", env=run_env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)


def test_a_list_answer_takes_a_verdict_and_is_reported(workshop_files: Workshop,
                                                        tmp_path: Path) -> None:
    """Under ``deerin serve`` a question asking for every recording that names something gets
    the graph's list with the verdict buttons; the list and its verdict are kept, and the
    workshop report shows them apart from the answers."""
    from indexing.graph.extract import EntityExtractor
    from indexing.graph.networkx_store import NetworkxGraphStore
    from indexing.graph.sync import update
    from indexing.stores.lance import LanceStore

    index = tmp_path / "index-a"  # collection a's index with its knowledge graph
    shutil.copytree(workshop_files.index_a, index)
    update(LanceStore(index, create=False), NetworkxGraphStore(index), EntityExtractor())
    config = tmp_path / "deerin.toml"
    config.write_text(f'[collections.a]\npath = "{index}"\ngroups = ["filmarchiv"]\n')
    shop = replace(workshop_files, config=config, index_a=index)
    database = tmp_path / "workshop.db"
    env = {"DEERIN_DATABASE": f"sqlite+aiosqlite:///{database}",
           "CHAINLIT_AUTH_SECRET": "a-test-key-that-is-long-enough-for-hs256-signing"}
    server = start_serve(shop, tmp_path / "run", extra_env=env, args=("--llm", "tiny"))
    question = "Which recordings mention the bear?"
    with serving(server) as url:
        reply = asyncio.run(ask_in_chat(url, login(url, "anna"), "a", question,
                                        verdict=("wrong", "a moment is missing @0:03")))
    assert not reply.errors, reply.errors
    assert reply.text.startswith("bear is named at ") and BEAR in reply.text, reply.text
    assert {a["payload"]["verdict"] for a in reply.actions or [] if "verdict" in a["payload"]} \
        == {"right", "partly", "wrong"}
    assert any("Verdict kept: **wrong**, right moment " + BEAR in n for n in reply.notes or [])

    run_env = {k: v for k, v in os.environ.items() if not k.startswith("DEERIN_")}
    run_env |= {"DEERIN_CONFIG": str(config), "HF_HUB_OFFLINE": "1", **env}
    out = deerin("workshop", "report", "--collection", "a", "--out", str(tmp_path / "r"),
                 env=run_env)
    assert out.returncode == 0, out.stderr
    md = (tmp_path / "r" / "report.md").read_text()
    assert "| asked | 0 | |" in md  # a list is not an answer of the LLM's
    assert f"| {question} | bear is named at " in md and "| wrong | a moment is missing |" in md
