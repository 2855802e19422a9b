#!/usr/bin/env bash
# Golden outputs: the committed models and inputs of tests/golden must give,
# on every kernel path this machine runs, outputs and decisions whose SHA-256
# equal the ones committed in tests/golden/golden.txt, byte for byte
# (docs/reliability.md).
#
#   scripts/check_golden.sh BUILD_DIR [options]
#
#   BUILD_DIR             holds tests/golden_run (the runner, plain C)
#   --runner-prefix CMD   runs the runner through CMD (word-split), e.g.
#                         'qemu-aarch64-static -cpu max -L /usr/aarch64-linux-gnu'
#   --dir DIR             the golden directory (default tests/golden): the
#                         manifest DIR/golden.txt, models and inputs relative
#                         to DIR (the failure tests point it at a copy)
#   --once                one kiln_invoke per run instead of four ways that
#                         must agree (golden_run run --once): for slow
#                         emulators
#   --update              rewrite the manifest's hashes (atomically) from the
#                         ref path, after checking that every path agrees:
#                         the way to refresh the goldens after an intended
#                         numerics change
#
# For every case it runs the runner once with the path the runtime picks
# ("default") and once forced (KILN_ISA) onto every runnable path the runner
# reports; each run itself checks that one kiln_invoke and
# kiln_invoke_parallel on 1, 2 and 3 contexts in small steps agree. It prints
# one table row per case and path.
# Exit 0: all match; 1: a hash differs or a run failed (each named on a FAIL
# line: case, path, which hash); 2: usage or setup error.
set -euo pipefail
CALLER_PWD="$PWD"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

