#!/usr/bin/env bash
# Eagle3 target step on the cpu, 2 ranks over UCX: wall time, tokens per
# second and per-rank peak for each redistribution mode and free policy, for
# synthetic:tiny and a CPU-sized model (small-160m: 320 MB of bf16 weights),
# measured in one run so the rows compare. CONFIGs replace the default two:
# "MODEL batch=B seq=S [PARAM=VALUE]..." (the extra params go to --set).
#   tools/bench_eagle3.sh [BUILD_DIR] [CONFIG]...
set -euo pipefail
cd "$(dirname "$0")/.."
sf=${1:-build}/shardflow
[ -x "$sf" ] || { echo "build first: $sf not found" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1   # one BLAS thread per rank: 2 ranks on 2 cores
nproc=2
configs=("synthetic:tiny batch=4 seq=64" "synthetic:small-160m batch=2 seq=256")
[ $# -gt 1 ] && configs=("${@:2}")
cpu_file=$(mktemp)
trap 'rm -f "$cpu_file"' EXIT
printf '%-22s %5s %5s %-11s %-6s %14s %10s %10s %9s %9s\n' model batch seq mode free \
  "peak r0 (B)" "peak r1" "wall (s)" "tok/s" "cpu (s)"
for cfg in "${configs[@]}"; do
  set -- $cfg
  model=$1; batch=${2#batch=}; seq=${3#seq=}
  extra=()
  for kv in "${@:4}"; do extra+=(--set "$kv"); done
  for mode in all_gather all_to_all; do
    for free in eager end; do
      # cpu: user+sys seconds of every rank and the launcher, which a
      # shared, loaded machine inflates far less than it inflates wall time.
      TIMEFORMAT='%U %S'
      { time json=$("$sf" run --nproc $nproc graphs/eagle3_target.yaml --set model=$model \
          --set batch=$batch --set seq=$seq --set redistribution=$mode --free $free \
          ${extra[@]+"${extra[@]}"} --json) ; } 2> "$cpu_file"
      python3 - "$model" "$batch" "$seq" "$mode" "$free" "$json" "$(cat "$cpu_file")" <<'PY'
import json, sys
model, batch, seq, mode, free, text, cpu = sys.argv[1:]
cpu_s = sum(float(x) for x in cpu.split())
d = json.loads(text)
peaks = [r["peak_bytes"] for r in d["ranks"]]
wall = max(r["wall_s"] for r in d["ranks"])
tokens = int(batch) * int(seq)
print(f"{model:22s} {batch:>5s} {seq:>5s} {mode:11s} {free:6s} {peaks[0]:14d} {peaks[1]:10d} "
      f"{wall:10.3f} {tokens / wall:9.0f} {cpu_s:9.2f}")
PY
    done
  done
done
echo "(wall: the slower rank's executor time for one step, weights generation included;"
echo " tok/s: global tokens of the step / wall; cpu: user+sys seconds of both ranks, whole run)"
