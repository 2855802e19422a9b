#!/usr/bin/env bash
# The AArch64 kernel paths, cross-built on an x86 Debian 12 machine and run
# under user-mode QEMU with several CPU models:
#
#   scripts/test_arm.sh
#
# 1. Configures and builds the cross build (cmake/aarch64-linux-gnu.cmake:
#    g++-aarch64-linux-gnu, GoogleTest built from /usr/src/googletest):
#    libkiln.a, kiln_kernel_tests, kiln_c_api_test, block_predict and
#    golden_run.
# 2. Checks that libkiln.a holds AArch64 code and needs only libc/libm
#    (scripts/check_runtime_symbols.sh with the cross nm).
# 3. For every CPU model, runs the kernel tests and the C API test (the
#    committed blocknet and mlp160 models end to end) under qemu-aarch64.
#    The kernel tests print which ISA paths the CPU reports as runnable and
#    which paths were exercised ("[kiln-isa]" lines, tests/kernels/neon_paths_test.cc);
#    the script fails if a model without the dot-product extension
#    (cortex-a53, Armv8.0) reports or runs the neondot path, or if a model
#    with it (max) did not exercise it. The C API test runs with the path
#    the runtime picks (must be the best runnable one) and forced onto every
#    runnable path (KILN_ISA); every run must print the same result line,
#    since every path is bit-exact. Without the dot product, KILN_ISA=neondot
#    must be refused. The golden outputs (scripts/check_golden.sh with the
#    qemu runner prefix) must match the committed hashes on every path.
#
# Environment (all optional):
#   KILN_ARM_BUILD_DIR  build directory (default: build/arm)
#   KILN_ARM_CPUS       CPU models with their expectation, "model:dot" or
#                       "model:nodot" (default: "cortex-a53:nodot max:dot")
#   KILN_JOBS           build parallelism (default: nproc)
#   KILN_ARM_CMAKE_ARGS extra configure arguments (word-split)
#   KILN_ARM_GTEST_FILTER  gtest filter for the kernel tests (default: all)
#   KILN_TEST_QUICK     1: a quarter of the random cases in the NEON tests
#                       (default 0: the full count takes a few seconds per
#                       CPU model)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
BUILD="${KILN_ARM_BUILD_DIR:-build/arm}"
CPUS=(${KILN_ARM_CPUS:-cortex-a53:nodot max:dot})
JOBS="${KILN_JOBS:-$(nproc 2>/dev/null || echo 2)}"
export KILN_TEST_QUICK="${KILN_TEST_QUICK:-0}"
GTEST_FILTER="${KILN_ARM_GTEST_FILTER:-*}"
SYSROOT=/usr/aarch64-linux-gnu
QEMU=qemu-aarch64-static
# Committed models the C API test accepts: blocknet (depthwise + pointwise
# convolutions, pooling, several heads) and mlp160 (batch-1 GEMV shapes).
MODELS=(blocknet mlp160)
LOGS="$BUILD/logs"

run() {
  printf '+ %s\n' "$*" >&2
  "$@"
}
die() {
  printf 'test_arm: ERROR: %s\n' "$*" >&2
  exit 1
}

for tool in aarch64-linux-gnu-g++ aarch64-linux-gnu-gcc aarch64-linux-gnu-nm "$QEMU" cmake ninja; do
  command -v "$tool" >/dev/null 2>&1 ||
    die "$tool not found (scripts/setup.sh installs g++-aarch64-linux-gnu and qemu-user-static)"
done
[[ -f /usr/src/googletest/CMakeLists.txt ]] ||
  die "/usr/src/googletest missing (package googletest, pulled in by libgtest-dev)"
[[ -d "$SYSROOT/lib" ]] || die "no AArch64 sysroot at $SYSROOT"

t_start=$SECONDS
echo "==> configure + build ($BUILD)"
run cmake -S "$ROOT" -B "$BUILD" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release \
  -DKILN_BUILD_TOOLCHAIN=OFF -DKILN_WITH_TORCH=OFF -DKILN_BUILD_BENCH=OFF \
  -DKILN_WERROR=ON ${KILN_ARM_CMAKE_ARGS:-}
run cmake --build "$BUILD" --parallel "$JOBS" \
  --target kiln_runtime kiln_kernel_tests kiln_c_api_test block_predict \
  golden_run -- -k 0
mkdir -p "$LOGS"
echo "build: $((SECONDS - t_start))s"

failures=()
passed=0

echo
echo "==> libkiln.a: AArch64 objects, libc/libm only"
LIB="$BUILD/runtime/libkiln.a"
machines="$(aarch64-linux-gnu-readelf -h "$LIB" | sed -n 's/^ *Machine: *//p' | sort -u)"
echo "machine: $machines"
if [[ "$machines" != "AArch64" ]]; then
  failures+=("libkiln.a is not (only) AArch64: $machines")
