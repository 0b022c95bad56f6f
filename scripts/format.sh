#!/usr/bin/env bash
# Formats the C++ sources with the repository's .clang-format.
#
#   scripts/format.sh           rewrite files in place
#   scripts/format.sh --check   change nothing; exit non-zero if any file needs formatting
set -euo pipefail
cd "$(dirname "$0")/.."

mode=(-i)
case "${1:-}" in
    "") ;;
    --check) mode=(--dry-run --Werror) ;;
    *) echo "usage: scripts/format.sh [--check]" >&2; exit 2 ;;
esac

clang_format=${CLANG_FORMAT:-clang-format}
if ! command -v "$clang_format" >/dev/null 2>&1; then
    echo "format.sh: $clang_format not found (apt-get install clang-format)" >&2
    exit 1
fi

dirs=()
for d in include src tests bench; do
    [ -d "$d" ] && dirs+=("$d")
done
[ ${#dirs[@]} -gt 0 ] || exit 0

mapfile -d '' files < <(find "${dirs[@]}" \
    \( -path bench/rayon/target -o -name build \) -prune -o \
    -type f \( -name '*.hpp' -o -name '*.cpp' \) -print0 | sort -z)
[ ${#files[@]} -gt 0 ] || exit 0

"$clang_format" --style=file "${mode[@]}" "${files[@]}"
