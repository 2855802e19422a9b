#!/usr/bin/env bash
# Usage: scripts/fuzz_target.sh TARGET SECONDS [BUILD_DIR]   (default build/clang)
#
# Runs one libFuzzer target (built by the `clang` preset) for SECONDS on a
# temporary copy of its seed corpus fuzz/corpus/TARGET plus its past crashes
# fuzz/regressions/TARGET (the committed seeds stay as they are), with
# fuzz/TARGET.dict when present. Crash inputs go to
# BUILD_DIR/fuzz-artifacts/TARGET/. Prints libFuzzer's final statistics and
# one line "fuzz-result TARGET ok|FAIL executions exec_per_s seconds";
# exits non-zero if the target crashed, hung (one input > 25 s), ran out of
# memory (4 GiB) or did not stop.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
TARGET="${1:?usage: fuzz_target.sh TARGET SECONDS [BUILD_DIR]}"
SECONDS_TO_RUN="${2:?usage: fuzz_target.sh TARGET SECONDS [BUILD_DIR]}"
BUILD="${3:-build/clang}"

bin="$(find "$BUILD" -type f -name "$TARGET" -perm -u+x -print -quit)"
if [[ -z "$bin" ]]; then
  echo "FAIL $TARGET: executable not found under $BUILD" >&2
  echo "fuzz-result $TARGET FAIL 0 0 0"
  exit 1
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/kiln-fuzz-$TARGET.XXXXXX")"
trap 'rm -rf "$work"' EXIT
corpus="$work/corpus"
mkdir -p "$corpus"
if [[ -d "fuzz/corpus/$TARGET" ]]; then
  cp -R "fuzz/corpus/$TARGET/." "$corpus/"
  echo "seed corpus: fuzz/corpus/$TARGET ($(find "$corpus" -type f | wc -l) files)"
else
  echo "no seed corpus at fuzz/corpus/$TARGET: starting empty"
fi
# Past crashes (fuzz/regressions/README.md) seed the run as well.
if [[ -d "fuzz/regressions/$TARGET" ]]; then
  find "fuzz/regressions/$TARGET" -type f ! -name 'README*' -exec cp {} "$corpus/" \;
fi
extra=()
if [[ -f "fuzz/$TARGET.dict" ]]; then extra+=("-dict=$ROOT/fuzz/$TARGET.dict"); fi
art="$ROOT/$BUILD/fuzz-artifacts/$TARGET"
mkdir -p "$art"
log="$work/fuzz.log"
# No abort_on_error: libFuzzer catches the sanitizer's exit itself and
# writes the crashing input (abort would make it report every crash twice).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
rc=0
# -timeout: one input taking longer is a hang (a failure). The outer timeout
# only guards against libFuzzer itself not stopping.
printf '+ %s\n' "$bin -max_total_time=$SECONDS_TO_RUN -timeout=25 -rss_limit_mb=4096 ${extra[*]} $corpus"
t0=$SECONDS
timeout --kill-after=30 "$((SECONDS_TO_RUN * 2 + 120))" \
  "$bin" -max_total_time="$SECONDS_TO_RUN" -timeout=25 -rss_limit_mb=4096 \
  -print_final_stats=1 -artifact_prefix="$art/" "${extra[@]}" "$corpus" \
  >"$log" 2>&1 </dev/null || rc=$?
elapsed=$((SECONDS - t0))
execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)"
if ((rc == 0)); then
  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || tail -n 5 "$log"
  echo "fuzz-result $TARGET ok ${execs:-0} ${rate:-0} $elapsed"
  exit 0
fi
tail -n 120 "$log"
echo "FAIL $TARGET (exit $rc); crash inputs, if any, are in $art:" >&2
ls -l "$art" >&2 || true
echo "fuzz-result $TARGET FAIL ${execs:-0} ${rate:-0} $elapsed"
exit 1
