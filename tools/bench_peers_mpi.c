/* The Open MPI side of tools/bench_peers.sh: MPI_Allgather, MPI_Alltoall and
 * MPI_Allreduce (f32 sum) timed the way `shardflow collbench` times its
 * collectives, so the two tables compare row by row: size is the bytes of
 * each rank's output buffer, the output is poisoned and the ranks meet in a
 * barrier before each timed call, the time is the mean over iterations
 * (the slowest rank's), busbw uses the nccl-tests factors, and every
 * result is checked (#wrong). Built by the script with mpicc; not part of
 * the CMake build, since CI has no MPI.
 * Usage: bench_peers_mpi OP ITERS WARMUP SIZE... (OP: all_gather,
 * all_to_all, all_reduce or all; sizes in bytes). Prints one line per
 * (op, size): "op size time_us busbw_gbs n_wrong". */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A small integer per (rank, index): every sum stays exact in f32. */
static float value_of(int rank, uint64_t i)
{
    return (float)((i * 2654435761u + (uint64_t)rank * 97u) % 61u);
}

typedef enum { OP_ALLGATHER, OP_ALLTOALL, OP_ALLREDUCE } op_t;

static const char *const op_names[] = {"all_gather", "all_to_all", "all_reduce"};

static uint64_t check(op_t op, int rank, int world, uint64_t n_out, uint64_t piece,
                      const float *out)
{
    uint64_t n_wrong = 0;
    for (uint64_t i = 0; i < n_out; i++) {
        float want = 0;
        if (op == OP_ALLGATHER)
            want = value_of((int)(i / piece), i % piece);
        else if (op == OP_ALLTOALL)
            want = value_of((int)(i / piece), (uint64_t)rank * piece + i % piece);
        else
            for (int p = 0; p < world; p++)
                want += value_of(p, i);
        n_wrong += out[i] != want;
    }
    return n_wrong;
}

static void run(op_t op, uint64_t size, int iters, int warmup, int rank, int world)
{
    uint64_t n_out = size / sizeof(float), piece = n_out / (uint64_t)world;
    uint64_t n_in = op == OP_ALLGATHER ? piece : n_out;
    if (op != OP_ALLREDUCE)
        n_out = piece * (uint64_t)world;
    float *in = malloc(n_in * sizeof *in), *out = malloc(n_out * sizeof *out);
    if (in == NULL || out == NULL) {
        fprintf(stderr, "bench_peers_mpi: out of memory at %llu bytes\n",
                (unsigned long long)size);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (uint64_t i = 0; i < n_in; i++)
        in[i] = value_of(rank, i);
    double total_s = 0;
    uint64_t n_wrong = 0;
    for (int it = 0; it < warmup + iters; it++) {
        memset(out, 0xff, n_out * sizeof *out);
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        if (op == OP_ALLGATHER)
            MPI_Allgather(in, (int)piece, MPI_FLOAT, out, (int)piece, MPI_FLOAT, MPI_COMM_WORLD);
        else if (op == OP_ALLTOALL)
            MPI_Alltoall(in, (int)piece, MPI_FLOAT, out, (int)piece, MPI_FLOAT, MPI_COMM_WORLD);
        else
            MPI_Allreduce(in, out, (int)n_out, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (it >= warmup)
            total_s += MPI_Wtime() - t0;
        n_wrong += check(op, rank, world, n_out, piece, out);
    }
    double mean_s = total_s / iters, max_s = 0;
    unsigned long long wrong = n_wrong, all_wrong = 0;
    MPI_Reduce(&mean_s, &max_s, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&wrong, &all_wrong, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    /* nccl-tests: allreduce 2(n-1)/n, allgather and alltoall (n-1)/n. */
    double factor = (op == OP_ALLREDUCE ? 2.0 : 1.0) * (world - 1) / world;
    if (rank == 0)
        printf("%s %llu %.2f %.3f %llu\n", op_names[op], (unsigned long long)size, max_s * 1e6,
               (double)size / max_s / 1e9 * factor, all_wrong);
    free(in);
    free(out);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, world;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (argc < 5) {
        if (rank == 0)
            fprintf(stderr, "usage: bench_peers_mpi OP ITERS WARMUP SIZE...\n");
        MPI_Finalize();
        return 2;
    }
    int iters = atoi(argv[2]), warmup = atoi(argv[3]);
    for (int op = OP_ALLGATHER; op <= OP_ALLREDUCE; op++)
        if (strcmp(argv[1], "all") == 0 || strcmp(argv[1], op_names[op]) == 0)
            for (int a = 4; a < argc; a++)
                run((op_t)op, strtoull(argv[a], NULL, 10), iters, warmup, rank, world);
    MPI_Finalize();
    return 0;
}
