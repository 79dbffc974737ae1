"""What the Docker image installs, tested without a Docker engine (none runs here).

The Dockerfile's build stage copies some paths of the repository and installs the package from
them. These tests copy exactly those paths (the COPY lines, parsed) into a temporary folder,
build a wheel from it, install the wheel into a fresh virtualenv and run the wheel's code there:
``deerin --help``, ``deerin doctor --json`` and an import of every module of every package. The
virtualenv reuses the dependencies installed in the running one (a .pth file naming its
site-packages, whose own .pth files, the editable install of this repository among them, are
not processed), so a module the Dockerfile forgets to copy fails here as it would in the image.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import site
import socket
import subprocess
import sys
import tomllib
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import REPO

pytestmark = pytest.mark.image

DOCKERFILE = REPO / "Dockerfile"
# What .dockerignore keeps out of the build context, inside the copied folders.
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


@dataclass(frozen=True)
class Copy:
    """One ``COPY SRC... DEST`` of the build stage."""

    sources: tuple[str, ...]
    dest: str


def build_stage_copies(text: str) -> list[Copy]:
    """The COPY lines of the Dockerfile's first stage (the one that installs the package)."""
    lines = re.sub(r"\\\n", " ", text).splitlines()
    copies: list[Copy] = []
    froms = 0
    for line in lines:
        words = shlex.split(line, comments=True)
        if not words:
            continue
        op = words[0].upper()
        froms += op == "FROM"
        if froms > 1:
            break
        if op == "COPY":
            args = [w for w in words[1:] if not w.startswith("--")]
            assert not any(w.startswith("--from") for w in words), "the build stage copies "\
                "from the context only"
            copies.append(Copy(tuple(args[:-1]), args[-1]))
    return copies


def included_packages() -> set[str]:
    """The top-level packages of pyproject's ``[tool.setuptools.packages.find] include``."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return {pattern.rstrip("*").rstrip(".") for pattern in include}


def not_in_tree_yet(copies: list[Copy]) -> set[str]:
    """Copied packages that pyproject names but this tree does not hold yet (a package being
    added on another branch): a docker build needs them, so only they may be absent."""
    return {s for c in copies for s in c.sources if not (REPO / s).exists()}


def test_dockerfile_copies_every_package() -> None:
    copies = build_stage_copies(DOCKERFILE.read_text())
    copied = {s for c in copies for s in c.sources}
    packages = included_packages()
    assert packages <= copied, f"the image lacks {sorted(packages - copied)}"
    assert {"pyproject.toml", "README.md", "constraints.txt"} <= copied
    # Every top-level package of the tree is packaged (and so copied).
    in_tree = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests", "bench"}
    assert in_tree <= packages, f"pyproject does not package {sorted(in_tree - packages)}"
    missing = not_in_tree_yet(copies)
    assert missing <= packages, f"the Dockerfile copies what does not exist: {sorted(missing)}"


@dataclass(frozen=True)
class Built:
    wheel: Path
    venv: Path
    packages: tuple[str, ...]


def _project_version() -> str:
    with (REPO / "pyproject.toml").open("rb") as f:
        return str(tomllib.load(f)["project"]["version"])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The wheel built from exactly what the Dockerfile copies, installed in a fresh virtualenv
    that borrows the running environment's dependencies."""
    tmp = tmp_path_factory.mktemp("image")
    context = tmp / "src"
    context.mkdir()
    copies = build_stage_copies(DOCKERFILE.read_text())
    absent = not_in_tree_yet(copies)
    for copy in copies:
        for source in copy.sources:
            if source in absent:
                continue
            src = REPO / source
            into_folder = copy.dest.endswith("/") or len(copy.sources) > 1
            dest = context / copy.dest / src.name if into_folder else context / copy.dest
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dest, ignore=IGNORED)
            else:
                shutil.copy2(src, dest)
    dist = tmp / "dist"
    # No PYTHONPATH: a source tree on it (with its egg-info) would pass for an installed deerin.
    env = _clean_env()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(dist), str(context)],
                   check=True, capture_output=True, text=True, timeout=300, cwd=tmp, env=env)
    wheel = next(dist.glob("deerin-*.whl"))

    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", "--force-reinstall", str(wheel)],
                   check=True, capture_output=True, text=True, timeout=300, cwd=tmp, env=env)
    # The running environment's site-packages as plain path lines: its dependencies import, and
    # its .pth files (the editable install of this repository) are not run.
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                          "['purelib'])"], check=True, capture_output=True, text=True, env=env)
    borrowed = "".join(f"{p}\n" for p in site.getsitepackages())
    (Path(own.stdout.strip()) / "_borrowed_dependencies.pth").write_text(borrowed)
    packaged = tuple(sorted(included_packages() - absent))
    return Built(wheel, env_dir, packaged)


