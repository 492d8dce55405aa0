#!/usr/bin/env bash
# The house style is .clang-format (Debian 12's clang-format 14): every C++
# file of the project must already be formatted, so a diff never mixes
# reformatting with a change.
set -uo pipefail
source_dir=${QHARDEN_SOURCE_DIR:?set QHARDEN_SOURCE_DIR to the source tree}
if ! command -v clang-format > /dev/null; then
  echo "skip: clang-format is not installed (packaging/bootstrap.sh test installs it)"
  exit 77
fi
cd "$source_dir" || exit 1
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cpp' '*.h')
else
  mapfile -t files < <(find agent rules tests -name '*.cpp' -o -name '*.h')
fi
[ ${#files[@]} -gt 0 ] || { echo "FAIL: no C++ files found under $source_dir"; exit 1; }
unformatted=()
for file in "${files[@]}"; do
  clang-format --dry-run --Werror "$file" > /dev/null 2>&1 || unformatted+=("$file")
done
if [ ${#unformatted[@]} -ne 0 ]; then
  echo "FAIL: ${#unformatted[@]} file(s) differ from .clang-format (fix: clang-format -i FILE):"
  printf '  %s\n' "${unformatted[@]}"
  exit 1
fi
echo "ok    ${#files[@]} C++ files follow .clang-format ($(clang-format --version))"
