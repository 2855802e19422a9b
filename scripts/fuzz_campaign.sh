#!/usr/bin/env bash
# Usage: scripts/fuzz_campaign.sh [SECONDS_PER_TARGET] [JOBS]   (default 180, 2)
#
# A long fuzzing run, beyond CI's 30 s per target: builds every kiln_fuzz_*
# target with the `clang` preset (ASan + UBSan) and runs each for
# SECONDS_PER_TARGET (scripts/fuzz_target.sh), JOBS targets at a time, then
# prints executions per target and in total. Exits non-zero if any target
# failed; crash inputs are in build/clang/fuzz-artifacts/<target>/ (turn
# each into a regression: fuzz/regressions/README.md). Logs are kept in
# build/clang/fuzz-campaign/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PER_TARGET="${1:-180}"
JOBS="${2:-2}"
LOGS=build/clang/fuzz-campaign

cmake --preset clang >/dev/null
mapfile -t targets < <(ninja -C build/clang -t targets all |
  sed -n 's/^\(kiln_fuzz_[A-Za-z0-9_]*\): phony$/\1/p' | grep -v '_replay$' | sort -u)
((${#targets[@]} > 0)) || { echo "no kiln_fuzz_* targets in the clang preset" >&2; exit 1; }
cmake --build --preset clang --parallel "$JOBS" --target "${targets[@]}"
mkdir -p "$LOGS"
echo "fuzz campaign: ${#targets[@]} targets x ${PER_TARGET}s, $JOBS at a time ($(date -u +%FT%TZ))"
printf '%s\n' "${targets[@]}" |
  xargs -P "$JOBS" -I{} sh -c \
    'scripts/fuzz_target.sh "$1" "$2" build/clang >"$3/$1.log" 2>&1; echo "done $1 (exit $?)"' \
    sh {} "$PER_TARGET" "$LOGS"
failed=0
echo
printf '  %-26s %-4s %12s %9s %6s\n' target result executions exec/s secs
for t in "${targets[@]}"; do
  line="$(grep '^fuzz-result ' "$LOGS/$t.log" | tail -n1 || true)"
  if [[ -z "$line" ]]; then line="fuzz-result $t FAIL 0 0 0"; fi
  read -r _ name result execs rate secs <<<"$line"
  printf '  %-26s %-4s %12d %9d %6d\n' "$name" "$result" "$execs" "$rate" "$secs"
  [[ "$result" == ok ]] || failed=$((failed + 1))
done
awk '$1 == "fuzz-result" { total += $4 } END { printf "  total executions: %d\n", total }' "$LOGS"/*.log
if ((failed > 0)); then
  echo "fuzz campaign: $failed target(s) failed; logs in $LOGS" >&2
  exit 1
fi
echo "fuzz campaign: no crashes, hangs or leaks ($(date -u +%FT%TZ))"
