/* redistribute: change a tensor's placement across the ranks of the group.
 *   shard(d) -> replicated  all_gather along d (all_gatherv for uneven shards)
 *   shard(d) -> shard(e)    all_to_all: split along e, gather along d
 *   partial  -> replicated  all_reduce (sum or max)
 * Pieces travel straight between the tensors when they are contiguous
 * there (a split or gather along the leading dim); otherwise they are
 * packed into, or received into, tracked scratch and copied in place, as
 * torch's list-of-chunks + cat does. The backend is the rank's comm: a
 * graph never names one. */
#include <stdlib.h>
#include <string.h>

#include "coll.h"
#include "graph.h"
#include "op.h"
#include "op_comm.h"
#include "op_shape.h"

static const sf_op_attr_desc_t redistribute_attrs[] = {
    {"from", SF_ATTR_STRING, NULL, "placement of the input: shard(D), replicated or partial"},
    {"to", SF_ATTR_STRING, NULL, "placement of the output: shard(D) or replicated"},
    {"via", SF_ATTR_STRING, "\"\"",
     "collective expected (all_gather, all_to_all, all_reduce); checked against from/to"},
    {"sizes", SF_ATTR_INTS, "[]",
     "per-rank sizes along the split dim (uneven all_to_all) or gathered dim; default equal"},
    {"reduce", SF_ATTR_STRING, "sum", "partial -> replicated: sum or max"},
    {"in_place", SF_ATTR_BOOL, "false",
     "all_reduce: the input may already sit in the output when nothing else reads it; off "
     "by default so graphs that do not ask keep their planned figures"},
};

#define REDIST_MAX_WORLD 256

typedef enum placement_kind { PLACE_SHARD, PLACE_REPLICATED, PLACE_PARTIAL } placement_kind_t;

typedef struct placement {
    placement_kind_t kind;
    int dim; /* PLACE_SHARD */
} placement_t;

/* What the node does on this rank: derived by the shape rule (for the
 * output's shape) and once more by the prepare hook, whose copy the scratch
 * rule and the kernel read. Element counts, not bytes. */
typedef struct redist_route {
    sf_coll_kind_t coll;
    int gather_dim;  /* all_gather / all_to_all: dim the pieces are stacked along */
    int split_dim;   /* all_to_all: dim the input is cut along; -1 otherwise */
    int world, rank;
    int64_t gather_sizes[REDIST_MAX_WORLD];  /* per rank, along gather_dim of the output */
    int64_t split_sizes[REDIST_MAX_WORLD];   /* per rank, along split_dim of the input */
    bool pack_send;  /* input pieces are not contiguous: pack them first */
    bool direct_recv; /* received pieces land in the output as they are */
} redist_route_t;

static sf_status_t parse_placement(const sf_node_t *node, const char *attr, int ndim,
                                   placement_t *out, sf_err_t *err)
{
    const char *s = sf_node_attr_str(node, attr);
    const sf_pos_t *pos = sf_op_shape_attr_pos(node, attr);
    if (strcmp(s, "replicated") == 0) {
        *out = (placement_t){PLACE_REPLICATED, -1};
        return SF_OK;
    }
    if (strcmp(s, "partial") == 0) {
        *out = (placement_t){PLACE_PARTIAL, -1};
        return SF_OK;
    }
    long d;
    char close = 0;
    int n = sscanf(s, "shard(%ld%c", &d, &close);
    size_t len = strlen(s);
    if (n == 2 && close == ')' && len > 0 && s[len - 1] == ')') {
        if (d < 0)
            d += ndim;
        if (d < 0 || d >= ndim)
            return sf_err_set(err, SF_ERR_GRAPH, pos,
                              "node '%s': %s '%s': dim out of range for a %d-dim tensor",
                              node->name, attr, s, ndim);
        *out = (placement_t){PLACE_SHARD, (int)d};
        return SF_OK;
    }
    return sf_err_set(err, SF_ERR_GRAPH, pos,
                      "node '%s': %s '%s' is not a placement (expected shard(D), replicated "
                      "or partial)",
                      node->name, attr, s);
}

