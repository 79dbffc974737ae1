"""The settings catalogue and how values are read: defaults, deerin.toml files, the environment.

The catalogue is the one list of settings: these tests also scan the code so that no ``DEERIN_*``
name is read anywhere without an entry, and no module reads one except through the catalogue.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.settings import AssistantSettings
from config import BY_ENV, BY_KEY, DEFAULT, ENVIRONMENT, SETTINGS, ConfigError, load_config
from indexing.graph.settings import GraphSettings
from indexing.settings import Settings
from tests.support import REPO

PACKAGES = ("config", "weights", "prompts", "indexing", "assistant", "exploration",
            "interaction", "eval", "deerin")
# Names of the set-up script and the tests, not settings of DEERIn.
NOT_SETTINGS = {"DEERIN_TEST_MEDIA", "DEERIN_EXTRAS", "DEERIN_VENV", "DEERIN_TORCH_VERSION",
                "DEERIN_TORCHVISION_VERSION", "DEERIN_SKIP_TORCH", "DEERIN_NO_TEST",
                "DEERIN_FOOTAGE", "DEERIN_PORT", "DEERIN_BIND", "DEERIN_OLLAMA_MODEL_TAG"}
_NAME = re.compile(r"\bDEERIN_[A-Z0-9_]+")


def _code() -> list[Path]:
    return [p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")]


def test_every_name_in_the_code_is_in_the_catalogue() -> None:
    unknown = {(p.relative_to(REPO).as_posix(), name) for p in _code()
               for name in _NAME.findall(p.read_text(encoding="utf-8"))
               if name not in BY_ENV}
    assert not unknown, f"DEERIN_* names without a catalogue entry: {sorted(unknown)}"
    others = [REPO / "docker-compose.yml", REPO / "Dockerfile", *(REPO / "bench").rglob("*.py")]
    unknown = {(p.name, name) for p in others if p.exists()
               for name in _NAME.findall(p.read_text(encoding="utf-8"))
               if name not in BY_ENV and name not in NOT_SETTINGS}
    assert not unknown, f"DEERIN_* names without a catalogue entry: {sorted(unknown)}"


def test_no_module_reads_a_setting_around_the_catalogue() -> None:
    direct = re.compile(r"""(?:\.get\(|\[|getenv\()\s*["']DEERIN_""")
    found = [f"{p.relative_to(REPO)}:{n}" for p in _code() if p.parts[-2:][0] != "config"
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if direct.search(line)]
    assert not found, f"read DEERIN_* through config.load_config / Config.from_env: {found}"


def test_the_catalogue_is_well_formed() -> None:
    keys = [s.key for s in SETTINGS]
    envs = [s.env for s in SETTINGS]
    assert len(keys) == len(set(keys)) and len(envs) == len(set(envs))
    for s in SETTINGS:
        assert re.fullmatch(r"[a-z]+\.[a-z0-9_]+", s.key), s.key
        assert s.env.startswith("DEERIN_") and s.help.strip().endswith((".", ")")), s.key
        assert s.scope in ("any", "user", "env")
        if s.default is not None:  # a default must read back as itself
            assert load_config({s.env: str(s.default) if not isinstance(s.default, bool)
                                else ("yes" if s.default else "no")},
                               read_files=False)[s.key] == s.default


def test_precedence_default_user_file_index_file_environment(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text('[llm]\nparallel = 2\nbatch = "shared"\n[models]\nllm = "fast"\n')
    index = tmp_path / "index"
    index.mkdir()
    (index / "deerin.toml").write_text('[models]\nllm = "tiny"\n[index]\nocr = false\n')
    cfg = load_config({"DEERIN_CONFIG": str(user), "DEERIN_LLM_BATCH": "exact"},
                      index_dir=index)
    assert cfg.files == (user, index / "deerin.toml")
    assert (cfg["llm.parallel"], cfg.source("llm.parallel")) == (2, str(user))
    assert (cfg["models.llm"], cfg.source("models.llm")) == ("tiny", str(index / "deerin.toml"))
    assert (cfg["llm.batch"], cfg.source("llm.batch")) == ("exact", ENVIRONMENT)
    assert (cfg["llm.rerank_contexts"], cfg.source("llm.rerank_contexts")) == (2, DEFAULT)
    assert cfg["index.ocr"] is False
    # What a command exports for the programs it starts: the file values only.
    assert cfg.file_environ() == {"DEERIN_LLM_PARALLEL": "2", "DEERIN_LLM": "tiny",
                                  "DEERIN_OCR": "no"}
    # The settings objects read the same values.
    assert AssistantSettings.from_config(cfg).llm == "tiny"
    assert AssistantSettings.from_config(cfg).parallel == 2
    assert not Settings.from_config(cfg).ocr


def test_the_environment_alone_and_its_types() -> None:
    env = {"DEERIN_GRAPH": "off", "DEERIN_NEO4J_DATABASE": "archive", "DEERIN_LANGUAGE": "de",
           "DEERIN_SHOTS": "no", "DEERIN_LEASE_SECONDS": "90", "DEERIN_LLM": " ollama:qwen "}
    graph = GraphSettings.from_env(env)
    assert not graph.enabled and graph.neo4j_database == "archive"
    settings = Settings.from_env(env)
    assert settings.asr_language == "de" and not settings.shots
    assert load_config(env, read_files=False)["storage.lease_seconds"] == 90.0
    assert AssistantSettings.from_env(env).llm == "ollama:qwen"
    # An empty variable is no setting at all.
    assert load_config({"DEERIN_LLM_PARALLEL": " "}, read_files=False).source(
        "llm.parallel") == DEFAULT


@pytest.mark.parametrize(("env", "message"), [
    ({"DEERIN_LLM_PARALLEL": "0"}, "DEERIN_LLM_PARALLEL='0': llm.parallel takes a whole number, "
                                   "1 to 64"),
    ({"DEERIN_LLM_PARALLEL": "2.5"}, "takes a whole number"),
    ({"DEERIN_LLM_BATCH": "fast"}, "llm.batch takes one of: exact, shared"),
    ({"DEERIN_GRAPH": "maybe"}, "graph.enabled takes a yes/no"),
    ({"DEERIN_LEASE_SECONDS": "0.5"}, "takes a number, at least 1"),
])
def test_a_bad_value_is_one_line_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(env, read_files=False)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("text", "message"), [
    ("[llm]\nparalel = 2\n", "unknown setting llm.paralel (did you mean llm.parallel?)"),
    ("[llm]\nparallel = true\n", "llm.parallel takes a whole number"),
    ("[index\n", "not valid TOML"),
    ("[config]\nfile = 'x.toml'\n", "config.file can only be set in the environment"),
])
def test_a_bad_user_file_is_one_line_naming_it(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "deerin.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config({"DEERIN_CONFIG": str(path)})
    assert str(path) in str(info.value) and message in str(info.value)


def test_the_index_cannot_move_itself(tmp_path: Path) -> None:
    (tmp_path / "deerin.toml").write_text('[index]\ndb = "/elsewhere"\n')
    with pytest.raises(ConfigError, match=r"index\.db can only be set in a user file"):
        load_config({"DEERIN_CONFIG": str(tmp_path / "none.toml")}, index_dir=tmp_path)
    assert BY_KEY["index.db"].scope == "user"


def test_secrets_are_never_shown(tmp_path: Path) -> None:
    cfg = load_config({"DEERIN_AUTH": "ann:hunter2", "DEERIN_NEO4J_PASSWORD": "s3cret"},
                      read_files=False)
    shown = {v.setting.key: v.shown() for v in cfg}
    assert shown["chat.auth"] == "(set)" and shown["graph.neo4j_password"] == "(set)"
    assert "hunter2" not in repr(shown) and "s3cret" not in repr(shown)
