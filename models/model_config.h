/* Model configs: a synthetic preset (graphs/models/NAME.yaml) or a Hugging
 * Face checkpoint folder (config.json) read into one struct, checked
 * against a tensor-parallel size, and turned into graph params by the
 * model provider the loader calls with the value of a graph's `model`. */
#ifndef SF_MODEL_CONFIG_H
#define SF_MODEL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "dtype.h"
#include "graph.h"
#include "status.h"

typedef enum sf_model_arch {
    SF_MODEL_ARCH_LLAMA = 0, /* LlamaForCausalLM */
    SF_MODEL_ARCH_QWEN3,     /* Qwen3ForCausalLM: llama plus per-head q/k RMSNorm */
} sf_model_arch_t;

typedef struct sf_model_config {
    sf_model_arch_t arch;
    int64_t hidden_size;
    int64_t intermediate_size;
    int64_t num_hidden_layers;
    int64_t num_attention_heads;
    int64_t num_key_value_heads;
    int64_t head_dim;     /* given, or hidden_size / num_attention_heads */
    int64_t vocab_size;
    int64_t vocab_padded; /* vocab_size rounded up to a multiple of 64 (SGLang's lm_head) */
    double rms_norm_eps;
    double rope_theta;
    bool tie_word_embeddings;
    sf_dtype_t dtype;     /* torch_dtype: bf16, f16 or f32 */
    int64_t synthetic_seed; /* 0 for checkpoint folders */
} sf_model_config_t;

#define SF_MODEL_VOCAB_ALIGN 64

/* The largest sizes a model config may give (config.json or a preset):
 * widths (hidden_size, intermediate_size, head_dim) 2^20, counts (layers,
 * heads, kv heads) 2^16, vocab_size 2^24. Past them: SF_ERR_INPUT. */
#define SF_MODEL_MAX_WIDTH (INT64_C(1) << 20)
#define SF_MODEL_MAX_COUNT (INT64_C(1) << 16)
#define SF_MODEL_MAX_VOCAB (INT64_C(1) << 24)

/* "llama" / "qwen3", and the Hugging Face class names. */
const char *sf_model_arch_name(sf_model_arch_t a);
const char *sf_model_arch_hf_name(sf_model_arch_t a);

/* True for "synthetic:NAME". */
bool sf_model_is_synthetic(const char *model);

/* Read the config of `model`: "synthetic:NAME" is graph_dir/models/NAME.yaml
 * (NAME may also be a path to a .yaml file); anything else is a checkpoint
 * folder holding config.json. Sizes are checked (positive, head_dim set),
 * not the tensor-parallel split. Errors: SF_ERR_INPUT (missing file, bad
 * or missing field, unknown architecture), SF_ERR_PARSE (bad JSON/YAML),
 * naming the model and the file. */
SF_NODISCARD sf_status_t sf_model_config_load(const char *model, const char *graph_dir,
                                              sf_model_config_t *cfg, sf_err_t *err);

/* Can `world` ranks split this model as SGLang does? Heads, kv heads
 * (fewer kv heads than ranks: tp % kv == 0, each replicated), the MLP and
 * the padded vocab must divide. SF_ERR_INPUT naming both numbers. */
SF_NODISCARD sf_status_t sf_model_config_check_tp(const sf_model_config_t *cfg, int world,
                                                  sf_err_t *err);

/* The provider (see sf_model_provider_fn in graph.h): load, check against
 * world, then define the params listed in model_config.c. */
SF_NODISCARD sf_status_t sf_model_provider(const char *model, const char *graph_dir, int world,
                                           sf_param_def_t **defs, int *n, sf_err_t *err);

/* Install sf_model_provider in the loader. Call once at start-up. */
void sf_model_register(void);

#endif
