#!/usr/bin/env bash
# Usage: scripts/check_format.sh [--fix]
# Checks (or with --fix, rewrites) every C/C++ source of the project against
# .clang-format with clang-format 14. Exits 1 listing unformatted files.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CLANG_FORMAT="${CLANG_FORMAT:-clang-format}"
command -v "$CLANG_FORMAT" >/dev/null 2>&1 || {
  echo "check_format: $CLANG_FORMAT not found (apt-get install clang-format)" >&2
  exit 2
}
fix=0
if [[ "${1:-}" == "--fix" ]]; then fix=1; fi

# Tracked and untracked-but-not-ignored files (so new files count too).
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
  '*.h' '*.hh' '*.hpp' '*.c' '*.cc' '*.cpp' | grep -v '^build' | sort -u)
if ((${#files[@]} == 0)); then
  echo "check_format: no C/C++ files"
  exit 0
fi

if ((fix)); then
  "$CLANG_FORMAT" -i --style=file "${files[@]}"
  echo "check_format: formatted ${#files[@]} files"
  exit 0
fi

bad=()
for f in "${files[@]}"; do
  [[ -f "$f" ]] || continue
  if ! "$CLANG_FORMAT" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
    bad+=("$f")
  fi
done
if ((${#bad[@]} > 0)); then
  echo "check_format: ${#bad[@]} of ${#files[@]} files are not clang-formatted:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "run scripts/check_format.sh --fix" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files OK"
