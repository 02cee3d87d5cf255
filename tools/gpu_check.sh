#!/usr/bin/env bash
# Every GPU test, in one command, for whoever has a GPU (issue 13):
#   tools/gpu_check.sh
# Builds with CUDA and NCCL required (sm_80, sm_90, PTX), then runs the
# suites that need a GPU with SF_REQUIRE_GPU=1, so a suite that would skip
# fails instead: check_cuda_device (copies; matmul and the Eagle3 graph on
# cuda against cpu, plan == run to the byte), check_cuda_ops (every op's
# cuda kernel against its cpu kernel on small and odd shapes), and the NCCL
# part of check_coll_conformance. Exit status: ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SF_GPU_BUILD:-build-gpu}
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L; then
  echo "gpu_check: no GPU here (nvidia-smi -L failed)" >&2
  exit 1
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSF_WITH_CUDA=ON -DSF_WITH_NCCL=ON \
  ${SF_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
"$build/shardflow" --version
export SF_REQUIRE_GPU=1
cd "$build"
ctest --output-on-failure -R '^(check_cuda_.*|check_coll_conformance)$'
