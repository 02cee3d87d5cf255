#!/usr/bin/env bash
# One command for a fresh Debian box: install what is missing (as root,
# after apt-get update), configure, build, and run the demo.
#   tools/setup.sh              install + build + demo
#   tools/setup.sh --deps-only  install the Debian packages and stop
# SF_CMAKE_ARGS adds configure flags (CI: -DSF_WERROR=ON).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config libyaml-dev check libsubunit-dev libucx-dev
          libopenblas-dev libcjson-dev iproute2 libcap2-bin python3 python3-numpy bc chromium
          clang libclang-rt-14-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}" >&2
    echo "run as root, or: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ "${1:-}" = "--deps-only" ] && exit 0

# shellcheck disable=SC2086 # SF_CMAKE_ARGS is a list of flags
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo ${SF_CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec tools/demo.sh
