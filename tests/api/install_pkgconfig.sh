#!/bin/sh
# CTest install_pkgconfig: `cmake --install` into a fresh prefix, then build
# tests/api/plan_example.c with nothing but `pkg-config --cflags --libs
# shardflow` and run it on tests/graphs/chain.yaml with n=512: a -> b -> c
# of 2 KiB each, peak 4096 bytes at make_b (see chain.yaml), end 2048.
# usage: install_pkgconfig.sh BUILD_DIR SOURCE_DIR CC [EXTRA_CFLAGS]
set -eu
build=$1 src=$2 cc=$3 extra=${4:-}
command -v pkg-config >/dev/null || { echo "SKIP: no pkg-config"; exit 77; }
prefix=$(mktemp -d /tmp/shardflow-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
flags=$(pkg-config --cflags --libs shardflow)
echo "pkg-config --cflags --libs shardflow: $flags"
# shellcheck disable=SC2086 # the flags are words
"$cc" -Wall -Wextra -Werror $extra "$src/tests/api/plan_example.c" -o "$prefix/plan_example" $flags
got=$(LD_LIBRARY_PATH="$prefix/lib" "$prefix/plan_example" "$src/tests/graphs/chain.yaml" n=512)
want="$(sed -n 's/^project(shardflow VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt") chain: peak 4096 bytes at make_b, end 2048 bytes"
if [ "$got" != "$want" ]; then
  echo "got:  $got"; echo "want: $want"; exit 1
fi
# A bad override is a clear error with the command's exit status 2.
set +e
LD_LIBRARY_PATH="$prefix/lib" "$prefix/plan_example" "$src/tests/graphs/chain.yaml" nope=1 2>"$prefix/err"
rc=$?
set -e
grep -q "nope" "$prefix/err" || { echo "no 'nope' in: $(cat "$prefix/err")"; exit 1; }
[ "$rc" = 2 ] || { echo "exit $rc for a bad --set, want 2"; exit 1; }
test -f "$prefix/include/shardflow.h" && test -x "$prefix/bin/shardflow"
# The installed Python package finds the installed library by itself
# (PREFIX/lib/shardflow/python/shardflow -> PREFIX/lib/libshardflow.so).
if command -v python3 >/dev/null; then
  preload=
  case "$extra" in *sanitize=address*) preload=$("$cc" -print-file-name=libasan.so) ;; esac
  py=$(env -u SHARDFLOW_LIB PYTHONPATH="$prefix/lib/shardflow/python" LD_PRELOAD="$preload" \
       ASAN_OPTIONS=detect_leaks=0 python3 -c "import shardflow, sys
p = shardflow.plan(sys.argv[1], sets={'n': 512})['ranks'][0]
print(p['peak_bytes'], p['peak_node'], shardflow._native.lib._name)" "$src/tests/graphs/chain.yaml")
  case "$py" in
    "4096 make_b $prefix/lib/libshardflow.so") ;;
    *) echo "installed python package: got '$py'"; exit 1 ;;
  esac
fi
echo "ok: $got"
