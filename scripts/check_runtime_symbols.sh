#!/usr/bin/env bash
# Usage: scripts/check_runtime_symbols.sh [path/to/libkiln.a]
#
# libkiln.a ships inside codecs and on devices: it may depend on libc/libm
# only. This lists every symbol the library needs from outside itself
# (undefined in some member and defined in none) and fails on any that is
# not in the allowlist below, in particular anything from the C++ runtime:
# operator new/delete, __cxa_*, the personality routine, libstdc++ (std::),
# the unwinder, typeinfo. It also prints the library's size and the text
# size of every object file, for the record.
set -euo pipefail

LIB="${1:-build/release/runtime/libkiln.a}"
NM="${NM:-nm}"
SIZE="${SIZE:-size}"

# The libc/libm symbols libkiln.a may use, one per line. Add a symbol only
# if it exists in every libc the runtime targets (glibc, musl, newlib).
ALLOWLIST="$(cat <<'ALLOW'
# --- memory and strings (the compiler also emits these for struct copies) ---
memcpy
memmove
memset
memcmp
memchr
strlen
strnlen
strcmp
strncmp
# --- formatting of error messages ---
snprintf
vsnprintf
# --- libm: requantization and float kernels (float and double forms) ---
frexp
frexpf
ldexp
ldexpf
llround
llroundf
lround
lroundf
round
roundf
floor
floorf
ceil
ceilf
exp
expf
log
logf
sqrt
sqrtf
tanh
tanhf
fabs
fabsf
fmax
fmaxf
fmin
fminf
# --- isfinite/isnan/isinf helpers (when not expanded as builtins) ---
__isinf
__isinff
__isnan
__isnanf
__finite
__finitef
__fpclassify
__fpclassifyf
# --- kernel path selection (kernels/isa.cc, runtime/src/prepack.cc): the
#     KILN_ISA override, the AMX permission request (Linux arch_prctl through
#     syscall) and AArch64 hardware capabilities ---
getenv
syscall
getauxval
# --- compiler/libc support ---
__stack_chk_fail
__stack_chk_guard
__assert_fail
abort
# --- glibc _FORTIFY_SOURCE variants of the above (distros that default to it) ---
__memcpy_chk
__memmove_chk
__memset_chk
__snprintf_chk
__vsnprintf_chk
__chk_fail
# --- defined by the linker, not by a library ---
_GLOBAL_OFFSET_TABLE_
ALLOW
)"

die() { printf 'check_runtime_symbols: %s\n' "$*" >&2; exit 2; }

[[ -f "$LIB" ]] || die "no such file: $LIB (build the release preset first)"
command -v "$NM" >/dev/null 2>&1 || die "$NM not found (binutils)"

nm_flags=(-P)
case "$LIB" in
  *.so | *.so.*) nm_flags+=(-D) ;;
esac

case "$LIB" in
  *.a)
    [[ -n "$(ar t "$LIB" 2>/dev/null)" ]] || die "$LIB has no object files" ;;
esac

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# POSIX format with -A: "<lib>[<member>]: <symbol> <type> ..." (archives) or
# "<file>: <symbol> <type> ..." (a single object).
"$NM" -A "${nm_flags[@]}" --defined-only "$LIB" 2>/dev/null |
  awk '{print $2}' | sort -u >"$tmp/defined" || true
"$NM" -A "${nm_flags[@]}" -u "$LIB" >"$tmp/undef_raw" 2>"$tmp/nm_err" || {
  cat "$tmp/nm_err" >&2
  die "$NM failed on $LIB"
}
# symbol <TAB> member
awk '{
  m = $1; sub(/:$/, "", m)
  if (match(m, /\[[^]]*\]$/)) m = substr(m, RSTART + 1, RLENGTH - 2)
  print $2 "\t" m
}' "$tmp/undef_raw" | sort -u >"$tmp/undef_by_member"
cut -f1 "$tmp/undef_by_member" | sort -u >"$tmp/undef_all"
# Needed from outside: undefined somewhere, defined in no member.
comm -23 "$tmp/undef_all" "$tmp/defined" >"$tmp/external"
sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' <<<"$ALLOWLIST" | sort -u >"$tmp/allow"

demangle() { if command -v c++filt >/dev/null 2>&1; then c++filt "$1"; else printf '%s\n' "$1"; fi; }
members_of() { awk -F'\t' -v s="$1" '$1 == s {print $2}' "$tmp/undef_by_member" | paste -sd, -; }

# Why a symbol is C++ runtime, or empty if it is not.
cxx_reason() {
  case "$1" in
    _Znw* | _Zna*) echo "operator new" ;;
    _Zdl* | _Zda*) echo "operator delete" ;;
    __cxa_*) echo "C++ ABI runtime (__cxa_*)" ;;
    __gxx_personality_* | __gcc_personality_*) echo "exception personality routine" ;;
    _Unwind_*) echo "unwinder" ;;
    _ZSt* | _ZNSt* | _ZNKSt* | _ZTISt* | _ZTSSt* | _ZTVSt*) echo "libstdc++ (std::)" ;;
    _ZTI* | _ZTS*) echo "typeinfo (RTTI)" ;;
    _ZTV*) echo "vtable from another library" ;;
    _ZGV* | __dso_handle) echo "static-initialization runtime" ;;
    __tls_get_addr) echo "thread-local storage" ;;
    _Z*) echo "C++ symbol not defined in the library" ;;
    *) echo "" ;;
  esac
}

lib_bytes="$(wc -c <"$LIB" | tr -d ' ')"
echo "== $LIB: $lib_bytes bytes"
if command -v "$SIZE" >/dev/null 2>&1; then
  echo "== per-object sizes (bytes):"
  # Berkeley format: text data bss dec hex filename; -t adds a total line.
  "$SIZE" -t "$LIB" 2>/dev/null | awk '
    NR == 1 { printf "  %10s %8s %8s  %s\n", "text", "data", "bss", "object"; next }
    { name = $6; for (i = 7; i <= NF; i++) name = name " " $i; sub(/ \(ex .*\)$/, "", name)
      printf "  %10s %8s %8s  %s\n", $1, $2, $3, name }' || true
fi

n_ext="$(wc -l <"$tmp/external" | tr -d ' ')"
echo "== $n_ext external symbol(s) needed:"
bad=0
while IFS= read -r sym; do
  [[ -n "$sym" ]] || continue
  reason="$(cxx_reason "$sym")"
  if [[ -z "$reason" ]] && grep -qxF -- "$sym" "$tmp/allow"; then
    printf '  ok    %s\n' "$sym"
    continue
  fi
  [[ -n "$reason" ]] || reason="not in the libc/libm allowlist"
  printf '  FAIL  %s  [%s] (%s) used by: %s\n' "$sym" "$(demangle "$sym")" "$reason" "$(members_of "$sym")"
  bad=$((bad + 1))
done <"$tmp/external"

if ((bad > 0)); then
  echo "check_runtime_symbols: FAILED: $bad forbidden symbol(s) in $LIB" >&2
  echo "  libkiln.a may depend on libc/libm only (no new/delete, exceptions, RTTI, std::)." >&2
  echo "  A real libc/libm function may be added to the allowlist in $0." >&2
  exit 1
fi
echo "check_runtime_symbols: OK: $LIB needs only allowlisted libc/libm symbols"
