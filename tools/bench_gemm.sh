#!/usr/bin/env bash
# Single-core sgemm GFLOP/s at an lm_head shape, in one run so the rows
# compare: OpenBLAS as it detects this CPU, OpenBLAS with each coretype
# forced (those this CPU can run), BLIS if installed, and shardflow's
# matmul op (f32 and bf16 operands and output, timed by `run --profile`),
# then the matmul / best ratio. The rows take turns, ROUNDS times, and each
# keeps its best, so a machine shared with other work slows all of them
# alike.
#   tools/bench_gemm.sh [BUILD_DIR] [M N K] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
m=${2:-1024}; n=${3:-16000}; k=${4:-1024}; rounds=${5:-3}
sf=$build/shardflow
bench=$build/bench_gemm
for f in "$sf" "$bench"; do
  [ -x "$f" ] || { echo "build first: $f not found" >&2; exit 1; }
done
export OPENBLAS_NUM_THREADS=1 BLIS_NUM_THREADS=1 OMP_NUM_THREADS=1
# awk reads all of ldconfig's output: exiting early would fail the pipe.
openblas=$(ldconfig -p | awk '/libopenblas\.so\.0 / && !n++ {print $NF}')
blis=$(ldconfig -p | awk '/libblis\.so\.[0-9]+ / && !n++ {print $NF}')
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { [[ " $flags " == *" $1 "* ]]; }

# One row: a name and a command printing "KERNEL GFLOP/s".
names=(); cmds=()
add() { names+=("$1"); cmds+=("$2"); }
lib_row() { # library [coretype]: best of 2 calls, the first one pays setup
  if [ -n "${2:-}" ]; then
    OPENBLAS_CORETYPE=$2 "$bench" "$1" "$m" "$n" "$k" 2
  else
    env -u OPENBLAS_CORETYPE "$bench" "$1" "$m" "$n" "$k" 2
  fi
}
op_row() { # dtype: the lm_head node of graphs/examples/lm_head.yaml
  env -u OPENBLAS_CORETYPE "$sf" run graphs/examples/lm_head.yaml --set tokens="$m" \
      --set vocab="$n" --set hidden="$k" --set dtype="$1" --set out_dtype="$1" --profile |
    awk -v m="$m" -v n="$n" -v k="$k" \
      '$1 == "lm_head" && $2 == "matmul" {printf "(auto) %.1f\n", 2 * m * n * k / $3 / 1e3}'
}
if [ -n "$openblas" ]; then
  add "openblas (auto-detected)" "lib_row $openblas"
  cores=()
  has avx2 && has fma && cores+=(Haswell Zen)
  has avx512f && has avx512bw && has avx512vl && has avx512dq && has avx512cd && cores+=(SkylakeX)
  has avx512f && has avx512_bf16 && cores+=(Cooperlake)
  for c in ${cores[@]+"${cores[@]}"}; do
    add "openblas OPENBLAS_CORETYPE=$c" "lib_row $openblas $c"
  done
else
  echo "openblas: libopenblas.so.0 not installed"
fi
if [ -n "$blis" ]; then
  add "blis ($(basename "$blis"))" "lib_row $blis"
else
  echo "blis: not installed (apt-get install libblis4)"
fi
n_lib=${#names[@]}
add "shardflow matmul f32 -> f32" "op_row f32"
add "shardflow matmul bf16 -> bf16" "op_row bf16"

best=(); kernel=()
for ((r = 0; r < rounds; r++)); do
  for i in "${!names[@]}"; do
    read -r kern g < <(${cmds[$i]})
    kernel[$i]=$kern
    best[$i]=$(echo "$g ${best[$i]:-0}" | awk '{print ($1 > $2) ? $1 : $2}')
  done
done
best_lib=0; best_name=
for ((i = 0; i < n_lib; i++)); do
  if awk -v a="${best[$i]}" -v b="$best_lib" 'BEGIN {exit !(a > b)}'; then
    best_lib=${best[$i]}; best_name=${names[$i]}
  fi
done
printf '# sgemm C(%d x %d) = A(%d x %d) @ B(%d x %d)^T, 1 thread, best of %d rounds\n' \
  "$m" "$n" "$m" "$k" "$n" "$k" "$rounds"
printf '%-38s %-12s %8s %8s\n' "gemm" "kernel" "GFLOP/s" "of best"
for i in "${!names[@]}"; do
  printf '%-38s %-12s %8s %7.0f%%\n' "${names[$i]}" "${kernel[$i]}" "${best[$i]}" \
    "$(echo "${best[$i]} $best_lib" | awk '{print 100 * $1 / $2}')"
done
echo "(best library: $best_name; shardflow's matmul: the node's wall time in"
echo " 'run --profile', including the first touch of its fresh output and, for"
echo " bf16, converting operands and result in tiles)"
