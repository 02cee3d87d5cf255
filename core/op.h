/* What an op is: its descriptor (inputs, outputs, attrs with types and
 * defaults, a shape/dtype rule, whether its outputs are views, scratch, and
 * one kernel per device) and the registry that ops/ fills at start-up.
 * The executor reaches ops only through this header. */
#ifndef SF_OP_H
#define SF_OP_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "status.h"
#include "tensor.h"

typedef struct sf_node sf_node_t;

typedef enum sf_attr_type {
    SF_ATTR_INT = 0, /* an integer expression over params */
    SF_ATTR_FLOAT,   /* a number (ints accepted) */
    SF_ATTR_BOOL,
    SF_ATTR_STRING,
    SF_ATTR_INTS,    /* a list of integer expressions */
    SF_ATTR_DTYPE,   /* a dtype name, parsed with sf_dtype_parse */
} sf_attr_type_t;

const char *sf_attr_type_name(sf_attr_type_t t);

typedef struct sf_op_attr_desc {
    const char *name;
    sf_attr_type_t type;
    /* YAML text of the default, parsed exactly like user input (so "-1",
     * "[]", "f32", "0.0"); NULL means the attr is required. */
    const char *default_text;
    const char *doc; /* one line */
} sf_op_attr_desc_t;

/* A node's attr after loading: always present (given or defaulted). */
typedef struct sf_attr {
    sf_attr_type_t type;
    int64_t i;
    double f;
    bool b;
    char *s;        /* owned: STRING */
    int64_t *ints;  /* owned: INTS */
    int n_ints;
    sf_dtype_t dtype;
    bool is_given;  /* written in the YAML (false: the default) */
    sf_pos_t pos;   /* of the value if given, else of the node */
} sf_attr_t;

/* The rank's communicator (collectives/coll.h). Only its name here: core
 * comes before collectives and does not include its headers. */
struct sf_comm;

/* Run-time context a kernel may need beyond its tensors. Borrowed. The
 * rank and the world size are the comm's (sf_comm_rank, sf_comm_size). */
typedef struct sf_exec_env {
    struct sf_comm *comm; /* borrowed; the rank's collectives backend, never
                           * NULL (one rank runs the self comm) */
} sf_exec_env_t;

typedef struct sf_op_desc sf_op_desc_t;

typedef struct sf_kernel_args {
    const sf_op_desc_t *op; /* borrowed: the node's op (core cannot see sf_node_t) */
    const sf_node_t *node;
    const sf_tensor_t *in; /* n_in inputs, buffers bound */
    int n_in;
    sf_tensor_t *out; /* n_out outputs, buffers bound and allocated */
    int n_out;
    const void *prepared; /* borrowed: what the op's prepare hook made, or NULL */
    void *scratch; /* scratch_bytes of tracked device memory, or NULL */
    uint64_t scratch_bytes;
    sf_device_t *dev;
    const sf_exec_env_t *env;
} sf_kernel_args_t;

/* Run the node. May block until done. Returns SF_OK or fills err. */
typedef sf_status_t (*sf_kernel_fn)(const sf_kernel_args_t *a, sf_err_t *err);

/* Shape/dtype rule. in[] hold the input layouts (buf NULL). Fill out[] with
 * each output's layout: dtype, ndim, shape, strides and offset. For an op
 * whose outputs are views of input 0, offset and strides describe the view
 * relative to input 0's buffer (start from in[0].offset/strides); otherwise
 * contiguous at offset 0 (sf_tensor_make). On a broken rule return
 * SF_ERR_GRAPH through sf_err_set with &node->pos (or the attr's pos) and a
 * message naming the node, the tensor, what was found and what was expected. */
typedef sf_status_t (*sf_op_infer_fn)(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                      sf_tensor_t *out, int n_out, sf_err_t *err);