/* Are elements [start, start+len) along dim a contiguous run of t? True
 * when t is contiguous and every dim before `dim` has size 1. */
static bool leading_dim(const sf_tensor_t *t, int dim)
{
    if (!sf_tensor_is_contiguous(t))
        return false;
    for (int i = 0; i < dim; i++)
        if (t->shape[i] != 1)
            return false;
    return true;
}

static sf_status_t equal_or_given(const sf_node_t *node, int64_t total, int world,
                                  int64_t *sizes, sf_err_t *err)
{
    int n;
    const int64_t *given = sf_node_attr_ints(node, "sizes", &n);
    const sf_pos_t *pos = sf_op_shape_attr_pos(node, "sizes");
    if (n == 0) {
        if (total % world != 0)
            return sf_err_set(err, SF_ERR_GRAPH, pos,
                              "node '%s': size %lld does not divide by world %d (give `sizes` "
                              "for an uneven split)",
                              node->name, (long long)total, world);
        for (int p = 0; p < world; p++)
            sizes[p] = total / world;
        return SF_OK;
    }
    if (n != world)
        return sf_err_set(err, SF_ERR_GRAPH, pos,
                          "node '%s': sizes %s has %d entries, expected one per rank (world %d)",
                          node->name, sf_op_shape_ints_str(n, given).s, n, world);
    int64_t sum = 0;
    for (int p = 0; p < world; p++) {
        if (given[p] < 0)
            return sf_err_set(err, SF_ERR_GRAPH, pos, "node '%s': sizes %s has a negative entry",
                              node->name, sf_op_shape_ints_str(n, given).s);
        sizes[p] = given[p];
        sum += given[p];
    }
    if (sum != total)
        return sf_err_set(err, SF_ERR_GRAPH, pos,
                          "node '%s': sizes %s sum to %lld, expected %lld", node->name,
                          sf_op_shape_ints_str(n, given).s, (long long)sum, (long long)total);
    return SF_OK;
}

