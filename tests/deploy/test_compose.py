"""docker-compose.yml: the stack `docker compose up` starts (app, Ollama, Neo4j, the model pull
and the index job), read with PyYAML and checked against the rules it must keep: health checks
on long-running services, ports on 127.0.0.1 unless asked otherwise, secrets required, named
volumes, dependencies that exist, pinned image tags, one graph configuration for every DEERIn
process, an image that has the extras the stack uses, and commands the image's `deerin` really
has.

Where Docker Compose is installed, ``docker compose config`` validates the file too."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import REPO

COMPOSE = REPO / "docker-compose.yml"
ONE_SHOT = {"ollama-pull", "index"}
SECRETS = ("DEERIN_AUTH", "NEO4J_PASSWORD")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def services(compose: dict[str, Any], *, default_only: bool = False) -> dict[str, Any]:
    """Services by name; ``default_only``: those a plain `docker compose up` starts."""
    found: dict[str, Any] = compose["services"]
    return {n: s for n, s in found.items() if not (default_only and s.get("profiles"))}


def test_up_starts_app_ollama_neo4j_pull_and_index(compose: dict[str, Any]) -> None:
    assert {"app", "ollama", "neo4j", "ollama-pull", "index"} <= set(
        services(compose, default_only=True))
    app = compose["services"]["app"]["depends_on"]
    assert app["ollama"]["condition"] == "service_healthy"
    assert app["neo4j"]["condition"] == "service_healthy"
    assert app["ollama-pull"]["condition"] == "service_completed_successfully"
    # The index job exits 1 when a single file fails: the chat must not wait on its success.
    assert app["index"]["condition"] == "service_started"


def test_long_running_services_have_health_checks(compose: dict[str, Any]) -> None:
    for name, svc in services(compose).items():
        if name in ONE_SHOT:
            assert svc.get("restart") == "no", name  # a one-shot job must not be restarted
            continue
        check = svc.get("healthcheck")
        assert check and check.get("test"), f"{name} has no health check"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
        assert svc.get("restart") == "unless-stopped", name


def test_ports_bind_loopback_by_default(compose: dict[str, Any]) -> None:
    published = 0
    for name, svc in services(compose).items():
        for port in svc.get("ports", []):
            assert isinstance(port, str), f"{name}: use the HOST_IP:HOST:CONTAINER form"
            # A ${VAR:-default} host address must default to loopback.
            host = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", port).rsplit(":", 2)[0]
            assert host == "127.0.0.1", f"{name} publishes {port} beyond loopback"
            published += 1
    assert published >= 2  # the chat and the Neo4j browser


def test_secrets_are_required(compose: dict[str, Any]) -> None:
    text = COMPOSE.read_text()
    for secret in SECRETS:
        uses = re.findall(r"\$\{" + secret + r"(:?[-?][^}]*)?\}", text)
        assert uses, f"{secret} is not used"
        assert all(u.startswith(":?") for u in uses), f"{secret} must be ${{{secret}:?...}}"
    # Compose would have to guess these: no defaults, in any service.
    assert "NEO4J_PASSWORD:-" not in text and "DEERIN_AUTH:-" not in text


def test_volumes_are_named_and_declared(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for name, svc in services(compose).items():
        for vol in svc.get("volumes", []):
            source = vol.split(":", 1)[0]
            if source.startswith(("/", ".", "$")):  # a bind mount (the footage)
                assert vol.endswith(":ro"), f"{name}: bind mounts are read-only"
                continue
            assert source in declared, f"{name} uses undeclared volume {source}"
            used.add(source)
    assert {"deerin-index", "ollama-models", "neo4j-data"} <= used
    assert used == declared


def test_dependencies_name_services(compose: dict[str, Any]) -> None:
    names = set(services(compose))
    for name, svc in services(compose).items():
        deps = svc.get("depends_on", {})
        for dep in deps:
            assert dep in names, f"{name} depends on unknown service {dep}"
            if isinstance(deps, dict):
                assert deps[dep]["condition"] in {
                    "service_started", "service_healthy", "service_completed_successfully"}


def test_commands_exist_in_the_image(compose: dict[str, Any]) -> None:
    """The index job and the app run `deerin index` / `deerin chat`, which the CLI has, and
    the Dockerfile's own command is the chat."""
    from typer.main import get_command

    from deerin.cli import app

    cli = get_command(app)
    commands = set(getattr(cli, "commands", {}))
    assert {"index", "chat"} <= commands
    svc = compose["services"]
    assert svc["index"]["command"][:2] == ["deerin", "index"]
    assert svc["app"]["command"][:2] == ["deerin", "chat"]
    dockerfile = (REPO / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert cmd is not None and yaml.safe_load(cmd.group(1))[:2] == ["deerin", "chat"]
    assert "HEALTHCHECK" in dockerfile
    # The image the app and the index job share is built from this Dockerfile.
    assert svc["app"]["build"] == svc["index"]["build"] == "."
    assert svc["app"]["image"] == svc["index"]["image"]


def test_docker_compose_config_accepts_it(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"],
                                        capture_output=True).returncode != 0:
        pytest.skip("Docker Compose is not installed here")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    missing = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
                             capture_output=True, text=True, env=env)
    assert missing.returncode != 0 and "DEERIN_AUTH" in missing.stderr + missing.stdout
    ok = subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
                        capture_output=True, text=True,
                        env={**env, "DEERIN_AUTH": "a:b", "NEO4J_PASSWORD": "pw"})
    assert ok.returncode == 0, ok.stderr