def _clean_env() -> dict[str, str]:
    """This process's environment without what would put the repository on ``sys.path``."""
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}


def _run(built: Built, *args: str, tmp: Path, check: bool = True,
         extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a program of the fresh virtualenv, away from the repository and its PYTHONPATH."""
    env = _clean_env()
    env.update({"NO_COLOR": "1", "DEERIN_CACHE": str(tmp / "models"), **(extra_env or {})})
    done = subprocess.run([str(built.venv / "bin" / args[0]), *args[1:]], cwd=tmp, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(args[:2])} exited {done.returncode} in the image's virtualenv: "
                    f"{done.stderr.strip()[-2000:]}")
    return done


def test_wheel_holds_the_package_data(built: Built) -> None:
    names = set(zipfile.ZipFile(built.wheel).namelist())
    expected = {"deerin/chainlit.md", "deerin/.chainlit/config.toml"}
    expected |= {f"prompts/{p.name}" for p in (REPO / "prompts").glob("*.txt")}
    expected |= {f"eval/sets/{p.name}" for p in (REPO / "eval" / "sets").glob("*.jsonl")}
    assert len(expected) > 4 and expected <= names, sorted(expected - names)
    for package in built.packages:
        sources = {str(p.relative_to(REPO)) for p in (REPO / package).rglob("*.py")
                   if "__pycache__" not in p.parts}
        assert sources <= names, f"{package}: the wheel lacks {sorted(sources - names)}"


def test_the_wheel_runs_from_a_fresh_virtualenv(built: Built, tmp_path: Path) -> None:
    where = _run(built, "python", "-c", "import deerin, weights; print(deerin.__file__); "
                 "print(weights.__file__)", tmp=tmp_path).stdout.split()
    assert all(Path(p).is_relative_to(built.venv) for p in where), where  # the wheel's code
    version = _run(built, "deerin", "--version", tmp=tmp_path)
    assert version.stdout.strip() == f"deerin {_project_version()}", version.stdout
    help_out = _run(built, "deerin", "--help", tmp=tmp_path)
    assert "index" in help_out.stdout and "chat" in help_out.stdout

    with socket.socket() as s:  # a port nobody listens on: Ollama is "down" at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    doctor = _run(built, "deerin", "doctor", "--json", tmp=tmp_path, check=False,
                  extra_env={"OLLAMA_HOST": f"127.0.0.1:{port}"})
    assert doctor.returncode in (0, 1), doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["checks"] and report["models"]

    script = """
import importlib, pkgutil, sys
count = 0
for name in sys.argv[1:]:
    package = importlib.import_module(name)
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        if not info.name.endswith(".__main__"):  # runs the CLI
            module = importlib.import_module(info.name)
            assert module.__file__ and module.__file__.startswith(sys.prefix), module.__file__
            count += 1
print(count)
"""
    imported = _run(built, "python", "-c", script, *built.packages, tmp=tmp_path)
    assert int(imported.stdout) > 100, imported.stdout
