#!/usr/bin/env bash
# Usage: scripts/check_leaks.sh [BUILD_DIR]   (default build/release)
#
# The toolchain must not leak on a real end-to-end run, LibTorch training
# included. The ASan step covers the tests, but its build has no LibTorch,
# so this runs the release `kiln` under LeakSanitizer's stand-alone runtime
# (gcc's liblsan, preloaded: it replaces malloc/free and checks at exit, no
# rebuild needed):
#   1. a deliberately leaking program, which must be reported (proves the
#      detector is live, so a pass below means something);
#   2. `kiln build toolchain/params/digits_cnn.json` (load, train, calibrate,
#      quantize, compile, evaluate through the runtime);
#   3. `kiln demo` (the block network end to end) and `kiln blocklab
#      encode`, `decode` and re-encode of a bundled test image.
# Any leak fails the script with LeakSanitizer's report.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD="${1:-build/release}"
KILN="$BUILD/toolchain/kiln"
LSAN="$(gcc -print-file-name=liblsan.so)"
LEAK_EXIT=23

[[ -x "$KILN" ]] || { echo "missing $KILN: build the release preset first" >&2; exit 1; }
[[ -f "$LSAN" ]] || { echo "no liblsan.so from gcc ($LSAN): install gcc's sanitizer runtime" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/kiln-leaks.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# Runs the command under LeakSanitizer; echoes the verdict.
under_lsan() {
  LD_PRELOAD="$LSAN" LSAN_OPTIONS="exitcode=$LEAK_EXIT:print_suppressions=0" "$@"
}

echo "== the detector is live: a program that leaks 100 bytes"
printf '%s\n' '#include <stdlib.h>' \
  'void* volatile sink;' \
  'int main(void) { sink = malloc(100); sink = 0; return 0; }' >"$WORK/leak.c"
gcc -O0 "$WORK/leak.c" -o "$WORK/leak"
rc=0
under_lsan "$WORK/leak" 2>"$WORK/leak.log" || rc=$?
if ((rc != LEAK_EXIT)) || ! grep -q 'detected memory leaks' "$WORK/leak.log"; then
  echo "FAIL: LeakSanitizer did not report a known leak (exit $rc)" >&2
  exit 1
fi
echo "ok: reported (exit $rc)"

failed=0
check() {
  local name="$1" rc=0
  shift
  echo "== $name"
  printf '+ %s\n' "$*"
  under_lsan "$@" >"$WORK/$name.log" 2>&1 || rc=$?
  if ((rc == 0)); then
    echo "ok: no leaks"
  else
    tail -n 60 "$WORK/$name.log"
    if ((rc == LEAK_EXIT)); then echo "FAIL: $name leaks" >&2; else echo "FAIL: $name exited $rc" >&2; fi
    failed=$((failed + 1))
  fi
}

check build "$KILN" build toolchain/params/digits_cnn.json --out "$WORK/digits" --quiet
check demo "$KILN" demo --out "$WORK/demo" --blocks 256 --repeats 1
image=examples/block_predict/coffee_crop.ppm
check encode "$KILN" blocklab encode "$image" --out "$WORK/crop.kbl"
check decode "$KILN" blocklab decode "$WORK/crop.kbl" --out "$WORK/crop.png"
# Lossless: the decoded image encodes to the very same stream.
check reencode "$KILN" blocklab encode "$WORK/crop.png" --out "$WORK/crop2.kbl"
if ! cmp -s "$WORK/crop.kbl" "$WORK/crop2.kbl"; then
  echo "FAIL: blocklab decode -> encode does not give the same stream" >&2
  failed=$((failed + 1))
fi

if ((failed > 0)); then
  echo "leak check: $failed failure(s)" >&2
  exit 1
fi
echo "leak check: OK (kiln build, demo, blocklab encode/decode: no leaks)"