/* Per-node preparation, once per run, after shape inference and before
 * anything is allocated: derive what the scratch rule and the kernel both
 * need (a redistribution's placements and piece sizes) so that neither
 * derives it again. in/out hold the node's layouts (buf NULL). On SF_OK,
 * *prepared is NULL or a heap block the caller owns and releases with
 * free(); it reaches the scratch rule as `prepared` and the kernel as
 * sf_kernel_args_t.prepared. Errors are the node's (SF_ERR_GRAPH with its
 * position). Never blocks. */
typedef sf_status_t (*sf_op_prepare_fn)(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                                        const sf_tensor_t *out, int n_out, void **prepared,
                                        sf_err_t *err);

/* Bytes of scratch the kernel needs on the node's device (tracked like any
 * buffer, allocated just before the kernel, freed just after). prepared is
 * what the op's prepare hook made (NULL without one). */
typedef uint64_t (*sf_op_scratch_fn)(const sf_node_t *node, const void *prepared,
                                     const sf_tensor_t *in, int n_in, const sf_tensor_t *out,
                                     int n_out);

/* In-place slot: may input k be computed straight into part of output 0?
 * out is output 0's layout (contiguous at offset 0). On true, *offset_bytes
 * is where input k's element 0 would sit, in bytes from output 0's element 0
 * (negative when a shift puts part of the input before the start: the
 * planner then allocates a margin), and strides[] the strides (in elements)
 * it would have there. The kernel must then find the input already in its
 * place: sf_tensor_copy_host skips a copy onto itself. */
typedef bool (*sf_op_slot_fn)(const sf_node_t *node, const sf_tensor_t *in, int n_in,
                              const sf_tensor_t *out, int k, int64_t *offset_bytes,
                              int64_t *strides);

struct sf_op_desc {
    const char *name;
    const char *doc; /* one line for `shardflow ops` */
    int min_inputs;
    int max_inputs; /* -1: any number */
    int min_outputs;
    int max_outputs; /* -1: any number */
    const sf_op_attr_desc_t *attrs; /* borrowed static table */
    int n_attrs;
    sf_op_infer_fn infer; /* required */
    /* Outputs are views of input 0: nothing is allocated, no kernel runs. */
    bool outputs_are_views;
    /* Outputs live until the run ends, whoever reads them (model weights:
     * loaded once, kept like the parameters of a real model). */
    bool outputs_persist;
    /* The kernel writes its outputs through their strides, so the planner
     * may give an output a strided slot of a consumer's output (a column
     * block of a concat along the last dim). False: contiguous slots only. */
    bool writes_strided;
    sf_op_slot_fn input_slot;       /* optional; default: no input is ever in place */
    sf_op_prepare_fn prepare;       /* optional; default: nothing to prepare */
    sf_op_scratch_fn scratch_bytes; /* optional; default 0 */
    /* The reference kernel, which the cpu device runs; NULL for a view op.
     * Other devices keep their own kernels (see device.h) and are tested
     * against this one. */
    sf_kernel_fn cpu_kernel;
};

/* Registry. Register is for start-up (ops/ calls it from
 * sf_ops_register_all); a second descriptor with the same name is our bug.
 * id is the op's SF_OP_ID_* from ops/op_ids.h (a device's kernel tables are
 * indexed by it), or SF_OP_ID_NONE for an op outside ops.def (tests). */
#define SF_OP_ID_NONE (-1)
void sf_op_register(const sf_op_desc_t *desc, int id);
/* The id desc was registered with; SF_OP_ID_NONE if none or not registered. */
int sf_op_id(const sf_op_desc_t *desc);
const sf_op_desc_t *sf_op_find(const char *name);
int sf_op_count(void);
/* Registered ops sorted by name. */
const sf_op_desc_t *sf_op_at(int i);
/* Index of attr `name` in desc->attrs, -1 if none. */
int sf_op_attr_index(const sf_op_desc_t *desc, const char *name);

/* Filled by ops/ (ops/registry.c); tools call it once at start. Idempotent. */
void sf_ops_register_all(void);

#endif
