#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine:
#   1. install what the project needs (scripts/setup.sh)
#   2. build the release preset (runtime, toolchain, benchmarks)
#   3. `kiln demo`: build the 4-head block model with the model builder,
#      write it atomically, load it through the runtime, run 4096 blocks in
#      one batched call and print decisions, fallback rates and latency
#   4. `kiln inspect` the written model
#   5. the runtime benchmarks (invoke overhead, mlp160, blocknet)
#
# Until `kiln train` exists (issue 3) the model's weights are seeded, not
# trained: this shows the pipeline and its speed, not accuracy.
#
# Environment: KILN_JOBS (build parallelism), KILN_OUT (default out/).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
JOBS="${KILN_JOBS:-$(nproc 2>/dev/null || echo 2)}"
OUT="${KILN_OUT:-out}"

section() { printf '\n==> %s\n' "$*"; }

section "setup"
scripts/setup.sh

section "build (preset release)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS" --target kiln kiln_bench_runtime

section "kiln demo"
build/release/toolchain/kiln demo --out "$OUT/demo"

section "kiln inspect $OUT/demo/blocknet.kiln"
build/release/toolchain/kiln inspect "$OUT/demo/blocknet.kiln" --batch 4096

section "runtime benchmarks (single thread, medians of 5 repetitions)"
build/release/bench/kiln_bench_runtime --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_min_time=0.2
