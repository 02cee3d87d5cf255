#!/usr/bin/env bash
# Compiles every build type a user may pick, warnings as errors, so a
# configuration nobody tests (Release's -O3 sees more than -O2) cannot ship
# broken. Tests run in tools/test.sh (RelWithDebInfo, and Debug under
# ASan+UBSan); this only builds.
#   tools/build_matrix.sh [TYPE...]   default: Release Debug MinSizeRel
set -euo pipefail
cd "$(dirname "$0")/.."
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(Release Debug MinSizeRel)
for t in "${types[@]}"; do
  dir="build-$(echo "$t" | tr '[:upper:]' '[:lower:]')"
  echo "== $t in $dir/"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$t" -DSF_WERROR=ON >/dev/null
  cmake --build "$dir" -j"$(nproc)" >/dev/null
done
echo "built warning-free: ${types[*]}"
