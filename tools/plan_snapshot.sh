#!/usr/bin/env bash
# Writes every plan this repository can make into one folder, one file per
# case, with the run-to-run noise (wall times, timestamps) removed, so a
# refactor can prove it changed no planned peak and no buffer:
#   tools/plan_snapshot.sh DIR            (then: diff -r BEFORE AFTER)
# Cases: every graph under graphs/ and tests/graphs, both free policies;
# the redistribution graphs in both modes at tp 1..4; Eagle3 on tiny12 in both
# modes at tp 1..4, and on qwen3-8b at the seed's shapes (batch 8, seq 4096,
# tp 8); the Eagle3 teacher there in its three redistributions and with
# positions loss. Each case keeps plan --json and memviz --summary --json (what is live
# at each rank's peak).
set -euo pipefail
cd "$(dirname "$0")/.."
sf=${SHARDFLOW:-build/shardflow}
out=${1:?usage: tools/plan_snapshot.sh DIR}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Drops the fields that differ between two runs of the same plan.
strip_noise() {
  python3 -c '
import json, sys
NOISE = {"wall_s", "trace", "peak_ts_us", "alloc_ts_us", "free_ts_us"}
def clean(v):
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items() if k not in NOISE}
    if isinstance(v, list):
        return [clean(x) for x in v]
    return v
print(json.dumps(clean(json.load(sys.stdin)), indent=1, sort_keys=True))'
}

# snap NAME ARGS...: plans one case and keeps its JSON and its peak summary.
snap() {
  local name=$1
  shift
  "$sf" plan "$@" --json --trace "$tmp/t.json" | strip_noise >"$out/$name.plan.json"
  "$sf" memviz --summary --json "$tmp/t.json" | strip_noise >"$out/$name.summary.json"
}

n=0
for g in graphs/examples/*.yaml tests/graphs/*.yaml; do
  base=$(basename "$g" .yaml)
  for free in eager end; do
    case $base in
      redistribute_*)
        for mode in all_gather all_to_all; do
          for tp in 1 2 3 4; do
            # These graphs need the vocab and token counts to divide by tp.
            "$sf" plan "$g" --set mode=$mode --world $tp >/dev/null 2>&1 || continue
            snap "$base.$mode.tp$tp.$free" "$g" --set mode=$mode --world $tp --free $free
            n=$((n + 1))
          done
        done
        ;;
      *)
        snap "$base.$free" "$g" --free $free
        n=$((n + 1))
        ;;
    esac
  done
done
for free in eager end; do
  for mode in all_gather all_to_all; do
    for tp in 1 2 3 4; do
      snap "eagle3.tiny12.$mode.tp$tp.$free" graphs/eagle3_target.yaml --set model=synthetic:tiny12 \
        --set batch=12 --set seq=16 --set redistribution=$mode --world $tp --free $free
      n=$((n + 1))
    done
    snap "eagle3.qwen3-8b.$mode.tp8.$free" graphs/eagle3_target.yaml --set model=synthetic:qwen3-8b \
      --set batch=8 --set seq=4096 --set redistribution=$mode --world 8 --free $free
    n=$((n + 1))
  done
  # The Eagle3 teacher at the seed's shapes: the three redistributions, and
  # fused with positions loss (half of each sequence masked).
  for mode in all_gather all_to_all fused; do
    snap "eagle3_teacher.qwen3-8b.$mode.tp8.$free" graphs/eagle3_teacher.yaml \
      --set model=synthetic:qwen3-8b --set batch=8 --set seq=4096 --set draft_vocab=32000 \
      --set redistribution=$mode --world 8 --free $free
    n=$((n + 1))
  done
  snap "eagle3_teacher.qwen3-8b.fused-loss.tp8.$free" graphs/eagle3_teacher.yaml \
    --set model=synthetic:qwen3-8b --set batch=8 --set seq=4096 --set draft_vocab=32000 \
    --set redistribution=fused --set positions=loss --set loss_prefix=2048 --world 8 --free $free
  n=$((n + 1))
done
echo "$n cases in $out"
