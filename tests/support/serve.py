"""Helpers of the ``deerin serve`` tests: two small real indexes, a deployment's files (three
collections, three accounts), and the server in a subprocess."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.chat import _OFFLINE, DEERIN, ChatServer, free_port

PASSWORDS = {"anna": "anna's long password", "ben": "ben:colon password", "root": "root pw"}
GROUPS = {"anna": "filmarchiv", "ben": "tv", "root": "admin"}


@dataclass(frozen=True)
class Workshop:
    """A deployment's files: the configuration, the users file, and the two indexes."""

    config: Path
    users: Path
    index_a: Path
    index_b: Path
    broken: Path


def build_index(db: Path, media: Path) -> Path:
    """A real index of ``media`` (no on-screen text or faces: nothing to find in these)."""
    from indexing.pipeline import Indexer
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    if not (db / "deerin.json").exists():
        settings = Settings.from_env({}, db_dir=db, ocr=False, faces=False)
        report = Indexer(LanceStore(db), settings).index([media])
        assert not report.failures, report.failures
    return db


def workshop(base: Path, media_dir: Path) -> Workshop:
    """Collections ``a`` (a speech, group filmarchiv), ``b`` (a film clip with a keyframe,
    group tv) and ``broken`` (an index whose metadata is garbage, group filmarchiv); accounts
    anna (filmarchiv), ben (tv) and root (admin), added with `deerin users add`."""
    from assistant.web.users import set_user

    index_a = build_index(base / "index-a", media_dir / "mdn_bear_transcript_demo.mp3")
    index_b = build_index(base / "index-b", media_dir / "his_girl_friday_1940_clip.mp4")
    broken = base / "broken"
    broken.mkdir(exist_ok=True)
    (broken / "deerin.json").write_text("not json")
    config = base / "deerin.toml"
    config.write_text(
        "# the workshop\n"
        f'[collections.a]\npath = "{index_a}"\ndescription = "Archive A: a speech"\n'
        'groups = ["filmarchiv"]\n\n'
        f'[collections.b]\npath = "{index_b}"\ndescription = "Archive B: a film"\n'
        'groups = ["tv"]\n\n'
        f'[collections.broken]\npath = "{broken}"\ngroups = ["filmarchiv"]\n')
    users = base / "users.toml"
    if not users.exists():
        for name, password in PASSWORDS.items():
            set_user(users, name, password, [GROUPS[name]])
    return Workshop(config, users, index_a, index_b, broken)


def start_serve(shop: Workshop, workdir: Path, *, extra_env: dict[str, str] | None = None,
                args: tuple[str, ...] = ()) -> ChatServer:
    """Start `deerin serve` over ``shop`` on a free port (call ``wait_ready`` next)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEERIN_", "CHAINLIT_"))}
    env.update(XDG_CACHE_HOME=str(workdir / "cache"), PYTHONUNBUFFERED="1",
               DEERIN_CONFIG=str(shop.config), DEERIN_USERS_FILE=str(shop.users), **_OFFLINE)
    env.update(extra_env or {})
    log = workdir / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(DEERIN), "serve", "--port", str(port), *args], cwd=workdir,
                                env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    return ChatServer(f"http://127.0.0.1:{port}", proc, workdir, log)


@pytest.fixture(scope="session")
def workshop_files(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Workshop:
    """The session's workshop deployment files (indexes built once)."""
    return workshop(tmp_path_factory.mktemp("workshop"), media_dir)