static sf_status_t route_make(const sf_node_t *node, const sf_tensor_t *in, const sf_tensor_t *out,
                              redist_route_t *p, sf_err_t *err)
{
    memset(p, 0, sizeof *p);
    p->world = node->world > 0 ? node->world : 1;
    p->rank = node->rank;
    p->split_dim = -1;
    if (p->world > REDIST_MAX_WORLD)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, &node->pos,
                          "node '%s': world %d is over the %d ranks redistribute supports",
                          node->name, p->world, REDIST_MAX_WORLD);
    placement_t from, to;
    sf_status_t st = parse_placement(node, "from", in->ndim, &from, err);
    if (st == SF_OK)
        st = parse_placement(node, "to", in->ndim, &to, err);
    if (st != SF_OK)
        return st;
    const sf_pos_t *to_pos = sf_op_shape_attr_pos(node, "to");
    if (from.kind == PLACE_PARTIAL && to.kind == PLACE_REPLICATED) {
        p->coll = SF_COLL_ALLREDUCE;
    } else if (from.kind == PLACE_SHARD && to.kind == PLACE_REPLICATED) {
        p->coll = SF_COLL_ALLGATHER;
        p->gather_dim = from.dim;
        /* Shard sizes along the gathered dim: this rank's, on every rank,
         * unless `sizes` names each rank's (an uneven gather). */
        int n;
        const int64_t *sizes = sf_node_attr_ints(node, "sizes", &n);
        const sf_pos_t *pos = sf_op_shape_attr_pos(node, "sizes");
        if (n != 0 && n != p->world)
            return sf_err_set(err, SF_ERR_GRAPH, pos,
                              "node '%s': sizes %s has %d entries, expected one per rank "
                              "(world %d)",
                              node->name, sf_op_shape_ints_str(n, sizes).s, n, p->world);
        for (int r = 0; r < p->world; r++) {
            p->gather_sizes[r] = n == 0 ? in->shape[from.dim] : sizes[r];
            if (p->gather_sizes[r] < 0)
                return sf_err_set(err, SF_ERR_GRAPH, pos,
                                  "node '%s': sizes %s has a negative entry", node->name,
                                  sf_op_shape_ints_str(n, sizes).s);
        }
        if (p->gather_sizes[p->rank] != in->shape[from.dim])
            return sf_err_set(err, SF_ERR_GRAPH, pos,
                              "node '%s': rank %d's shard has %lld along dim %d but sizes says "
                              "%lld",
                              node->name, p->rank, (long long)in->shape[from.dim], from.dim,
                              (long long)p->gather_sizes[p->rank]);
    } else if (from.kind == PLACE_SHARD && to.kind == PLACE_SHARD && from.dim != to.dim) {
        p->coll = SF_COLL_ALLTOALLV;
        p->gather_dim = from.dim;
        p->split_dim = to.dim;
        for (int r = 0; r < p->world; r++)
            p->gather_sizes[r] = in->shape[from.dim];
        if ((st = equal_or_given(node, in->shape[to.dim], p->world, p->split_sizes, err)) != SF_OK)
            return st;
    } else {
        return sf_err_set(err, SF_ERR_GRAPH, to_pos,
                          "node '%s': no collective moves %s to %s (expected shard(D) -> "
                          "replicated, shard(D) -> shard(E) with E != D, or partial -> "
                          "replicated)",
                          node->name, sf_node_attr_str(node, "from"), sf_node_attr_str(node, "to"));
    }
    const char *via = sf_node_attr_str(node, "via");
    if (via[0] != '\0' && strcmp(via, sf_coll_kind_name(p->coll)) != 0)
        return sf_err_set(err, SF_ERR_GRAPH, sf_op_shape_attr_pos(node, "via"),
                          "node '%s': %s -> %s is an %s, not %s", node->name,
                          sf_node_attr_str(node, "from"), sf_node_attr_str(node, "to"),
                          sf_coll_kind_name(p->coll), via);
    if (p->coll == SF_COLL_ALLTOALLV)
        p->pack_send = !leading_dim(in, p->split_dim);
    else
        p->pack_send = !sf_tensor_is_contiguous(in);
    if (out != NULL && p->coll != SF_COLL_ALLREDUCE)
        p->direct_recv = leading_dim(out, p->gather_dim);
    else
        p->direct_recv = true;
    return SF_OK;
}

static sf_status_t redistribute_infer(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                      sf_tensor_t *out, int n_out, sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    redist_route_t p;
    sf_status_t st = route_make(node, &in[0], NULL, &p, err);
    if (st != SF_OK)
        return st;
    int64_t shape[SF_MAX_DIMS];
    memcpy(shape, in[0].shape, sizeof shape);
    if (p.coll == SF_COLL_ALLGATHER || p.coll == SF_COLL_ALLTOALLV) {
        int64_t total = 0;
        for (int r = 0; r < p.world; r++)
            total += p.gather_sizes[r];
        shape[p.gather_dim] = total;
        if (p.coll == SF_COLL_ALLTOALLV)
            shape[p.split_dim] = p.split_sizes[p.rank];
    }
    out[0] = sf_tensor_make(in[0].dtype, in[0].ndim, shape);
    return SF_OK;
}

/* Elements of one piece: the input's shape with dim `d` set to `size`. */
static int64_t piece_numel(const sf_tensor_t *t, int d, int64_t size)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= i == d ? size : t->shape[i];
    return n;
}

static sf_status_t redistribute_prepare(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                        const sf_tensor_t *out, int n_out, void **prepared,
                                        sf_err_t *err)
{
    (void)n_in;
    (void)n_out;
    *prepared = NULL;
    redist_route_t *p = malloc(sizeof *p);
    SF_ASSERT(p != NULL);
    sf_status_t st = route_make(node, &in[0], &out[0], p, err);
    if (st != SF_OK) {
        free(p);
        return st;
    }
    *prepared = p;
    return SF_OK;
}

