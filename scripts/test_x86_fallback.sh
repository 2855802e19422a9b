#!/usr/bin/env bash
# Usage: scripts/test_x86_fallback.sh [BUILD_DIR]   (default build/release)
#
# The x86 kernel paths are chosen at run time; this proves the choice falls
# back cleanly on CPUs without AVX-512/VNNI or without AVX at all, by running
# the native release binaries under qemu-x86_64 with older CPU models:
#   qemu64   (SSE2 only)            -> path "scalar", no AVX path offered
#   Haswell  (AVX2+FMA, no AVX-512) -> path "avx2", no VNNI/AVX-512/AMX
# For each model: the C API test (blocknet end to end; its result line must
# equal the native run's byte for byte), the whole-model path tests and the
# golden outputs (scripts/check_golden.sh: the committed hashes on the
# default and every path the emulated CPU runs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD="${1:-build/release}"
QEMU="${QEMU_X86:-qemu-x86_64-static}"
MODEL=fuzz/corpus/kiln_fuzz_model/blocknet.kiln

command -v "$QEMU" >/dev/null || { echo "missing $QEMU (scripts/setup.sh installs qemu-user-static)" >&2; exit 1; }
for bin in "$BUILD/tests/kiln_c_api_test" "$BUILD/tests/kiln_runtime_tests" \
  "$BUILD/tests/block_predict" "$BUILD/tests/golden_run"; do
  [[ -x "$bin" ]] || { echo "missing $bin: build the release preset first" >&2; exit 1; }
done

native="$("$BUILD/tests/kiln_c_api_test" "$MODEL" | grep '^ok:')"
echo "native: $native"
failed=0
check() {
  local cpu="$1" want_path="$2" forbidden="$3" out line path
  echo "== qemu -cpu $cpu"
  out="$("$QEMU" -cpu "$cpu" "$BUILD/tests/kiln_c_api_test" "$MODEL" 2>/dev/null)" || {
    echo "FAIL: C API test crashed or failed under $cpu" >&2; failed=$((failed + 1)); return; }
  echo "$out"
  line="$(grep '^ok:' <<<"$out")"
  path="$(sed -n 's/^path: \([a-z0-9]*\);.*/\1/p' <<<"$out")"
  if [[ "$line" != "$native" ]]; then
    echo "FAIL: result differs from the native run under $cpu" >&2; failed=$((failed + 1))
  fi
  if [[ "$path" != "$want_path" ]]; then
    echo "FAIL: expected path $want_path under $cpu, got '$path'" >&2; failed=$((failed + 1))
  fi
  if grep -Eq "runnable:.*( $forbidden)( |$)" <<<"$out"; then
    echo "FAIL: $cpu offers a path its CPU lacks ($forbidden)" >&2; failed=$((failed + 1))
  fi
  if ! "$QEMU" -cpu "$cpu" "$BUILD/tests/kiln_runtime_tests" --gtest_brief=1 \
      --gtest_filter='KernelPaths.EveryPath*:KernelPaths.Forced*:KernelPaths.Default*' 2>/dev/null; then
    echo "FAIL: whole-model path tests under $cpu" >&2; failed=$((failed + 1))
  fi
  # The codec's example: block features and decisions on this CPU, byte for
  # byte the committed ones (made natively).
  if "$QEMU" -cpu "$cpu" "$BUILD/tests/block_predict" \
      examples/block_predict/block_model.kiln \
      examples/block_predict/coffee_crop.ppm --print 40 2>/dev/null |
    grep -v '^[0-9]* blocks (' | cmp -s - examples/block_predict/expected_decisions.txt; then
    echo "ok: block_predict decisions under $cpu"
  else
    echo "FAIL: block_predict decisions differ under $cpu" >&2; failed=$((failed + 1))
  fi
  # --once: one kiln_invoke per path (this emulator runs the AVX code slowly;
  # the thread-count runs agreeing is checked natively).
  if out="$(scripts/check_golden.sh "$BUILD" --once --runner-prefix "$QEMU -cpu $cpu" 2>&1)"; then
    echo "ok: golden outputs under $cpu: $(grep '^golden: [0-9]* cases' <<<"$out")"
  else
    echo "$out"
    echo "FAIL: golden outputs under $cpu" >&2; failed=$((failed + 1))
  fi
}
check qemu64 scalar 'avx2|avxvnni|avx512vnni|amx'
check Haswell avx2 'avxvnni|avx512vnni|amx'
if ((failed > 0)); then echo "x86 fallback: $failed failure(s)" >&2; exit 1; fi
echo "x86 fallback: OK (qemu64 -> scalar, Haswell -> avx2, same bytes as native)"
