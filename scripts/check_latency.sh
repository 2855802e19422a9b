#!/usr/bin/env bash
# Usage: scripts/check_latency.sh [--build DIR] [--write-baseline]
#                                 [--expect-fail KIND:FACTOR] [-- GATE_ARGS...]
#
# The latency regression gate (docs/reliability.md): runs
# DIR/bench/kiln_latency_gate (default DIR: build/release) against the
# committed baseline bench/latency_baseline.txt.
#
#   (no option)           check: exit 0 when every workload is within the
#                         tolerance of its baseline, or when this CPU's kernel
#                         path has no baseline (the gate says SKIP); 1 on a
#                         regression
#   --write-baseline      measure (3 passes, the lowest score) and rewrite this path's
#                         entries of the baseline atomically; run it on an
#                         idle machine, then check a few times and commit
#   --expect-fail SPEC    the gate's own test: make the kernels SPEC slower
#                         (e.g. all:1.3, see --slow-kernel in
#                         bench/latency_gate.cc) and succeed only if the gate
#                         then FAILS
#
# GATE_ARGS go to the gate as they are (--tolerance, --seconds, ...).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build/release"
MODE="check"
SPEC=""
gate_args=()

die() { printf 'check_latency: %s\n' "$*" >&2; exit 2; }

while (($# > 0)); do
  case "$1" in
    --build) BUILD="${2:?--build needs a directory}"; shift 2 ;;
    --write-baseline) MODE="write"; shift ;;
    --expect-fail) MODE="expect-fail"; SPEC="${2:?--expect-fail needs KIND:FACTOR}"; shift 2 ;;
    --) shift; gate_args+=("$@"); break ;;
    -h | --help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (gate arguments go after --)" ;;
  esac
done

GATE="$BUILD/bench/kiln_latency_gate"
[[ -x "$GATE" ]] || die "missing $GATE: build the release preset first"
BASELINE="$ROOT/bench/latency_baseline.txt"
args=(--source-dir "$ROOT" --baseline "$BASELINE" "${gate_args[@]}")

case "$MODE" in
  check)
    exec "$GATE" "${args[@]}" ;;
  write)
    exec "$GATE" --write-baseline "${args[@]}" ;;
  expect-fail)
    log="$(mktemp "${TMPDIR:-/tmp}/kiln-latency.XXXXXX")"
    trap 'rm -f "$log"' EXIT
    rc=0
    "$GATE" --slow-kernel "$SPEC" "${args[@]}" | tee "$log" || rc=$?  # pipefail: the gate's status
    if grep -q '^latency_gate: SKIP' "$log"; then
      echo "check_latency: no baseline for this kernel path: the slowed-kernel test is skipped"
      exit 0
    fi
    case "$rc" in
      1) echo "check_latency: OK: the gate caught the $SPEC slowdown" ;;
      0) echo "check_latency: FAIL: the gate passed with kernels made $SPEC slower" >&2
         exit 1 ;;
      *) echo "check_latency: FAIL: the gate exited $rc with --slow-kernel $SPEC" >&2
         exit 1 ;;
    esac ;;
esac