static uint64_t redistribute_scratch(const sf_node_t *node, const void *prepared,
                                     const sf_tensor_t *in, int n_in, const sf_tensor_t *out,
                                     int n_out)
{
    (void)node;
    (void)n_in;
    (void)n_out;
    const redist_route_t *p = prepared;
    uint64_t bytes = 0;
    if (p->pack_send)
        bytes += sf_tensor_nbytes(&in[0]);
    if (!p->direct_recv)
        bytes += sf_tensor_nbytes(&out[0]);
    return bytes;
}

static sf_memkind_t memkind_of(const sf_device_t *dev)
{
    return sf_device_mem_kind(dev);
}

/* Copy received piece p (contiguous at `src`) into its place in `out`.
 * Copies go through the device, so this kernel runs wherever the device
 * can copy strided tensors and the comm can move its memory (cpu with UCX,
 * cuda with NCCL). */
static sf_status_t unpack_piece(sf_device_t *dev, sf_tensor_t *out, int dim, int64_t start,
                                int64_t size, void *src, sf_err_t *err)
{
    sf_tensor_t dst = *out, from;
    SF_ASSERT(sf_tensor_view_slice(out, dim, start, start + size, 1, &dst, err) == SF_OK);
    from = sf_tensor_make(out->dtype, out->ndim, dst.shape);
    sf_buffer_t b = {.data = src};
    from.buf = &b;
    return sf_device_copy_tensor(dev, &dst, &from, err);
}

