#!/usr/bin/env bash
# Usage: scripts/check_runtime_size.sh [LIB] [--budget FILE] [--update]
#                                      [--arch ARCH] [--headroom PCT]
#
# libkiln.a ships inside codecs and on devices, where code size is a cost:
# this sums text + data (binutils `size`) of the library's object files per
# component and compares each sum with the committed budget
# (runtime/size_budget.txt). It fails, naming the component, when one is
# over budget, when a component present in LIB has no budget for LIB's
# architecture, and when an object file belongs to no component (a new file
# must be given a component and a budget).
#
#   LIB        default build/release/runtime/libkiln.a
#   --budget   default runtime/size_budget.txt
#   --update   rewrite LIB's architecture's budgets as the measured sizes
#              plus --headroom percent (default 10), rounded up to 256 bytes;
#              the other architectures' lines and the components stay
#   --arch     x86_64 or aarch64 (default: read from the object files)
#
# Cross libraries: SIZE=aarch64-linux-gnu-size (NM and AR default to the
# same prefix). Exit status: 0 within budget, 1 over budget or unbudgeted,
# 2 usage or tool errors.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LIB=""
BUDGET="$ROOT/runtime/size_budget.txt"
UPDATE=0
ARCH=""
HEADROOM=10

die() { printf 'check_runtime_size: %s\n' "$*" >&2; exit 2; }

while (($# > 0)); do
  case "$1" in
    --budget) BUDGET="${2:?--budget needs a file}"; shift 2 ;;
    --update) UPDATE=1; shift ;;
    --arch) ARCH="${2:?--arch needs a name}"; shift 2 ;;
    --headroom) HEADROOM="${2:?--headroom needs a percentage}"; shift 2 ;;
    -h | --help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) [[ -z "$LIB" ]] || die "more than one library given"; LIB="$1"; shift ;;
  esac
done
LIB="${LIB:-build/release/runtime/libkiln.a}"
[[ "$HEADROOM" =~ ^[0-9]+$ ]] || die "--headroom must be a whole percentage"

