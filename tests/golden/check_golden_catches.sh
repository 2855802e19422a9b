#!/usr/bin/env bash
# The golden gate demonstrably fails (ctest golden.catches_changed_output):
#
#   tests/golden/check_golden_catches.sh BUILD_DIR
#
# On a temporary copy of tests/golden (the committed files are never
# touched):
#   1. the untouched copy passes (so the failures below come from the change);
#   2. CASE's model with one weight byte changed (golden_flip_weight: found
#      through the FlatBuffers API, the model stays valid) must fail with a
#      MISMATCH of the outputs on every path, naming the case;
#   3. the manifest with one hex digit of CASE's decisions hash changed must
#      fail naming the case and the decisions, with the model untouched.
# A failure for any other reason (exit 2: usage/setup, or the runner
# rejecting the model) does not count as caught.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$PWD"
BUILD="${1:?usage: tests/golden/check_golden_catches.sh BUILD_DIR}"
CASE="${GOLDEN_CATCH_CASE:-mlp160}"
FLIP="$BUILD/tests/golden_flip_weight"
[[ -x "$FLIP" ]] || { echo "missing $FLIP: build the target golden_flip_weight" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/kiln-golden-catch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
failed=0
bad() {
  echo "FAIL: $*" >&2
  failed=1
}

# Runs the checker on a golden dir; sets rc and log.
check() {
  local dir="$1" name="$2"
  log="$WORK/$name.log"
  rc=0
  "$ROOT/scripts/check_golden.sh" "$BUILD" --dir "$dir" >"$log" 2>&1 || rc=$?
}

copy_golden() {
  local dir="$WORK/$1"
  mkdir -p "$dir"
  cp -R "$ROOT/tests/golden/." "$dir/"
  echo "$dir"
}

model="$(awk -v c="$CASE" '$1 == c { print $2 }' "$ROOT/tests/golden/golden.txt")"
[[ -n "$model" ]] || { echo "case '$CASE' is not in tests/golden/golden.txt" >&2; exit 2; }

echo "== 1. the untouched copy passes"
dir="$(copy_golden untouched)"
check "$dir" untouched
if ((rc != 0)); then
  cat "$log"
  bad "the untouched golden copy does not pass (exit $rc)"
fi

echo "== 2. one weight byte of $CASE ($model) changed"
dir="$(copy_golden weight)"
"$FLIP" "$ROOT/tests/golden/$model" "$dir/$model"
cmp -s "$ROOT/tests/golden/$model" "$dir/$model" && bad "golden_flip_weight changed nothing"
check "$dir" weight
cat "$log"
if ((rc != 1)); then
  bad "changed weight: expected exit 1 (mismatch), got $rc"
fi
# Every path must catch it, not just one: count the FAIL lines for the case.
paths=$(grep -c "^$CASE " "$log" || true)
caught=$(grep -c "^FAIL: case $CASE, path .*: outputs SHA-256" "$log" || true)
if ((paths == 0 || caught != paths)); then
  bad "changed weight: $caught of $paths paths reported an outputs mismatch for $CASE"
fi
if grep -E '^FAIL: case ' "$log" | grep -v "^FAIL: case $CASE," >/dev/null; then
  bad "changed weight: a case other than $CASE failed"
fi

echo "== 3. one hex digit of $CASE's decisions hash changed in the manifest"
dir="$(copy_golden manifest)"
awk -v c="$CASE" '$1 == c {
    d = substr($6, 1, 1); $6 = (d == "0" ? "1" : "0") substr($6, 2)
  } { print }' "$ROOT/tests/golden/golden.txt" >"$dir/golden.txt"
cmp -s "$ROOT/tests/golden/golden.txt" "$dir/golden.txt" && bad "the manifest edit changed nothing"
check "$dir" manifest
grep -E "^FAIL|^check_golden" "$log" || true
if ((rc != 1)); then
  bad "changed hash: expected exit 1 (mismatch), got $rc"
fi
grep -q "^FAIL: case $CASE, path .*: decisions SHA-256" "$log" ||
  bad "changed hash: no FAIL line naming $CASE's decisions"
if grep -q "^FAIL: case $CASE, path .*: outputs SHA-256" "$log"; then
  bad "changed hash: the outputs were reported too (only the decisions hash changed)"
fi

if ((failed)); then
  echo "golden gate: NOT demonstrated (see FAIL lines)" >&2
  exit 1
fi
echo "golden gate: a changed weight and a changed hash are both caught, naming case $CASE"
