/* head_tile: the vocab-parallel lm_head a run of rows at a time, through
 * sf_op_matmul's kernel (see head_tile.h). */
#include "head_tile.h"

#include <string.h>

#include "op_shape.h"

extern const sf_op_desc_t sf_op_matmul;

/* x rows [first, first + n) and w rows [col0, col0 + ncols): the matmul's
 * operands. */
static void head_tile_operands(const sf_tensor_t *x, const sf_tensor_t *w, int64_t first,
                               int64_t n, int64_t col0, int64_t ncols, sf_tensor_t mm_in[2],
                               sf_tensor_t *mm_out, void *out_data, sf_buffer_t *out_buf)
{
    mm_in[0] = *x;
    mm_in[0].shape[0] = n;
    mm_in[0].offset += (uint64_t)(first * x->strides[0]) * sf_dtype_size(x->dtype);
    mm_in[1] = *w;
    mm_in[1].shape[0] = ncols;
    mm_in[1].offset += (uint64_t)(col0 * w->strides[0]) * sf_dtype_size(w->dtype);
    int64_t shape[2] = {n, ncols};
    *mm_out = sf_tensor_make(x->dtype, 2, shape);
    out_buf->data = out_data;
    mm_out->buf = out_buf;
}

void sf_head_tile_init(sf_head_tile_t *h, const sf_node_t *node, const sf_tensor_t *x,
                       const sf_tensor_t *w, int64_t max_rows, int64_t max_cols)
{
    memset(h, 0, sizeof *h);
    h->vloc = w->shape[0];
    const sf_op_desc_t *mm = &sf_op_matmul;
    SF_ASSERT(mm->n_attrs <= (int)(sizeof h->mm_attrs / sizeof h->mm_attrs[0]));
    for (int i = 0; i < mm->n_attrs; i++) {
        sf_attr_t *a = &h->mm_attrs[i];
        a->type = mm->attrs[i].type;
        a->s = (char *)"";
        a->b = strcmp(mm->attrs[i].name, "transpose_b") == 0;
        a->pos = node->pos;
    }
    h->mm_node = (sf_node_t){.name = node->name, .op = mm, .attrs = h->mm_attrs,
                             .pos = node->pos, .rank = node->rank, .world = node->world};
    /* The tallest product bounds the scratch of all (a matmul's scratch
     * never shrinks as its rows grow). */
    sf_tensor_t mm_in[2], mm_out;
    sf_buffer_t b = {0};
    int64_t n = max_rows < x->shape[0] ? max_rows : x->shape[0];
    if (n > SF_HEAD_TILE_ROWS)
        n = SF_HEAD_TILE_ROWS;
    int64_t cols = max_cols < h->vloc ? max_cols : h->vloc;
    head_tile_operands(x, w, 0, n, 0, cols, mm_in, &mm_out, NULL, &b);
    mm_out.buf = NULL;
    h->mm_bytes = mm->scratch_bytes != NULL
                      ? mm->scratch_bytes(&h->mm_node, NULL, mm_in, 2, &mm_out, 1)
                      : 0;
    h->mm_bytes = (h->mm_bytes + 63) / 64 * 64;
}

sf_status_t sf_head_tile_logits(const sf_head_tile_t *h, const sf_kernel_args_t *a,
                                void *mm_scratch, int64_t first, int64_t n, int64_t col0,
                                int64_t ncols, char *dst, void *in_flight, sf_err_t *err)
{
    size_t es = sf_dtype_size(a->in[0].dtype);
    for (int64_t done = 0; done < n; done += SF_HEAD_TILE_ROWS) {
        int64_t k = n - done < SF_HEAD_TILE_ROWS ? n - done : SF_HEAD_TILE_ROWS;
        sf_tensor_t mm_in[2], mm_out;
        sf_buffer_t b = {0};
        head_tile_operands(&a->in[0], &a->in[1], first + done, k, col0, ncols, mm_in, &mm_out,
                           dst + (size_t)(done * ncols) * es, &b);
        sf_kernel_args_t mm = {.op = &sf_op_matmul, .node = &h->mm_node, .in = mm_in,
                               .n_in = 2, .out = &mm_out, .n_out = 1, .scratch = mm_scratch,
                               .scratch_bytes = h->mm_bytes, .dev = a->dev, .env = a->env};
        sf_status_t st = sf_op_matmul.cpu_kernel(&mm, err);
        if (st == SF_OK && in_flight != NULL)
            st = sf_comm_test(a->env->comm, in_flight, err);
        if (st != SF_OK && st != SF_INPROGRESS)
            return st;
    }
    return SF_OK;
}
