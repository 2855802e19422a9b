#!/bin/sh
# ONNX Runtime as a comparison oracle for Kiln's ONNX import tests.
#
#   run_ort.sh MODEL.onnx INPUT.npy OUT_PREFIX [--threads N]
#              [--opt-level disabled|basic|extended|all] [--optimized-model PATH]
#   run_ort.sh --install      (only install onnxruntime-node; scripts/test.sh)
#
# Runs MODEL on the rows of INPUT.npy with onnxruntime-node and writes
# OUT_PREFIX<output name>.npy for every output (see run_ort.js).
#
# The first run installs onnxruntime-node (ORT_VERSION, default 1.30.0) with
# npm into .cache/ort/ at the repository root (git-ignored), with
# --ignore-scripts: the package's install script would only fetch CUDA
# binaries; the CPU libonnxruntime.so.1 ships inside the package.
# KILN_ORT_NODE_MODULES points at another node_modules instead;
# KILN_ORT_NO_INSTALL=1 never installs (the ctest fixture sets it).
#
# Exit status 77 (ctest's SKIP_RETURN_CODE) when node or the package is not
# available and cannot be installed; 1 on any other failure.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
version=${ORT_VERSION:-1.30.0}
modules=${KILN_ORT_NODE_MODULES:-$root/.cache/ort/node_modules}

install_only=0
if [ "${1:-}" = --install ]; then
  install_only=1
elif [ $# -lt 3 ]; then
  sed -n '4,5p' "$0" | sed 's/^# *//' >&2
  exit 2
fi
if ! command -v node >/dev/null 2>&1; then
  echo "run_ort.sh: node is not installed; skipping" >&2
  exit 77
fi
if [ ! -f "$modules/onnxruntime-node/package.json" ]; then
  if [ -n "${KILN_ORT_NODE_MODULES:-}" ] || [ "${KILN_ORT_NO_INSTALL:-0}" = 1 ] ||
     ! command -v npm >/dev/null 2>&1; then
    echo "run_ort.sh: onnxruntime-node is not in $modules and cannot be installed; skipping" >&2
    exit 77
  fi
  mkdir -p "$root/.cache/ort"
  echo "run_ort.sh: installing onnxruntime-node@$version into $root/.cache/ort" >&2
  if ! (cd "$root/.cache/ort" &&
        npm install --no-audit --no-fund --ignore-scripts \
          "onnxruntime-node@$version" >&2); then
    echo "run_ort.sh: npm install failed; skipping" >&2
    exit 77
  fi
fi
[ "$install_only" = 1 ] && exit 0
KILN_ORT_NODE_MODULES=$modules exec node "$here/run_ort.js" "$@"
