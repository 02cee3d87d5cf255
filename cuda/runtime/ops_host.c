/* Ops whose values are made on the host by definition (weight: synthetic
 * numbers or a checkpoint read; random: SplitMix64 streams; draft_mask:
 * seeded Floyd draws or a checked t2d/d2t) run their CPU kernel on host
 * copies and upload the outputs, so the values are the CPU's bit for bit.
 * The host copies are plain malloc: host memory, outside the device's
 * tracked accounting, freed before returning. */
#include <stdlib.h>
#include <string.h>

#include "cuda_kernels.h"
#include "graph.h"

sf_status_t sf_cuda_host_stage(sf_device_t *dev, const sf_tensor_t *t, bool is_download,
                               sf_tensor_t *host, sf_buffer_t *buf, sf_err_t *err)
{
    uint64_t n = sf_tensor_span_bytes(t);
    memset(buf, 0, sizeof *buf);
    *host = *t;
    host->offset = 0;
    host->buf = buf;
    if (n == 0)
        return SF_OK;
    buf->data = malloc(n);
    if (buf->data == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "cuda: cannot stage %llu bytes on the host",
                          (unsigned long long)n);
    buf->nbytes = n;
    buf->dtype = t->dtype;
    if (!is_download)
        return SF_OK;
    return sf_device_download(dev, buf->data, sf_tensor_data(t), n, err);
}

sf_status_t sf_cuda_on_host(const sf_kernel_args_t *a, sf_err_t *err)
{
    enum { MAX_TENSORS = 16 };
    sf_tensor_t in[MAX_TENSORS], out[MAX_TENSORS];
    sf_buffer_t in_buf[MAX_TENSORS], out_buf[MAX_TENSORS];
    void *scratch = NULL;
    int n_in = 0, n_out = 0;
    sf_status_t st = SF_OK;
    if (a->n_in > MAX_TENSORS || a->n_out > MAX_TENSORS)
        return sf_err_set(err, SF_ERR_UNSUPPORTED, &a->node->pos,
                          "cuda: node '%s': more than %d inputs or outputs to stage on the host",
                          a->node->name, MAX_TENSORS);
    for (; st == SF_OK && n_in < a->n_in; n_in++)
        st = sf_cuda_host_stage(a->dev, &a->in[n_in], true, &in[n_in], &in_buf[n_in], err);
    /* An output in a strided slot keeps the bytes between its elements:
     * read them first, so the upload writes them back unchanged. */
    for (; st == SF_OK && n_out < a->n_out; n_out++)
        st = sf_cuda_host_stage(a->dev, &a->out[n_out], !sf_tensor_is_contiguous(&a->out[n_out]),
                                &out[n_out], &out_buf[n_out], err);
    if (st == SF_OK && a->scratch_bytes > 0 && (scratch = malloc(a->scratch_bytes)) == NULL)
        st = sf_err_set(err, SF_ERR_NOMEM, &a->node->pos,
                        "cuda: node '%s': cannot stage %llu bytes of scratch on the host",
                        a->node->name, (unsigned long long)a->scratch_bytes);
    if (st == SF_OK) {
        sf_kernel_args_t h = *a;
        h.in = in;
        h.out = out;
        h.scratch = scratch;
        h.dev = sf_device_cpu();
        st = a->op->cpu_kernel(&h, err);
    }
    for (int i = 0; st == SF_OK && i < n_out; i++)
        if (out_buf[i].data != NULL)
            st = sf_device_upload(a->dev, sf_tensor_data(&a->out[i]), out_buf[i].data,
                                  out_buf[i].nbytes, err);
    for (int i = 0; i < n_in; i++)
        free(in_buf[i].data);
    for (int i = 0; i < n_out; i++)
        free(out_buf[i].data);
    free(scratch);
    return st;
}
