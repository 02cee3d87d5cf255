#!/usr/bin/env bash
# Single-core sgemm GFLOP/s at an lm_head shape, in one run so the rows
# compare: OpenBLAS as it detects this CPU, OpenBLAS with each coretype
# forced (those this CPU can run), BLIS if installed, and shardflow's
# matmul op (f32 and bf16 operands, timed by `run --profile`), then the
# matmul / best ratio. Each row is the best of REPS.
#   tools/bench_gemm.sh [BUILD_DIR] [M N K] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
m=${2:-1024}; n=${3:-16000}; k=${4:-1024}; reps=${5:-3}
sf=$build/shardflow
bench=$build/bench_gemm
for f in "$sf" "$bench"; do
  [ -x "$f" ] || { echo "build first: $f not found" >&2; exit 1; }
done
export OPENBLAS_NUM_THREADS=1 BLIS_NUM_THREADS=1 OMP_NUM_THREADS=1
openblas=$(ldconfig -p | awk '/libopenblas\.so\.0 / {print $NF; exit}')
blis=$(ldconfig -p | awk '/libblis\.so\.[0-9]+ / {print $NF; exit}')
flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { [[ " $flags " == *" $1 "* ]]; }

printf '# sgemm C(%d x %d) = A(%d x %d) @ B(%d x %d)^T, 1 thread, best of %d\n' \
  "$m" "$n" "$m" "$k" "$n" "$k" "$reps"
printf '%-34s %-12s %10s\n' "gemm" "kernel" "GFLOP/s"
best=0
row() { # name kernel gflops
  printf '%-34s %-12s %10s\n' "$1" "$2" "$3"
  best=$(echo "$3 $best" | awk '{print ($1 > $2) ? $1 : $2}')
}
if [ -n "$openblas" ]; then
  read -r core g < <(env -u OPENBLAS_CORETYPE "$bench" "$openblas" "$m" "$n" "$k" "$reps")
  row "openblas (auto-detected)" "$core" "$g"
  cores=()
  has avx2 && has fma && cores+=(Haswell Zen)
  has avx512f && has avx512bw && has avx512vl && has avx512dq && has avx512cd && cores+=(SkylakeX)
  has avx512f && has avx512_bf16 && cores+=(Cooperlake)
  for c in "${cores[@]}"; do
    read -r core g < <(OPENBLAS_CORETYPE=$c "$bench" "$openblas" "$m" "$n" "$k" "$reps")
    row "openblas OPENBLAS_CORETYPE=$c" "$core" "$g"
  done
else
  echo "openblas: libopenblas.so.0 not installed"
fi
if [ -n "$blis" ]; then
  read -r _ g < <("$bench" "$blis" "$m" "$n" "$k" "$reps")
  row "blis ($(basename "$blis"))" "-" "$g"
else
  echo "blis: not installed (apt-get install libblis4)"
fi
best_lib=$best
for dt in f32 bf16; do
  us=
  for ((r = 0; r < reps; r++)); do
    t=$(env -u OPENBLAS_CORETYPE "$sf" run graphs/examples/lm_head.yaml --set tokens="$m" \
          --set vocab="$n" --set hidden="$k" --set dtype=$dt --set out_dtype=$dt --profile |
        awk '$1 == "lm_head" && $2 == "matmul" {print $3}')
    us=$(echo "$t ${us:-$t}" | awk '{print ($1 < $2) ? $1 : $2}')
  done
  g=$(echo "$us" | awk -v m="$m" -v n="$n" -v k="$k" '{printf "%.1f", 2 * m * n * k / $1 / 1e3}')
  printf '%-34s %-12s %10s   %5.0f%% of the best library\n' "shardflow matmul $dt -> $dt" \
    "(auto)" "$g" "$(echo "$g $best_lib" | awk '{print 100 * $1 / $2}')"
done
echo "(shardflow's matmul: the node's wall time in 'run --profile', which includes"
echo " first touch of its output and, for bf16, converting the operands in tiles)"
