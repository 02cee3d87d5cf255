#!/usr/bin/env bash
# The memory floor on a real CPU run: the Eagle3 target step of a model whose
# logits dominate (synthetic:small-160m cut to 2 layers: vocab 32000, hidden
# 1024; 16 sequences of 512 tokens, so each rank keeps 4096 rows, well above
# matmul's 512-row tiles as at the seed's scale), 2 ranks over UCX, for
# each redistribution: node by node with in-place work off and on, then
# fused and chunked with and without overlap. Per variant: the measured
# peak of rank 0 (and the plan's, which must equal it), the peak without
# weights over the rank's outputs, the floor and peak / floor, and the wall
# time of the step (median of REPS runs taken in turns, so the variants
# share the machine's noise).
#   tools/bench_chunking.sh [BUILD_DIR] [REPS] [CHUNK] [extra --set K=V ...]
set -euo pipefail
cd "$(dirname "$0")/.."
sf=${1:-build}/shardflow
reps=${2:-3}
chunk=${3:-128}
shift $(( $# < 3 ? $# : 3 ))
[ -x "$sf" ] || { echo "build first: $sf not found" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1   # one BLAS thread per rank: 2 ranks on 2 cores
base=(graphs/eagle3_target.yaml --set model=synthetic:small-160m --set batch=16 --set seq=512
      --set num_hidden_layers=2 --set 'aux_layers=[0,1,1]')
for kv in "$@"; do base+=(--set "$kv"); done
variants=("alias-off|--alias off" "in-place|--alias on"
          "chunked|--set chunk_tokens=$chunk"
          "chunked-serial|--set chunk_tokens=$chunk --set overlap=false")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for mode in all_to_all all_gather; do
  for ((rep = 0; rep < reps; rep++)); do
    for v in "${variants[@]}"; do
      name=${v%%|*}; read -r -a flags <<< "${v#*|}"
      "$sf" run --nproc 2 "${base[@]}" --set redistribution=$mode "${flags[@]}" --json \
        > "$tmp/$mode.$name.run.$rep"
      [ "$rep" -gt 0 ] || "$sf" plan --world 2 "${base[@]}" --set redistribution=$mode \
        "${flags[@]}" --json > "$tmp/$mode.$name.plan"
    done
  done
done
python3 - "$tmp" "$reps" "$chunk" <<'PY'
import json, os, statistics, sys
tmp, reps, chunk = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names = ["alias-off", "in-place", "chunked", "chunked-serial"]
G = 1 << 30
print(f"synthetic:small-160m (2 layers), batch 16, seq 512, tp 2, chunk_tokens {chunk}; "
      f"rank 0; wall = median of {reps} (slower rank)")
print(f"{'mode':11s} {'variant':15s} {'peak (B)':>12s} {'plan==run':>9s} {'MiB':>8s} "
      f"{'-w / out':>8s} {'floor MiB':>9s} {'/floor':>6s} {'wall s':>7s} {'vs node':>7s}")
for mode in ["all_to_all", "all_gather"]:
    base_wall = None
    for n in names:
        runs = [json.load(open(os.path.join(tmp, f"{mode}.{n}.run.{i}"))) for i in range(reps)]
        plan = json.load(open(os.path.join(tmp, f"{mode}.{n}.plan")))
        r0 = runs[0]["ranks"][0]
        p0 = plan["ranks"][0]
        wall = statistics.median(max(r["wall_s"] for r in d["ranks"]) for d in runs)
        if n == "in-place":
            base_wall = wall
        ok = "yes" if all(d["ranks"][k]["peak_bytes"] == plan["ranks"][k]["peak_bytes"]
                          for d in runs for k in range(2)) else "NO"
        excl = (r0["peak_bytes"] - r0["persistent_bytes"]) / r0["output_bytes"]
        rel = f"{wall / base_wall:7.3f}" if base_wall else "      -"
        print(f"{mode:11s} {n:15s} {r0['peak_bytes']:12d} {ok:>9s} {r0['peak_bytes'] / 2**20:8.1f} "
              f"{excl:8.3f} {p0['floor_bytes'] / 2**20:9.1f} {r0['peak_over_floor']:6.3f} "
              f"{wall:7.3f} {rel}")
print("-w / out: (peak - persistent weights) / the rank's output bytes. vs node: wall / the")
print("in-place node-by-node wall of the same mode (chunking's cost; chunked-serial: no overlap).")
PY