static sf_status_t redistribute_kernel(const sf_kernel_args_t *a, sf_err_t *err)
{
    const sf_node_t *node = a->node;
    const sf_tensor_t *in = &a->in[0];
    sf_tensor_t *out = &a->out[0];
    const redist_route_t *p = a->prepared;
    sf_status_t st;
    /* The graph was shaped for a rank and world; the comm (the self comm
     * on one rank) says who runs it. */
    sf_comm_t *comm = a->env->comm;
    if ((st = sf_op_comm_check(node, comm, err)) != SF_OK)
        return st;
    size_t es = sf_dtype_size(in->dtype);
    char *scratch = a->scratch;
    char *send = sf_tensor_data(in);
    if (p->pack_send) {
        /* The input is not one contiguous run per destination rank: copy
         * each rank's piece into scratch, back to back in rank order. */
        char *dst = scratch;
        if (p->coll == SF_COLL_ALLTOALLV) {
            int64_t off = 0;
            for (int r = 0; r < p->world; r++) {
                sf_tensor_t v;
                SF_ASSERT(sf_tensor_view_slice(in, p->split_dim, off, off + p->split_sizes[r], 1, &v,
                                               err) == SF_OK);
                sf_tensor_t c = sf_tensor_make(in->dtype, in->ndim, v.shape);
                sf_buffer_t b = {.data = dst};
                c.buf = &b;
                if ((st = sf_device_copy_tensor(a->dev, &c, &v, err)) != SF_OK)
                    return st;
                dst += (size_t)sf_tensor_numel(&c) * es;
                off += p->split_sizes[r];
            }
        } else {
            sf_tensor_t c = sf_tensor_make(in->dtype, in->ndim, in->shape);
            sf_buffer_t b = {.data = dst};
            c.buf = &b;
            if ((st = sf_device_copy_tensor(a->dev, &c, in, err)) != SF_OK)
                return st;
        }
        send = scratch;
        scratch += sf_tensor_nbytes(in);
    }
    char *recv = p->direct_recv ? sf_tensor_data(out) : scratch;
    /* An asynchronous device's kernels (the producer of `in`, the packing
     * copies) must be done before the comm, on its own stream, reads. */
    if ((st = sf_device_sync(a->dev, err)) != SF_OK)
        return st;

    if (p->coll == SF_COLL_ALLREDUCE) {
        sf_coll_args_t c = {.kind = SF_COLL_ALLREDUCE, .mem = memkind_of(a->dev), .dtype = in->dtype,
                            .send = send, .recv = recv, .count = (uint64_t)sf_tensor_numel(in),
                            .op = strcmp(sf_node_attr_str(node, "reduce"), "max") == 0
                                      ? SF_REDUCE_MAX : SF_REDUCE_SUM,
                            .what = node->name};
        st = sf_coll_run(comm, &c, err);
    } else {
        uint64_t sc[REDIST_MAX_WORLD], sd[REDIST_MAX_WORLD], rc[REDIST_MAX_WORLD], rd[REDIST_MAX_WORLD];
        uint64_t soff = 0, roff = 0;
        bool uniform = p->coll == SF_COLL_ALLGATHER;
        for (int r = 0; r < p->world; r++) {
            if (p->coll == SF_COLL_ALLTOALLV) {
                sc[r] = (uint64_t)piece_numel(in, p->split_dim, p->split_sizes[r]);
                rc[r] = (uint64_t)piece_numel(in, p->split_dim, p->split_sizes[p->rank]);
            } else {
                sc[r] = (uint64_t)sf_tensor_numel(in);
                rc[r] = (uint64_t)piece_numel(out, p->gather_dim, p->gather_sizes[r]);
                uniform = uniform && rc[r] == sc[r];
            }
            sd[r] = p->coll == SF_COLL_ALLTOALLV ? soff : 0;
            rd[r] = roff;
            soff += sc[r];
            roff += rc[r];
        }
        sf_coll_args_t c = {.mem = memkind_of(a->dev), .dtype = in->dtype, .send = send,
                            .recv = recv, .what = node->name};
        if (uniform) {
            c.kind = SF_COLL_ALLGATHER;
            c.count = (uint64_t)sf_tensor_numel(in);
        } else if (p->coll == SF_COLL_ALLGATHER) {
            /* Uneven shards: every rank sends its one piece to all. */
            c.kind = SF_COLL_ALLGATHERV;
            c.recv_counts = rc;
            c.recv_displs = rd;
        } else {
            c.kind = SF_COLL_ALLTOALLV;
            c.send_counts = sc;
            c.send_displs = sd;
            c.recv_counts = rc;
            c.recv_displs = rd;
        }
        st = sf_coll_run(comm, &c, err);
    }
    if (st != SF_OK || p->direct_recv)
        return st;
    /* Received pieces sit back to back in scratch, in rank order: put each
     * at its place along the gathered dim. */
    int64_t start = 0;
    for (int r = 0; r < p->world; r++) {
        int64_t size = p->gather_sizes[r];
        if ((st = unpack_piece(a->dev, out, p->gather_dim, start, size, recv, err)) != SF_OK)
            return st;
        recv += (size_t)piece_numel(out, p->gather_dim, size) * es;
        start += size;
    }
    return SF_OK;
}

/* An all_reduce may run with send == recv (collectives/coll.h), so its
 * input may be computed straight into its output. Other collectives
 * gather or exchange pieces of different sizes: no slot. */
static bool redistribute_slot(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                              const sf_tensor_t *out, int k, int64_t *offset_bytes,
                              int64_t *strides)
{
    (void)n_in;
    (void)k;
    if (!sf_node_attr_bool(node, "in_place") ||
        strcmp(sf_node_attr_str(node, "from"), "partial") != 0 ||
        !sf_tensor_is_contiguous(&in[0]) || sf_tensor_numel(&in[0]) != sf_tensor_numel(out))
        return false;
    return sf_op_shape_slot_whole(out, offset_bytes, strides);
}

const sf_op_desc_t sf_op_redistribute = {
    .name = "redistribute",
    .doc = "change placement across ranks: all_gather, all_to_all(v) or all_reduce",
    .min_inputs = 1,
    .max_inputs = 1,
    .min_outputs = 1,
    .max_outputs = 1,
    .attrs = redistribute_attrs,
    .n_attrs = sizeof redistribute_attrs / sizeof redistribute_attrs[0],
    .infer = redistribute_infer,
    .input_slot = redistribute_slot,
    .prepare = redistribute_prepare,
    .scratch_bytes = redistribute_scratch,
    .cpu_kernel = redistribute_kernel,
};