def test_images_are_pinned_to_a_release(compose: dict[str, Any]) -> None:
    for name, svc in services(compose).items():
        image = svc["image"]
        if image.startswith("deerin:"):  # built here from the Dockerfile
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image else "latest"
        assert re.match(r"\d+\.\d+\.\d+", tag), f"{name}: pin {image} to a release tag"
    assert services(compose)["neo4j"]["image"].split(":")[1].startswith("5.")  # the 5.x driver


def _runs_deerin(svc: dict[str, Any]) -> bool:
    return str(svc.get("image", "")).startswith("deerin:")


def test_every_deerin_process_has_the_same_graph(compose: dict[str, Any]) -> None:
    """The app, the index job and the Ray nodes (the Ray engine's driver runs in the head) read
    and write one graph: same Neo4j settings, and Neo4j up before they start."""
    keys = ("DEERIN_NEO4J_URI", "DEERIN_NEO4J_USER", "DEERIN_NEO4J_PASSWORD")
    app = services(compose)["app"]["environment"]
    assert all(app.get(k) for k in keys)
    deerin = {n: s for n, s in services(compose).items() if _runs_deerin(s)}
    assert {"app", "index", "ray-head", "ray-worker"} <= set(deerin)
    for name, svc in deerin.items():
        assert {k: svc["environment"].get(k) for k in keys} == {k: app[k] for k in keys}, name
        assert svc["depends_on"]["neo4j"]["condition"] == "service_healthy", name


def test_the_image_has_the_extras_the_stack_uses(compose: dict[str, Any]) -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    installs = re.findall(r"pip install [^\n]*\.\[([a-z0-9,]+)\]", dockerfile)
    assert len(installs) == 1, "one pip install of the project, with its extras"
    extras = set(installs[0].split(","))
    every = services(compose).values()
    if any("DEERIN_NEO4J_URI" in s.get("environment", {}) for s in every):
        assert "neo4j" in extras  # else the index job exits 1 and the app never starts
    if any(s.get("command", [""])[0] == "ray" for s in every if _runs_deerin(s)):
        assert "ray" in extras
    assert "-c constraints.txt" in dockerfile  # the lock file
    assert "download.pytorch.org/whl/cpu" in dockerfile  # CPU torch
    assert "-DGGML_NATIVE=OFF" in dockerfile  # a portable llama.cpp
