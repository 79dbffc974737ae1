#!/usr/bin/env bash
# Regenerates constraints.txt, the lock file that scripts/setup.sh, the Dockerfile and CI install
# with: one exact version for every package of DEERIn with all its extras, for Python 3.11 on
# Linux x86_64. Nothing is installed: pip resolves with --dry-run into JSON reports.
#
#   bash scripts/lock.sh           # resolve anew and rewrite constraints.txt (review the diff)
#   bash scripts/lock.sh --check   # only check that the install sets resolve with the lock
#
# Two resolutions make the lock. The first covers the lean install with every extra but `visual`
# (test, docs, ray, neo4j, s3) on the CPU build of torch that setup.sh installs by default. The
# second adds the `visual` extra's packages, resolved on the torch that extra needs (see
# VISUAL_TORCH), with everything else held at the first resolution's versions. GPU runtime
# packages (nvidia-*, cuda-*, triton) are left out: which ones exist depends on the torch build.
# Pins carry no local label (torch==2.13.0, not 2.13.0+cpu): such a pin matches the CPU build
# from a local wheel or the CPU index and the plain build from PyPI alike.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
LOCK=constraints.txt
# Keep these three in step with scripts/setup.sh.
LEAN_TORCH=${DEERIN_TORCH_VERSION:-2.13.0}
VISUAL_TORCH=2.14.1
VISUAL_TORCHVISION=0.29.1
CPU_INDEX=https://download.pytorch.org/whl/cpu

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip)
"${pip[@]}" install -q -U pip

# The CPU builds of torch live on their own index; ask it only if it answers at once, so an
# unreachable index never costs minutes of retries.
index=()
if "$PY" -c "import urllib.request as u; u.urlopen('$CPU_INDEX/', timeout=5)" 2>/dev/null; then
  index=(--extra-index-url "$CPU_INDEX")
fi

resolve() {  # resolve REPORT [pip args...]: what `pip install ARGS` would install, as JSON
  local report=$1 rc=0
  shift
  # Without the warnings some machines' pip configuration prints for every package.
  "${pip[@]}" install -q --dry-run --ignore-installed --report "$report" "${index[@]}" "$@" 2>&1 \
    | { grep -v -e "is ignored: it is neither a file nor a directory" || true; } || rc=$?
  return $rc
}

without_torch() {  # the lock minus torch/torchvision, for installs that bring their own torch
  grep -v -E '^(torch|torchvision)==' "$1"
}

if [ "${1:-}" = "--check" ]; then
  [ -f "$LOCK" ] || { echo "lock: no $LOCK to check: run bash scripts/lock.sh" >&2; exit 1; }
  without_torch "$LOCK" >"$work/no-torch.txt"
  lean_torch=$(sed -n 's/^torch==//p' "$LOCK")
  for extras in test "ray,neo4j,s3"; do
    echo "lock: checking .[$extras] with torch $lean_torch"
    resolve "$work/check.json" -c "$LOCK" "torch==$lean_torch" ".[$extras]"
  done
  echo "lock: checking .[visual] with torch $VISUAL_TORCH"
  resolve "$work/check.json" -c "$work/no-torch.txt" "torch==$VISUAL_TORCH" \
    "torchvision==$VISUAL_TORCHVISION" ".[visual]"
  echo "lock: every install set resolves with $LOCK"
  exit 0
fi

echo "lock: resolving the lean install with test, docs, ray, neo4j, s3 (torch $LEAN_TORCH)"
resolve "$work/lean.json" "torch==$LEAN_TORCH" ".[test,docs,ray,neo4j,s3]"
"$PY" scripts/lock_report.py pins "$work/lean.json" >"$work/lean.txt"
without_torch "$work/lean.txt" >"$work/lean-no-torch.txt"
echo "lock: resolving the visual extra (torch $VISUAL_TORCH, torchvision $VISUAL_TORCHVISION)"
resolve "$work/visual.json" -c "$work/lean-no-torch.txt" "torch==$VISUAL_TORCH" \
  "torchvision==$VISUAL_TORCHVISION" ".[visual]"
"$PY" scripts/lock_report.py write "$LOCK" "$work/lean.json" "$work/visual.json" \
  --note "torch: the CPU build by default; DEERIN_EXTRAS=visual installs torch==$VISUAL_TORCH" \
  --note "and torchvision==$VISUAL_TORCHVISION instead (scripts/setup.sh replaces the torch line)."
echo "lock: wrote $LOCK ($(grep -c '==' "$LOCK") packages)"