SIZE="${SIZE:-size}"
# A cross `size` brings its own nm/ar (aarch64-linux-gnu-size -> ...-nm).
prefix="${SIZE%size}"
NM="${NM:-${prefix}nm}"
AR="${AR:-${prefix}ar}"
command -v "$AR" >/dev/null 2>&1 || AR="ar"
READELF="${READELF:-readelf}"
for tool in "$SIZE" "$NM" "$AR" "$READELF"; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (binutils)"
done
[[ -f "$LIB" ]] || die "no such file: $LIB (build the release preset first)"
[[ -f "$BUDGET" ]] || die "no such budget file: $BUDGET"
LIB="$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/kiln-size.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# --- the budget file: component lines (in order) and budget lines ---------
comp_names=()
comp_patterns=()
declare -A budget=()
line_no=0
while IFS= read -r line || [[ -n "$line" ]]; do
  line_no=$((line_no + 1))
  line="${line%%#*}"
  read -r -a f <<<"$line" || true
  ((${#f[@]} > 0)) || continue
  case "${f[0]}" in
    component)
      ((${#f[@]} >= 3)) || die "$BUDGET:$line_no: component NAME PATTERN..."
      comp_names+=("${f[1]}")
      comp_patterns+=("${f[*]:2}") ;;
    budget)
      if ((${#f[@]} != 4)) || [[ ! "${f[3]}" =~ ^[0-9]+$ ]]; then
        die "$BUDGET:$line_no: budget ARCH COMPONENT BYTES"
      fi
      budget["${f[1]}/${f[2]}"]="${f[3]}" ;;
    *) die "$BUDGET:$line_no: unknown line '${f[0]}'" ;;
  esac
done <"$BUDGET"
((${#comp_names[@]} > 0)) || die "$BUDGET defines no component"

# --- the members -------------------------------------------------------------
# Member names are basenames and repeat (kernels/driver/conv2d.cc and
# kernels/ref/conv2d.cc are both conv2d.cc.o), so the k-th instance of every
# name is extracted (`ar xN k`) into directory k.
mapfile -t members < <("$AR" t "$LIB")
((${#members[@]} > 0)) || die "$LIB has no object files"
declare -A seen=()
objs=()
by_instance=()  # k -> the names that have a k-th instance
for m in "${members[@]}"; do
  k=$((${seen[$m]:-0} + 1))
  seen[$m]=$k
  objs+=("$tmp/$k/$m")
  by_instance[k]+="$m"$'\n'
done
for k in "${!by_instance[@]}"; do
  mkdir "$tmp/$k"
  mapfile -t names <<<"${by_instance[k]%$'\n'}"
  (cd "$tmp/$k" && "$AR" xN "$k" "$LIB" "${names[@]}") || die "cannot extract from $LIB"
done
# text + data per object (Berkeley format: text data bss dec hex filename).
mapfile -t sizes < <("$SIZE" "${objs[@]}" | awk 'NR > 1 { print $1 + $2 }')
((${#sizes[@]} == ${#objs[@]})) || die "$SIZE did not report every object file"
# The reference kernels live in namespace kiln::ref: they are keyed
# ref/<member> so that the budget can tell them from the drivers.
declare -A is_ref=()
while IFS= read -r obj; do is_ref[$obj]=1; done < <(
  "$NM" -A -P --defined-only "${objs[@]}" 2>/dev/null |
    awk '$2 ~ /^_ZN4kiln3ref/ { sub(/:$/, "", $1); print $1 }' | sort -u)
keys=()
for i in "${!members[@]}"; do
  if [[ -n "${is_ref[${objs[$i]}]:-}" ]]; then
    keys+=("ref/${members[$i]}")
  else
    keys+=("${members[$i]}")
  fi
done

if [[ -z "$ARCH" ]]; then
  machine="$("$READELF" -h "${objs[0]}" | sed -n 's/^ *Machine: *//p')"
  case "$machine" in
    *X86-64*) ARCH=x86_64 ;;
    *AArch64*) ARCH=aarch64 ;;
    *) die "unknown architecture '$machine' (pass --arch)" ;;
  esac
fi

# --- members -> components --------------------------------------------------
declare -A comp_bytes=() comp_count=()
unmatched=()
for i in "${!keys[@]}"; do
  key="${keys[$i]}"
  comp=""
  for c in "${!comp_names[@]}"; do
    read -r -a pats <<<"${comp_patterns[$c]}"  # no pathname expansion
    for pat in "${pats[@]}"; do
      # shellcheck disable=SC2053  # $pat is a glob on purpose
      if [[ "$key" == $pat ]]; then comp="${comp_names[$c]}"; break 2; fi
    done
  done
  if [[ -z "$comp" ]]; then
    unmatched+=("$key (${sizes[$i]} bytes)")
    continue
  fi
  comp_bytes[$comp]=$((${comp_bytes[$comp]:-0} + ${sizes[$i]}))
  comp_count[$comp]=$((${comp_count[$comp]:-0} + 1))
done

# Budget for a measured size: plus the headroom, rounded up to 256 bytes.
with_headroom() { echo $((($1 * (100 + HEADROOM) / 100 + 255) / 256 * 256)); }

echo "== $LIB ($ARCH): text + data bytes per component, budget $BUDGET"
printf '  %-12s %7s %9s %9s %6s\n' component objects bytes budget use
total=0
failures=()
for c in "${comp_names[@]}"; do
  [[ -n "${comp_bytes[$c]:-}" ]] || continue
  bytes="${comp_bytes[$c]}"
  total=$((total + bytes))
  b="${budget[$ARCH/$c]:-}"
  if ((UPDATE)); then b="$(with_headroom "$bytes")"; fi
  if [[ -z "$b" ]]; then
    printf '  %-12s %7s %9s %9s %6s  FAIL (no budget)\n' "$c" "${comp_count[$c]}" "$bytes" - -
    failures+=("component '$c' ($bytes bytes) has no budget for $ARCH")
    continue
  fi
  use=$((bytes * 100 / (b > 0 ? b : 1)))
  if ((bytes > b)); then
    printf '  %-12s %7s %9s %9s %5s%%  FAIL\n' "$c" "${comp_count[$c]}" "$bytes" "$b" "$use"
    failures+=("component '$c' is $bytes bytes, over its $ARCH budget of $b by $((bytes - b))")
  else
    printf '  %-12s %7s %9s %9s %5s%%\n' "$c" "${comp_count[$c]}" "$bytes" "$b" "$use"
  fi
done
printf '  %-12s %7s %9s\n' total "${#members[@]}" "$total"
for u in "${unmatched[@]}"; do
  failures+=("object file $u matches no component: add it to a component in $BUDGET")
done

if ((UPDATE)); then
  if ((${#unmatched[@]} > 0)); then
    printf 'check_runtime_size: %s\n' "${failures[@]}" >&2
    die "not updating: give every object file a component first"
  fi
  # Keep every line but this architecture's budgets, then append fresh ones;
  # written next to the file and renamed over it (atomic).
  new="$BUDGET.tmp.$$"
  grep -vE "^[[:space:]]*budget[[:space:]]+${ARCH}[[:space:]]" "$BUDGET" >"$new" || true
  for c in "${comp_names[@]}"; do
    [[ -n "${comp_bytes[$c]:-}" ]] || continue
    printf 'budget %s %s %s\n' "$ARCH" "$c" "$(with_headroom "${comp_bytes[$c]}")" >>"$new"
  done
  mv -f "$new" "$BUDGET"
  echo "check_runtime_size: updated the $ARCH budgets in $BUDGET (+$HEADROOM%)"
  exit 0
fi

if ((${#failures[@]} > 0)); then
  printf 'check_runtime_size: FAIL: %s\n' "${failures[@]}" >&2
  echo "  A new object file needs a component in $BUDGET; for deliberate growth run" >&2
  echo "  scripts/check_runtime_size.sh $LIB --update and review the diff." >&2
  exit 1
fi
echo "check_runtime_size: OK: every component of $LIB within its $ARCH budget"