else
  passed=$((passed + 1))
fi
if NM=aarch64-linux-gnu-nm SIZE=aarch64-linux-gnu-size \
  "$ROOT/scripts/check_runtime_symbols.sh" "$LIB" >"$LOGS/symbols.log" 2>&1; then
  echo "ok: runtime symbols (log: $LOGS/symbols.log)"
  passed=$((passed + 1))
else
  tail -n 30 "$LOGS/symbols.log"
  failures+=("check_runtime_symbols.sh on the AArch64 libkiln.a")
fi

# Runs an AArch64 executable under QEMU with the given CPU model.
qemu_run() {
  local cpu="$1"
  shift
  "$QEMU" -cpu "$cpu" -L "$SYSROOT" "$@"
}

declare -A summary=()
declare -A c_api_reference=()
for entry in "${CPUS[@]}"; do
  cpu="${entry%%:*}"
  expect="${entry#*:}"
  [[ "$expect" == dot || "$expect" == nodot ]] ||
    die "KILN_ARM_CPUS entry '$entry': expected model:dot or model:nodot"
  echo
  echo "==> QEMU_CPU=$cpu (dot product expected: $([[ $expect == dot ]] && echo yes || echo no))"

  # Kernel tests (every suite; the per-ISA ones cover every runnable path).
  # gtest's own output is kept short (--gtest_brief: failures only); the
  # NEON tests' "[kiln-isa]" lines say which paths ran.
  log="$LOGS/kernel_tests-$cpu.log"
  t0=$SECONDS
  rc=0
  printf '+ %s\n' "$QEMU -cpu $cpu -L $SYSROOT $BUILD/tests/kiln_kernel_tests --gtest_brief=1 --gtest_filter='$GTEST_FILTER' > $log" >&2
  qemu_run "$cpu" "$BUILD/tests/kiln_kernel_tests" --gtest_brief=1 \
    --gtest_filter="$GTEST_FILTER" >"$log" 2>&1 || rc=$?
  secs=$((SECONDS - t0))
  result="$(grep -E '^\[  (PASSED|FAILED) +\] [0-9]+ tests?' "$log" | tr '\n' ' ' || true)"
  if ((rc == 0)); then
    echo "ok: kernel tests in ${secs}s: $result"
    passed=$((passed + 1))
  else
    tail -n 60 "$log"
    failures+=("kiln_kernel_tests under $cpu (exit $rc; log: $log)")
  fi

  # Which paths the CPU reports and which the tests exercised.
  runnable="$(sed -n 's/^\[kiln-isa\] runnable: //p' "$log" | head -n1)"
  best="$(sed -n 's/^\[kiln-isa\] best: //p' "$log" | head -n1)"
  exercised="$(sed -n 's/^\[kiln-isa\] exercised \([a-z0-9]*\):.*/\1/p' "$log" | sort -u | tr '\n' ' ')"
  exercised="${exercised% }"
  echo "runnable paths: ${runnable:-?}; best: ${best:-?}; exercised by the NEON tests: ${exercised:-none}"
  path_ok=1
  if [[ -z "$runnable" ]]; then
    failures+=("$cpu: the kernel tests did not report the runnable paths")
    path_ok=0
  fi
  if [[ " $exercised " != *" neon "* ]]; then
    failures+=("$cpu: the neon path was not exercised")
    path_ok=0
  fi
  if [[ "$expect" == dot ]]; then
    if [[ " $runnable " != *" neondot "* || " $exercised " != *" neondot "* ]]; then
      failures+=("$cpu has the dot product, but the neondot path was not detected/exercised")
      path_ok=0
    fi
  else
    if [[ " $runnable " == *" neondot "* || " $exercised " == *" neondot "* ]]; then
      failures+=("$cpu has no dot product, but the neondot path was detected/run")
      path_ok=0
    fi
  fi
  if ((path_ok)); then passed=$((passed + 1)); fi

  # The C API on the committed model, end to end: once with the path the
  # runtime picks, then forced (KILN_ISA) onto every runnable path. Every
  # run must print the same result line (all paths are bit-exact).
  api_paths=""
  for forced in "" $runnable; do
    tag="${forced:-default}"
    for model in "${MODELS[@]}"; do
      clog="$LOGS/c_api-$cpu-$tag-$model.log"
      mfile="$ROOT/fuzz/corpus/kiln_fuzz_model/$model.kiln"
      rc=0
      printf '+ %s\n' "KILN_ISA=$forced $QEMU -cpu $cpu -L $SYSROOT $BUILD/tests/kiln_c_api_test $mfile" >&2
      KILN_ISA="$forced" qemu_run "$cpu" "$BUILD/tests/kiln_c_api_test" "$mfile" >"$clog" 2>&1 || rc=$?
      result_line="$(grep -m1 '^ok:' "$clog" || true)"
      path="$(sed -n 's/^path: \([a-z0-9]*\);.*/\1/p' "$clog" | head -n1)"
      if ((rc != 0)) || [[ -z "$result_line" ]]; then
        cat "$clog"
        failures+=("kiln_c_api_test $model under $cpu, KILN_ISA=$tag (exit $rc; log: $clog)")
        continue
      fi
      echo "ok: C API $model ($tag): path ${path:-?}: ${result_line#ok: }"
      if [[ -n "$forced" && "$path" != "$forced" ]]; then
        failures+=("$cpu: KILN_ISA=$forced but the runtime ran path '$path'")
        continue
      fi
      if [[ -z "$forced" && -n "$best" && "$path" != "$best" ]]; then
        failures+=("$cpu: the runtime picked '$path', the best runnable path is '$best'")
        continue
      fi
      if [[ -z "${c_api_reference[$model]:-}" ]]; then
        c_api_reference[$model]="$result_line"
      elif [[ "$result_line" != "${c_api_reference[$model]}" ]]; then
        failures+=("$cpu, KILN_ISA=$tag: $model result '$result_line' differs from '${c_api_reference[$model]}'")
        continue
      fi
      passed=$((passed + 1))
    done
    api_paths+="$tag->${path:-?} "
  done
  if [[ "$expect" == nodot ]]; then
    # The runtime must refuse the dot-product path here, not run it (which
    # would die with SIGILL).
    clog="$LOGS/c_api-$cpu-neondot-refused.log"
    rc=0
    KILN_ISA=neondot qemu_run "$cpu" "$BUILD/tests/kiln_c_api_test" \
      "$ROOT/fuzz/corpus/kiln_fuzz_model/${MODELS[0]}.kiln" >"$clog" 2>&1 || rc=$?
    if ((rc != 0 && rc < 128)) && grep -q 'neondot' "$clog"; then
      echo "ok: KILN_ISA=neondot refused: $(grep -m1 -i 'neondot' "$clog")"
      passed=$((passed + 1))
    else
      cat "$clog"
      failures+=("$cpu: KILN_ISA=neondot was not refused cleanly (exit $rc)")
    fi
  fi
  # The codec's example (plain C): block features computed on this CPU,
  # decisions on every runnable path, identical to the committed output
  # (made on x86-64).
  for forced in "" $runnable; do
    tag="${forced:-default}"
    blog="$LOGS/block_predict-$cpu-$tag.log"
    rc=0
    KILN_ISA="$forced" qemu_run "$cpu" "$BUILD/tests/block_predict" \
      "$ROOT/examples/block_predict/block_model.kiln" \
      "$ROOT/examples/block_predict/coffee_crop.ppm" --print 40 >"$blog" 2>&1 || rc=$?
    if ((rc == 0)) && grep -v '^[0-9]* blocks (' "$blog" |
      cmp -s - "$ROOT/examples/block_predict/expected_decisions.txt"; then
      echo "ok: block_predict ($tag): $(grep -m1 ' blocks (' "$blog")"
      passed=$((passed + 1))
    else
      cat "$blog"
      failures+=("block_predict under $cpu, KILN_ISA=$tag: exit $rc or decisions differ from examples/block_predict/expected_decisions.txt")
    fi
  done
  # Golden outputs (tests/golden): the committed hashes, made on x86-64,
  # reproduced byte for byte on the default and every runnable path.
  glog="$LOGS/golden-$cpu.log"
  rc=0
  t0=$SECONDS
  printf '+ %s\n' "scripts/check_golden.sh $BUILD --runner-prefix '$QEMU -cpu $cpu -L $SYSROOT' > $glog" >&2
  "$ROOT/scripts/check_golden.sh" "$BUILD" \
    --runner-prefix "$QEMU -cpu $cpu -L $SYSROOT" >"$glog" 2>&1 || rc=$?
  if ((rc == 0)); then
    echo "ok: golden outputs in $((SECONDS - t0))s: $(tail -n1 "$glog")"
    passed=$((passed + 1))
  else
    cat "$glog"
    failures+=("golden outputs under $cpu (exit $rc; log: $glog)")
  fi
  summary[$cpu]="runnable: ${runnable:-?} | kernel tests exercised: ${exercised:-none} (${secs}s) | C API ran: ${api_paths% }"
done

echo
echo "============================ kiln arm summary ============================"
for entry in "${CPUS[@]}"; do
  cpu="${entry%%:*}"
  printf '  %-12s %s\n' "$cpu" "${summary[$cpu]:-not run}"
done
echo "  total time: $((SECONDS - t_start))s"
echo "arm summary: $passed passed, ${#failures[@]} failed"
if ((${#failures[@]} > 0)); then
  printf 'FAIL: %s\n' "${failures[@]}" >&2
  exit 1
fi
echo "ARM CHECKS PASSED"
