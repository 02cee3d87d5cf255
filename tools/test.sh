#!/usr/bin/env bash
# Build and run every test suite (Check, through CTest).
#   tools/test.sh             the normal build, in build/
#   tools/test.sh --sanitize  the same suites under ASan+UBSan, in build-san/
# SF_CMAKE_ARGS adds configure flags (CI: -DSF_WERROR=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-san
  flags=(-DCMAKE_BUILD_TYPE=Debug -DSF_SANITIZE=ON)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
# shellcheck disable=SC2086 # SF_CMAKE_ARGS is a list of flags
cmake -S . -B "$dir" "${flags[@]}" ${SF_CMAKE_ARGS:-} >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir" && ctest --output-on-failure -j"$(nproc)"
