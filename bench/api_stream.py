"""Benchmark: how soon ``/api/ask`` streams, and whether answering holds up the rest of the app.

    python bench/api_stream.py [--db DIR] [--llm fast|default|tiny] [--users 1,4]

Starts ``deerin chat`` on loopback over an index (built first from three files of
../shared/media when ``--db`` holds none), warms it with one question, then for each number of
users asks that many questions at once through the HTTP API, each over its own connection, as
a real client does (httpx and httpx-sse). Printed per round: p50/p95 of the time to the first
event (``clips``: the retrieved clips), to the first ``token`` and to the checked ``answer``;
and, from a prober that requests ``/api/files`` every 0.2 s all the while, p50/p95/max of its
latency (the answers run in worker threads, so it should stay in milliseconds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FILES = ("lewin_physicsworks_lecture_audio.webm", "gwb_columbia_address_2003.ogg",
         "his_girl_friday_1940_clip.mp4")
QUESTIONS = (
    "How many joules does the lecturer say are enough to kill you?",
    "What happened to the space shuttle Columbia?",
    "What do they use the wrecking ball devices for?",
    "Who asks whether the lord of the universe is in?",
    "How heavy is the object the lecturer lifts?",
    "Where was mission control when contact was lost?",
    "What did the prophet Isaiah say?",
    "What does the lecturer do with his chin?",
)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else float("nan")


def ask(base: str, question: str) -> dict[str, float]:
    """One streamed answer: seconds to the first event, the first token and the answer."""
    import httpx
    from httpx_sse import connect_sse

    t0 = time.perf_counter()
    seen: dict[str, float] = {}
    with httpx.Client(timeout=900) as client, connect_sse(
            client, "POST", f"{base}/api/ask", json={"question": question}) as source:
        for event in source.iter_sse():
            now = time.perf_counter() - t0
            seen.setdefault("first_event", now)
            seen.setdefault(event.event, now)
            if event.event == "error":
                raise RuntimeError(json.loads(event.data)["error"]["message"])
    return seen


def run_round(base: str, users: int) -> tuple[list[dict[str, float]], list[float]]:
    """``users`` answers at once, and the latencies of ``/api/files`` meanwhile (ms)."""
    import httpx

    results: list[dict[str, float]] = []
    probes: list[float] = []
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(timeout=60) as client:
            while not done.is_set():
                t = time.perf_counter()
                client.get(f"{base}/api/files").raise_for_status()
                probes.append((time.perf_counter() - t) * 1000)
                done.wait(0.2)

    def user(i: int) -> None:
        results.append(ask(base, QUESTIONS[i % len(QUESTIONS)]))

    prober = threading.Thread(target=probe)
    prober.start()
    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    prober.join()
    return results, probes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path.home() / ".cache" / "deerin" / "bench-api")
    ap.add_argument("--media", type=Path, default=REPO.parent / "shared" / "media")
    ap.add_argument("--llm", default="fast", help="LLM spec of the server (default: fast)")
    ap.add_argument("--users", default="1,4", help="users per round, comma-separated")
    ap.add_argument("--port", type=int, default=8791)
    args = ap.parse_args()

    import httpx

    deerin = Path(sys.executable).with_name("deerin")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONPATH": str(REPO)}
    env.pop("DEERIN_AUTH", None)
    if not (args.db / "clips.lance").exists():
        subprocess.run([str(deerin), "index", *(str(args.media / f) for f in FILES),
                        "--db", str(args.db)], env=env, check=True)
    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([str(deerin), "chat", "--db", str(args.db), "--port",
                               str(args.port), "--llm", args.llm], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/api/files", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        ask(base, QUESTIONS[0])  # models loaded, prompt prefix cached
        print(f"server: deerin chat --llm {args.llm}; load average "
              f"{os.getloadavg()[0]:.1f}")
        print("| users | first event p50/p95 s | first token p50/p95 s | answer p50/p95 s | "
              "/api/files meanwhile p50/p95/max ms |")
        print("|---|---|---|---|---|")
        for users in (int(u) for u in args.users.split(",")):
            results, probes = run_round(base, users)

            def col(key: str, results: list[dict[str, float]] = results) -> str:
                got = [r[key] for r in results if key in r]
                return f"{pct(got, 0.5):.2f} / {pct(got, 0.95):.2f}"

            print(f"| {users} | {col('first_event')} | {col('token')} | {col('answer')} | "
                  f"{statistics.median(probes):.0f} / {pct(probes, 0.95):.0f} / "
                  f"{max(probes):.0f} |")
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)


if __name__ == "__main__":
    main()
