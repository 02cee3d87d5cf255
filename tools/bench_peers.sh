#!/usr/bin/env bash
# shardflow's UCX collectives next to Open MPI's on this box, 2 ranks:
# all_gather, all_to_all and all_reduce (f32 sum), out-of-place busbw at
# 1, 4, 16 and 64 MiB (size = each rank's output, nccl-tests factors).
# Open MPI runs tools/bench_peers_mpi.c (built here with mpicc) twice, with
# ob1/vader and with pml ucx (both with their default waiting: no yield
# unless oversubscribed); shardflow runs `shardflow collbench`. Each (op,
# size) runs the three back to back, and a cell is the best of the repeats
# and the median (the machine may be shared: compare within one run). SF_BENCH_RAW=file
# keeps every repeat's rows. #wrong counts every
# checked result. The last column is shardflow / the better Open MPI.
#   tools/bench_peers.sh [REPEATS [ITERS]]     (default 3 repeats, 20 iterations)
#   tools/bench_peers.sh --table RAW [REPEATS ITERS]   reprint a kept run
# BUILD=dir picks the build folder (default build/, configured if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
iters=${2:-20}
warmup=5
build=${BUILD:-build}
sizes=(1048576 4194304 16777216 67108864)

# The table from rows "system op size busbw #wrong": per cell the best and
# the median over the repeats (sorted first: mawk has no sort).
print_table() {
  sort -k1,1 -k2,2 -k3,3n -k4,4g "$3" | awk -v repeats="$1" -v iters="$2" '
    function med(sys, k,   m) {
      m = cnt[sys, k]
      if (m == 0) return 0
      return m % 2 ? v[sys, k, (m + 1) / 2] : (v[sys, k, m / 2] + v[sys, k, m / 2 + 1]) / 2
    }
    function better(a, b) { return a > b ? a : b }
    { key = $2 " " $3
      if (!(key in seen)) { seen[key] = 1; order[n++] = key }
      v[$1, key, ++cnt[$1, key]] = $4
      if ($4 > best[$1, key]) best[$1, key] = $4
      wrong[$1, key] += $5 }
    END {
      printf "# 2 ranks, out-of-place busbw (GB/s) over %d repeats x %d iterations: best, and median\n", repeats, iters
      printf "%-11s %10s %8s %8s %8s %8s %7s | %8s %8s %7s | %6s %6s\n", "collective", "size (B)",
             "sf best", "ob1", "ucx", "ompi", "sf/ompi", "sf med", "ompi med", "sf/ompi",
             "#wr sf", "#wr mpi"
      for (i = 0; i < n; i++) {
        k = order[i]; split(k, f, " ")
        o = better(best["ob1", k], best["ucx", k])
        om = better(med("ob1", k), med("ucx", k))
        printf "%-11s %10s %8.3f %8.3f %8.3f %8.3f %7.2f | %8.3f %8.3f %7.2f | %6d %6d\n", f[1], f[2],
               best["sf", k], best["ob1", k], best["ucx", k], o, (o > 0 ? best["sf", k] / o : 0),
               med("sf", k), om, (om > 0 ? med("sf", k) / om : 0),
               wrong["sf", k], wrong["ob1", k] + wrong["ucx", k]
      }
    }'
}

if [ "${1:-}" = "--table" ]; then # reprint a run kept with SF_BENCH_RAW
  print_table "${3:-?}" "${4:-?}" "$2"
  exit 0
fi
for tool in mpicc mpirun; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench_peers: $tool not found; install Open MPI: apt-get install -y openmpi-bin libopenmpi-dev" >&2
    exit 1
  fi
done
[ -d "$build" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target shardflow -j2 >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mpicc -O2 -o "$tmp/bench_peers_mpi" tools/bench_peers_mpi.c

# mpirun refuses root unless told twice.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun --allow-run-as-root -np 2 --bind-to none)
# Open MPI 4.1's pml ucx only offers itself on InfiniBand unless every
# transport and device is allowed; then it runs over posix/sysv and cma.
ob1=(--mca pml ob1 --mca btl "self,vader")
ucx=(--mca pml ucx --mca pml_ucx_tls any --mca pml_ucx_devices any)

: >"$tmp/rows"
# Innermost loop: the three systems back to back on one (op, size), so a
# burst of load from elsewhere hits all of them alike.
for ((r = 1; r <= repeats; r++)); do
  echo "repeat $r of $repeats ..." >&2
  for op in all_gather all_to_all all_reduce; do
    for s in "${sizes[@]}"; do
      {
        "${mpi[@]}" "${ob1[@]}" "$tmp/bench_peers_mpi" "$op" "$iters" "$warmup" "$s" |
          awk '{print "ob1", $1, $2, $4, $5}'
        "${mpi[@]}" "${ucx[@]}" "$tmp/bench_peers_mpi" "$op" "$iters" "$warmup" "$s" |
          awk '{print "ucx", $1, $2, $4, $5}'
        # collbench's row: size count type redop root time algbw busbw #wrong ...
        "$build/shardflow" collbench --op "$op" --nproc 2 --min "$s" --max "$s" \
          --iters "$iters" --warmup "$warmup" |
          awk -v s="$s" -v op="$op" '$1 == s {print "sf", op, $1, $8, $9}'
      } >>"$tmp/rows"
    done
  done
done

print_table "$repeats" "$iters" "$tmp/rows"
[ -z "${SF_BENCH_RAW:-}" ] || cp "$tmp/rows" "$SF_BENCH_RAW"
