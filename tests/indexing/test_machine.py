"""The CPU kernel switches and the machine facts runs record (see docs: reproducibility)."""

from __future__ import annotations

import json
import subprocess
import sys

from indexing.machine import describe, fingerprint, kernel_pins, machine_facts, pin_kernels

AVX2 = frozenset({"avx", "avx2", "fma", "f16c"})


def test_portable_pins_avx2_and_native_pins_nothing() -> None:
    pins = kernel_pins("portable", AVX2)
    assert pins["CT2_FORCE_CPU_ISA"] == "AVX2" and pins["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert pins["CT2_USE_MKL"] == "0"  # never MKL's int8 path, 15x slower on AMD
    assert "AVX512" in pins["NPY_DISABLE_CPU_FEATURES"] or "X86_V4" in pins[
        "NPY_DISABLE_CPU_FEATURES"]
    assert kernel_pins("portable", frozenset({"sse4_2"}))["CT2_FORCE_CPU_ISA"] == "GENERIC"
    assert kernel_pins("native", AVX2) == {}


def test_an_explicit_variable_wins() -> None:
    env = {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}
    effective = pin_kernels(env, "portable")
    assert env["ONEDNN_MAX_CPU_ISA"] == effective["ONEDNN_MAX_CPU_ISA"] == "AVX512_CORE"


def test_the_console_script_pins_before_numpy_loads() -> None:
    """What numpy reports as disabled shows the switch was set before its first import."""
    code = ("import sys; sys.argv = ['deerin', '--version']\n"
            "import deerin.console\n"
            "try:\n    deerin.console.main()\nexcept SystemExit:\n    pass\n"
            "import os, json; print(json.dumps({k: v for k, v in os.environ.items()"
            " if k.startswith(('CT2_', 'ONEDNN', 'NPY_'))}))")
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "XDG_CONFIG_HOME": "/nonexistent"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120, check=True)
    shown = json.loads(out.stdout.splitlines()[-1])
    assert shown == {k: v for k, v in kernel_pins("portable").items()
                     if k.startswith(("CT2_", "ONEDNN", "NPY_"))}
    native = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env | {"DEERIN_KERNELS": "native"}, timeout=120, check=True)
    assert json.loads(native.stdout.splitlines()[-1]) == {}


def test_machine_facts_name_the_cpu_and_the_libraries() -> None:
    facts = machine_facts({"CT2_FORCE_CPU_ISA": "AVX2"})
    assert facts["cores"] >= 1 and facts["arch"]
    assert facts["switches"] == {"CT2_FORCE_CPU_ISA": "AVX2"} and facts["kernels"] == "portable"
    assert {"ctranslate2", "numpy", "llama_cpp_python"} <= facts["libraries"].keys()
    assert machine_facts({})["kernels"] == "native"
    assert fingerprint(facts) == fingerprint(dict(facts)) != fingerprint(machine_facts({}))
    assert fingerprint(facts) in describe(facts)