# Relative paths on the command line are the caller's, not the repository's.
absolute() {
  if [[ "$1" == /* ]]; then echo "$1"; else echo "$CALLER_PWD/$1"; fi
}

die() {
  printf 'check_golden: ERROR: %s\n' "$*" >&2
  exit 2
}

[[ $# -ge 1 ]] || die "usage: scripts/check_golden.sh BUILD_DIR [--runner-prefix CMD] [--dir DIR] [--once] [--update]"
BUILD="$(absolute "$1")"
shift
prefix=()
DIR="$ROOT/tests/golden"
update=0
once=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runner-prefix)
      [[ $# -ge 2 ]] || die "--runner-prefix needs a command"
      read -r -a prefix <<<"$2"
      shift 2
      ;;
    --dir)
      [[ $# -ge 2 ]] || die "--dir needs a directory"
      DIR="$(absolute "$2")"
      shift 2
      ;;
    --once)
      once=(--once)
      shift
      ;;
    --update)
      update=1
      shift
      ;;
    *) die "unknown argument '$1'" ;;
  esac
done

RUNNER="$BUILD/tests/golden_run"
MANIFEST="$DIR/golden.txt"
[[ -x "$RUNNER" ]] || die "missing $RUNNER: build the target golden_run first"
[[ -f "$MANIFEST" ]] || die "missing manifest $MANIFEST"
command -v sha256sum >/dev/null || die "sha256sum not found (coreutils)"
if ((${#prefix[@]} > 0)); then
  command -v "${prefix[0]}" >/dev/null || die "runner prefix '${prefix[0]}' not found"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/kiln-golden.XXXXXX")"
TMP_MANIFEST=""
trap 'rm -rf "$WORK" ${TMP_MANIFEST:+"$TMP_MANIFEST"}' EXIT

# The runner, with the prefix; KILN_ISA only when a path is forced (an
# inherited KILN_ISA must not leak into the "default" runs).
runner() {
  local isa="$1"
  shift
  if [[ -n "$isa" ]]; then
    KILN_ISA="$isa" "${prefix[@]}" "$RUNNER" "$@"
  else
    env -u KILN_ISA "${prefix[@]}" "$RUNNER" "$@"
  fi
}

paths="$(runner "" isas)" || die "'$RUNNER isas' failed"
[[ -n "$paths" ]] || die "the runner reports no runnable kernel path"
read -r -a PATHS <<<"$paths"

# Manifest: "case model input batch outputs_sha256 decisions_sha256" lines;
# '#' starts a comment. A new case may carry '-' for both hashes until
# --update fills them in.
cases=()
declare -A model=() input=() batch=() want_out=() want_dec=()
lineno=0
while IFS= read -r line || [[ -n "$line" ]]; do
  lineno=$((lineno + 1))
  [[ -z "${line//[[:space:]]/}" || "$line" =~ ^[[:space:]]*# ]] && continue
  read -r -a f <<<"$line"
  ((${#f[@]} == 6)) || die "$MANIFEST:$lineno: expected 6 fields (case model input batch outputs_sha256 decisions_sha256), got ${#f[@]}"
  [[ "${f[0]}" =~ ^[A-Za-z0-9_.-]+$ ]] || die "$MANIFEST:$lineno: case name '${f[0]}' must be letters, digits, '_', '.' or '-'"
  [[ -z "${model[${f[0]}]:-}" ]] || die "$MANIFEST:$lineno: case '${f[0]}' listed twice"
  [[ "${f[3]}" =~ ^[1-9][0-9]*$ ]] || die "$MANIFEST:$lineno: batch '${f[3]}' is not a positive number"
  for h in "${f[4]}" "${f[5]}"; do
    [[ "$h" == - || "$h" =~ ^[0-9a-f]{64}$ ]] || die "$MANIFEST:$lineno: '$h' is not a SHA-256 (64 hex digits) or '-'"
  done
  [[ -f "$DIR/${f[1]}" ]] || die "$MANIFEST:$lineno: missing model $DIR/${f[1]}"
  [[ -f "$DIR/${f[2]}" ]] || die "$MANIFEST:$lineno: missing input $DIR/${f[2]}"
  cases+=("${f[0]}")
  model[${f[0]}]="${f[1]}"
  input[${f[0]}]="${f[2]}"
  batch[${f[0]}]="${f[3]}"
  want_out[${f[0]}]="${f[4]}"
  want_dec[${f[0]}]="${f[5]}"
done <"$MANIFEST"
((${#cases[@]} > 0)) || die "$MANIFEST lists no case"

echo "golden: ${#cases[@]} cases x $((${#PATHS[@]} + 1)) paths (default ${PATHS[*]})"
echo "runner: ${prefix[*]:+${prefix[*]} }$RUNNER; manifest: $MANIFEST"
printf '%-16s %-20s %-18s %-18s %s\n' case path outputs decisions result
t_start=$SECONDS
failures=()
declare -A got_out=() got_dec=() summary=()
for c in "${cases[@]}"; do
  for isa in "" "${PATHS[@]}"; do
    tag="${isa:-default}"
    out="$WORK/$c.$tag.out" dec="$WORK/$c.$tag.dec" log="$WORK/$c.$tag.log"
    rc=0
    runner "$isa" run "${once[@]}" "$DIR/${model[$c]}" "$DIR/${input[$c]}" "${batch[$c]}" \
      "$out" "$dec" >"$log" 2>&1 || rc=$?
    ran="$(sed -n 's/^path: \([a-z0-9]*\);.*/\1/p' "$log" | head -n1)"
    label="$tag"
    [[ -z "$isa" ]] && label="default>${ran:-?}"
    if ((rc != 0)); then
      printf '%-16s %-20s %-18s %-18s %s\n' "$c" "$label" - - "FAIL (runner exit $rc)"
      sed 's/^/    /' "$log" >&2
      failures+=("case $c, path $label: the runner failed (exit $rc): $(tail -n1 "$log")")
      continue
    fi
    if [[ -n "$isa" && "$ran" != "$isa" ]]; then
      failures+=("case $c, path $tag: KILN_ISA=$isa but the runtime ran path '$ran'")
    fi
    ho="$(sha256sum <"$out" | cut -d' ' -f1)"
    hd="$(sha256sum <"$dec" | cut -d' ' -f1)"
    got_out[$c.$tag]="$ho"
    got_dec[$c.$tag]="$hd"
    [[ -n "${summary[$c]:-}" ]] || summary[$c]="$(grep '^head ' "$log" || true)"
    result=ok
    if ((update)); then
      result=computed
    else
      bad=()
      [[ "$ho" == "${want_out[$c]}" ]] || bad+=(outputs)
      [[ "$hd" == "${want_dec[$c]}" ]] || bad+=(decisions)
      if ((${#bad[@]} > 0)); then
        result="MISMATCH ${bad[*]}"
        for b in "${bad[@]}"; do
          if [[ $b == outputs ]]; then want="${want_out[$c]}" have="$ho"; else want="${want_dec[$c]}" have="$hd"; fi
          failures+=("case $c, path $label: $b SHA-256 $have, golden $want")
        done
      fi
    fi
    printf '%-16s %-20s %-18s %-18s %s\n' "$c" "$label" "${ho:0:16}" "${hd:0:16}" "$result"
  done
done
echo "time: $((SECONDS - t_start))s"
echo "decisions covered (head: confidence kind, k, threshold, fallback count):"
for c in "${cases[@]}"; do
  while IFS= read -r l; do
    [[ -n "$l" ]] && printf '  %-16s %s\n' "$c" "${l#head }"
  done <<<"${summary[$c]:-}"
done

if ((update)); then
  # Every path must agree before anything is written: refreshing from a path
  # that disagrees would bless a bug.
  for c in "${cases[@]}"; do
    [[ -n "${got_out[$c.ref]:-}" ]] || failures+=("case $c: no result on the ref path")
    for isa in "" "${PATHS[@]}"; do
      tag="${isa:-default}"
      if [[ "${got_out[$c.$tag]:-x}" != "${got_out[$c.ref]:-}" ||
        "${got_dec[$c.$tag]:-x}" != "${got_dec[$c.ref]:-}" ]]; then
        failures+=("case $c, path $tag: disagrees with ref")
      fi
    done
  done
  if ((${#failures[@]} > 0)); then
    printf 'FAIL: %s\n' "${failures[@]}" >&2
    echo "check_golden: not updating $MANIFEST" >&2
    exit 1
  fi
  # Written next to the manifest, then renamed: never a half-written file.
  TMP_MANIFEST="$MANIFEST.tmp.$$"
  while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ -z "${line//[[:space:]]/}" || "$line" =~ ^[[:space:]]*# ]]; then
      printf '%s\n' "$line"
      continue
    fi
    read -r -a f <<<"$line"
    c="${f[0]}"
    printf '%s %s %s %s %s %s\n' "$c" "${f[1]}" "${f[2]}" "${f[3]}" \
      "${got_out[$c.ref]}" "${got_dec[$c.ref]}"
  done <"$MANIFEST" >"$TMP_MANIFEST"
  mv -f "$TMP_MANIFEST" "$MANIFEST"
  echo "check_golden: updated $MANIFEST from the ref path (all paths agree)"
  exit 0
fi

if ((${#failures[@]} > 0)); then
  printf 'FAIL: %s\n' "${failures[@]}" >&2
  echo "check_golden: ${#failures[@]} failure(s); after an intended numerics change refresh with --update (docs/reliability.md)" >&2
  exit 1
fi
echo "golden: OK (${#cases[@]} cases, every path byte-identical to the committed hashes)"
