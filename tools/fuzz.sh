#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan, in build-fuzz/) and runs
# each for SECONDS (default 60) from its seed corpus in tests/fuzz/corpus/.
# New inputs a run finds go to build-fuzz/corpus/<target>/, so longer runs
# build on earlier ones; a crash stops the script with the input saved as
# build-fuzz/crash-<target>-*. Add it to tests/fuzz/corpus/<target>/ (the
# seeds are also replayed by every run) and fix the reader.
#   tools/fuzz.sh            every target, 60 s each (CI)
#   tools/fuzz.sh 600        every target, 10 minutes each
#   tools/fuzz.sh 600 expr   one target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
# Without CUDA: no fuzz target reaches a GPU, and this keeps the CPU-only
# build (cuda/absent) compiled in CI.
CC=clang cmake -S . -B build-fuzz -DSF_FUZZ=ON -DSF_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSF_WITH_CUDA=OFF ${SF_CMAKE_ARGS:-} >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.c; do
    t=$(basename "$src" .c)
    targets+=("${t#fuzz_}")
  done
fi
cmake --build build-fuzz -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  printf '%-16s %4d s ... ' "$t" "$seconds"
  log="build-fuzz/fuzz_$t.log"
  if ! build-fuzz/fuzz_"$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="build-fuzz/crash-$t-" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" \
       >"$log" 2>&1; then
    echo "FAILED"
    tail -n 40 "$log" >&2
    exit 1
  fi
  # libFuzzer's last line: "Done N runs in S second(s)".
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
  echo "ok, ${runs:-?} runs, corpus $(ls "build-fuzz/corpus/$t" | wc -l) files"
done
