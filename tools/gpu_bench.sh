#!/usr/bin/env bash
# The GPU benchmark, in one command (issue 13):
#   tools/gpu_bench.sh
# 1. The seed's step on one GPU: the Eagle3 graph with synthetic:qwen3-8b,
#    batch 8, seq 4096, as rank 0 of tp 8 (--emulate-world 8: collectives
#    local, correctly sized), both redistribution modes, in place, node by
#    node and with the fused lm_head in 512-token chunks. For each:
#    the tracked peak (PyTorch's max allocated), the pool's reserved peak,
#    cudaMemGetInfo's used peak, the planned peak (plan --device cuda, which
#    must equal the tracked one to the byte) and the slowest nodes.
# 2. synthetic:qwen3-0.6b as a real single-rank run, on the GPU and on the
#    CPU, outputs compared (tools/compare_outputs.py).
# Prints everything; exit 1 if plan != run or the outputs disagree.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SF_GPU_BUILD:-build-gpu}
sf=$build/shardflow
if [ ! -x "$sf" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSF_WITH_CUDA=ON -DSF_WITH_NCCL=ON \
    ${SF_CMAKE_ARGS:-} >/dev/null
  cmake --build "$build" -j"$(nproc)" --target shardflow >/dev/null
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
graph=graphs/eagle3_target.yaml
seed=(--set model=synthetic:qwen3-8b --set batch=8 --set seq=4096)
status=0
# Reads all its input (an early exit would SIGPIPE the writer under pipefail).
rank0() { awk '!done && $1 == "0" && $2 ~ /^[0-9]+$/ { print $2; done = 1 }'; }

echo "== seed scale: qwen3-8b, batch 8, seq 4096, rank 0 of tp 8 (emulated), cuda"
for mode in all_gather all_to_all; do
  for chunk in 0 512; do
    sets=("${seed[@]}" --set redistribution=$mode --set chunk_tokens=$chunk)
    planned=$("$sf" plan "$graph" "${sets[@]}" --world 8 --device cuda | rank0)
    out=$("$sf" run "$graph" "${sets[@]}" --emulate-world 8 --emulate-rank 0 --device cuda \
          --profile)
    measured=$(echo "$out" | rank0)
    echo "-- $mode, chunk_tokens $chunk: planned $planned, tracked $measured"
    echo "$out" | sed -n 1,24p
    [ "$planned" = "$measured" ] || { echo "plan != run: $mode, chunk $chunk" >&2; status=1; }
  done
done

echo "== qwen3-0.6b, batch 1, seq 256, one rank: cuda against cpu"
small=(--set model=synthetic:qwen3-0.6b --set batch=1 --set seq=256)
tmp=$(mktemp -d)
for dev in cuda cpu; do
  start=$(date +%s%N)
  "$sf" run "$graph" "${small[@]}" --device $dev --out "$tmp/$dev" | sed -n 1,4p
  echo "$dev: $((($(date +%s%N) - start) / 1000000)) ms wall"
done
# bf16 activations through 28 layers, summed in another order: 2% of each
# output's largest magnitude.
python3 tools/compare_outputs.py "$tmp/cuda/rank0.safetensors" "$tmp/cpu/rank0.safetensors" 2e-2 ||
  status=1
rm -rf "$tmp"
exit $status
