#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine:
#   1. install what the project needs (scripts/setup.sh)
#   2. build the release preset (runtime, toolchain, benchmarks)
#   3. `kiln build`: train a small CNN on Fashion-MNIST (LibTorch), fold
#      BatchNorm, calibrate, quantize to INT8, choose the fallback policy on
#      the valid split, compile out/fashion/model.kiln and evaluate it
#      through the runtime on the official test set: float vs int8
#      accuracy, fallback rate, latency (~3-4 min on 2 cores)
#   4. `kiln inspect` the compiled model
#   5. `kiln blocks`: the block side-information model end to end on real
#      photographs: label blocks with the exhaustive search of Kiln's
#      reference block coder, train (LibTorch), quantize, compile
#      out/blocks/model.kiln, choose top-k and fallback on valid blocks, and
#      encode the held-out photographs exhaustively, pruned, model-guided
#      and heuristic-guided: size, bit estimates, fallback rate, model time
#      (~4-5 min); then the plain-C example predicts blocks with it
#   6. `kiln bench` of the compiled model on this CPU's kernel path (median,
#      p90 per image), then the runtime benchmarks (invoke overhead, mlp160,
#      blocknet, resnet18) on every kernel path this CPU runs
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
cmake --build --preset release -j "$JOBS" --target kiln kiln_bench_runtime \
  block_predict

section "kiln build toolchain/params/fashion_mnist_cnn.json"
build/release/toolchain/kiln build toolchain/params/fashion_mnist_cnn.json \
  --out "$OUT/fashion"

section "kiln inspect $OUT/fashion/model.kiln"
build/release/toolchain/kiln inspect "$OUT/fashion/model.kiln"

section "kiln import $OUT/fashion/model.onnx (the exported float model back through the ONNX importer)"
# kiln build also wrote the float model as ONNX; importing it calibrates on
# 512 training images and reports the INT8 model against the float graph on
# the 10,000 test images (docs/onnx.md).
FASHION=/usr/share/datasets/fashion-mnist
build/release/toolchain/kiln import "$OUT/fashion/model.onnx" \
  --out "$OUT/fashion/imported.kiln" \
  --calib "$FASHION/train-images-idx3-ubyte.gz" --calib-count 512 \
  --eval "$FASHION/t10k-images-idx3-ubyte.gz" \
  --eval-labels "$FASHION/t10k-labels-idx1-ubyte.gz" --eval-count 10000 \
  --head all

section "kiln blocks --out $OUT/blocks (block side-information model)"
build/release/toolchain/kiln blocks --out "$OUT/blocks"

section "examples/block_predict (plain C, libkiln.a only) on $OUT/blocks/model.kiln"
build/release/tests/block_predict "$OUT/blocks/model.kiln" \
  examples/block_predict/coffee_crop.ppm --print 2

section "kiln bench $OUT/fashion/model.kiln (batch 1 and 256, single thread)"
build/release/toolchain/kiln bench "$OUT/fashion/model.kiln" --batch 1
build/release/toolchain/kiln bench "$OUT/fashion/model.kiln" --batch 256 --reps 50

section "runtime benchmarks per kernel path (single thread, medians of 3 repetitions)"
build/release/bench/kiln_bench_runtime --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_min_time=0.1
