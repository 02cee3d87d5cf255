#!/usr/bin/env bash
# Runtime benchmark: how long `shardflow plan` takes on a generated graph of
# N nodes (goal: under a second for 10,000), and the executor's per-node
# overhead on a graph of trivial ops (1-element adds), measured in one run.
#   tools/bench_runtime.sh [N] [BUILD_DIR]
set -euo pipefail
n=${1:-10000}
build=${2:-build}
sf="$build/shardflow"
[ -x "$sf" ] || { echo "build first: $sf not found" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A chain with a skip edge every 10 nodes, so liveness has real work.
{
  echo "name: bench_${n}"
  echo "nodes:"
  echo "  - {name: n0, op: fill, out: [t0], attrs: {shape: [1], dtype: f32, value: 1}}"
  for ((i = 1; i < n; i++)); do
    j=$(( i >= 10 && i % 10 == 0 ? i - 10 : i - 1 ))
    echo "  - {name: n$i, op: add, in: [t$((i - 1)), t$j], out: [t$i]}"
  done
  echo "outputs: [t$((n - 1))]"
} > "$tmp/g.yaml"

now() { date +%s.%N; }
t0=$(now); "$sf" check "$tmp/g.yaml" >/dev/null; t1=$(now)
"$sf" plan "$tmp/g.yaml" --json > "$tmp/plan.json"; t2=$(now)
"$sf" run "$tmp/g.yaml" --json > "$tmp/run.json"; t3=$(now)

wall=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ranks"][0]["wall_s"])' "$tmp/run.json")
awk -v n="$n" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v wall="$wall" 'BEGIN {
  load = t1 - t0; plan = t2 - t1; run = t3 - t2
  printf "%-44s %10s\n", "measure (" n " nodes)", "value"
  printf "%-44s %10.3f s\n", "shardflow check (load + validate)", load
  printf "%-44s %10.3f s\n", "shardflow plan (load + plan on meta)", plan
  printf "%-44s %10.3f s\n", "shardflow run (load + run on cpu)", run
  printf "%-44s %10.3f s\n", "executor wall time, all steps", wall
  printf "%-44s %10.2f us\n", "executor per-node overhead (1-element add)", wall / n * 1e6
}'
