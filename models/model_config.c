/* Model configs from a synthetic preset or a Hugging Face config.json, and
 * the model provider that turns one into graph params. Invariant: every
 * size is checked before any param is defined, and the tensor-parallel
 * checks run before anything is allocated for a run. */
#include "model_config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "file_read.h"

#define SYNTH_PREFIX "synthetic:"
#define CONFIG_MAX_BYTES (16u << 20)

const char *sf_model_arch_name(sf_model_arch_t a)
{
    return a == SF_MODEL_ARCH_QWEN3 ? "qwen3" : "llama";
}

const char *sf_model_arch_hf_name(sf_model_arch_t a)
{
    return a == SF_MODEL_ARCH_QWEN3 ? "Qwen3ForCausalLM" : "LlamaForCausalLM";
}

bool sf_model_is_synthetic(const char *model)
{
    return strncmp(model, SYNTH_PREFIX, strlen(SYNTH_PREFIX)) == 0;
}

static bool arch_parse(const char *s, sf_model_arch_t *out)
{
    if (strcmp(s, "llama") == 0 || strcmp(s, "LlamaForCausalLM") == 0)
        *out = SF_MODEL_ARCH_LLAMA;
    else if (strcmp(s, "qwen3") == 0 || strcmp(s, "Qwen3ForCausalLM") == 0)
        *out = SF_MODEL_ARCH_QWEN3;
    else
        return false;
    return true;
}

/* Sizes every later step divides by: checked once, here. */
static sf_status_t config_finish(sf_model_config_t *c, const char *model, const char *file,
                                 sf_err_t *err)
{
    sf_pos_t pos = {file, 0, 0};
    /* Limits far above any published model (Llama 3.1 405B: hidden 16384,
     * intermediate 53248, 126 layers, 128 heads, vocab 128256) and low
     * enough that every weight's byte size is far from overflowing: a
     * config past them is a typo or hostile, refused before anything is
     * allocated. */
    struct {
        const char *name;
        int64_t v;
        int64_t max;
    } sizes[] = {
        {"hidden_size", c->hidden_size, SF_MODEL_MAX_WIDTH},
        {"intermediate_size", c->intermediate_size, SF_MODEL_MAX_WIDTH},
        {"num_hidden_layers", c->num_hidden_layers, SF_MODEL_MAX_COUNT},
        {"num_attention_heads", c->num_attention_heads, SF_MODEL_MAX_COUNT},
        {"num_key_value_heads", c->num_key_value_heads, SF_MODEL_MAX_COUNT},
        {"vocab_size", c->vocab_size, SF_MODEL_MAX_VOCAB},
        {"head_dim", c->head_dim, SF_MODEL_MAX_WIDTH},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (sizes[i].v > sizes[i].max)
            return sf_err_set(err, SF_ERR_INPUT, &pos,
                              "model '%s': %s is %lld, more than the limit of %lld", model,
                              sizes[i].name, (long long)sizes[i].v, (long long)sizes[i].max);
        if (sizes[i].v <= 0 && strcmp(sizes[i].name, "head_dim") != 0) /* 0: derived below */
            return sf_err_set(err, SF_ERR_INPUT, &pos, "model '%s': %s is %lld, expected > 0",
                              model, sizes[i].name, (long long)sizes[i].v);
    }
    if (c->head_dim == 0) {
        if (c->hidden_size % c->num_attention_heads != 0)
            return sf_err_set(err, SF_ERR_INPUT, &pos,
                              "model '%s': no head_dim, and hidden_size %lld does not divide by "
                              "num_attention_heads %lld",
                              model, (long long)c->hidden_size, (long long)c->num_attention_heads);
        c->head_dim = c->hidden_size / c->num_attention_heads;
    }
    if (c->head_dim <= 0)
        return sf_err_set(err, SF_ERR_INPUT, &pos, "model '%s': head_dim is %lld, expected > 0",
                          model, (long long)c->head_dim);
    if (c->num_attention_heads % c->num_key_value_heads != 0)
        return sf_err_set(err, SF_ERR_INPUT, &pos,
                          "model '%s': num_attention_heads %lld does not divide by "
                          "num_key_value_heads %lld",
                          model, (long long)c->num_attention_heads,
                          (long long)c->num_key_value_heads);
    if (!(c->rms_norm_eps > 0) || !(c->rope_theta > 0))
        return sf_err_set(err, SF_ERR_INPUT, &pos,
                          "model '%s': rms_norm_eps %g and rope_theta %g, expected both > 0",
                          model, c->rms_norm_eps, c->rope_theta);
    if (c->dtype != SF_DTYPE_BF16 && c->dtype != SF_DTYPE_F16 && c->dtype != SF_DTYPE_F32)
        return sf_err_set(err, SF_ERR_INPUT, &pos,
                          "model '%s': dtype %s, expected bf16, f16 or f32", model,
                          sf_dtype_name(c->dtype));
    c->vocab_padded = (c->vocab_size + SF_MODEL_VOCAB_ALIGN - 1) / SF_MODEL_VOCAB_ALIGN *
                      SF_MODEL_VOCAB_ALIGN;
    return SF_OK;
}

/* --- synthetic presets: a graph file with `name` and `params` only ------------ */

static void list_presets(const char *dir, char *out, size_t n)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        int w = snprintf(out + used, n - used, "%s%.*s", used ? ", " : "", (int)(len - 5),
                         e->d_name);
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
    closedir(d);
}

static const sf_param_t *preset_param(const sf_graph_t *g, const char *name, sf_value_type_t t,
                                      bool is_required, const char *path, sf_err_t *err,
                                      sf_status_t *st)
{
    *st = SF_OK;
    const sf_param_t *p = sf_graph_find_param(g, name);
    if (p == NULL) {
        if (is_required)
            *st = sf_err_set(err, SF_ERR_INPUT, &(sf_pos_t){path, 1, 1},
                             "preset has no param '%s'", name);
        return NULL;
    }
    bool is_ok = p->value.type == t || (t == SF_VALUE_FLOAT && p->value.type == SF_VALUE_INT);
    if (!is_ok) {
        *st = sf_err_set(err, SF_ERR_INPUT, &p->pos, "preset param '%s' is a %s, expected a %s",
                         name, sf_value_type_name(p->value.type), sf_value_type_name(t));
        return NULL;
    }
    return p;
}

static sf_status_t preset_int(const sf_graph_t *g, const char *name, bool is_required,
                              int64_t *out, const char *path, sf_err_t *err)
{
    sf_status_t st;
    const sf_param_t *p = preset_param(g, name, SF_VALUE_INT, is_required, path, err, &st);
    if (p != NULL)
        *out = p->value.i;
    return st;
}

static sf_status_t preset_float(const sf_graph_t *g, const char *name, double *out,
                                const char *path, sf_err_t *err)
{
    sf_status_t st;
    const sf_param_t *p = preset_param(g, name, SF_VALUE_FLOAT, true, path, err, &st);
    if (p != NULL)
        *out = p->value.type == SF_VALUE_INT ? (double)p->value.i : p->value.f;
    return st;
}

static sf_status_t config_from_preset(const char *model, const char *graph_dir,
                                      sf_model_config_t *c, sf_err_t *err)
{
    const char *name = model + strlen(SYNTH_PREFIX);
    char path[4200], dir[4096];
    snprintf(dir, sizeof dir, "%s/models", graph_dir != NULL ? graph_dir : ".");
    if (strchr(name, '/') != NULL)
        snprintf(path, sizeof path, "%s", name);
    else
        snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
    struct stat sb;
    if (name[0] == '\0' || stat(path, &sb) != 0) {
        char presets[1024];
        list_presets(dir, presets, sizeof presets);
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "model '%s': no preset %s (presets in %s: %s)", model, path, dir,
                          presets[0] ? presets : "none");
    }
    sf_graph_t *g = NULL;
    sf_status_t st = sf_graph_load_file(path, NULL, 0, &g, err);
    if (st != SF_OK)
        return st;
    const sf_param_t *pa = preset_param(g, "arch", SF_VALUE_STRING, true, path, err, &st);
    if (pa != NULL && !arch_parse(pa->value.s, &c->arch))
        st = sf_err_set(err, SF_ERR_INPUT, &pa->pos,
                        "model '%s': arch '%s', expected llama or qwen3", model, pa->value.s);
    if (st == SF_OK)
        st = preset_int(g, "hidden_size", true, &c->hidden_size, path, err);
    if (st == SF_OK)
        st = preset_int(g, "intermediate_size", true, &c->intermediate_size, path, err);
    if (st == SF_OK)
        st = preset_int(g, "num_hidden_layers", true, &c->num_hidden_layers, path, err);
    if (st == SF_OK)
        st = preset_int(g, "num_attention_heads", true, &c->num_attention_heads, path, err);
    if (st == SF_OK)
        st = preset_int(g, "num_key_value_heads", true, &c->num_key_value_heads, path, err);
    if (st == SF_OK)
        st = preset_int(g, "head_dim", false, &c->head_dim, path, err);
    if (st == SF_OK)
        st = preset_int(g, "vocab_size", true, &c->vocab_size, path, err);
    if (st == SF_OK)
        st = preset_float(g, "rms_norm_eps", &c->rms_norm_eps, path, err);
    if (st == SF_OK)
        st = preset_float(g, "rope_theta", &c->rope_theta, path, err);
    if (st == SF_OK) {
        const sf_param_t *p =
            preset_param(g, "tie_word_embeddings", SF_VALUE_BOOL, true, path, err, &st);
        if (p != NULL)
            c->tie_word_embeddings = p->value.b;
    }
    if (st == SF_OK) {
        const sf_param_t *p = preset_param(g, "model_dtype", SF_VALUE_STRING, true, path, err, &st);
        if (p != NULL && !sf_dtype_parse(p->value.s, &c->dtype))
            st = sf_err_set(err, SF_ERR_INPUT, &p->pos,
                            "model_dtype '%s', expected bf16, f16 or f32", p->value.s);
    }
    if (st == SF_OK)
        st = preset_int(g, "synthetic_seed", false, &c->synthetic_seed, path, err);
    sf_graph_free(g);
    if (st != SF_OK)
        return st;
    /* The sf_pos_t in config_finish errors borrows path: copy-safe because
     * sf_err_set copies the file name. */
    return config_finish(c, model, path, err);
}

/* --- Hugging Face folders: config.json ------------------------------------------ */

/* An integer field; absent (or null) leaves *out alone unless required. */
static sf_status_t json_int(const cJSON *root, const char *key, bool is_required, int64_t *out,
                            const char *path, sf_err_t *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (v == NULL || cJSON_IsNull(v)) {
        if (is_required)
            return sf_err_set(err, SF_ERR_INPUT, &(sf_pos_t){path, 0, 0},
                              "config.json has no '%s'", key);
        return SF_OK;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
    /* Range first: converting a double past int64 to int64 is undefined. */
    if (!cJSON_IsNumber(v) || !(d > -9.2e18 && d < 9.2e18) || d != (double)(int64_t)d)
        return sf_err_set(err, SF_ERR_INPUT, &(sf_pos_t){path, 0, 0},
                          "config.json: '%s' is not an integer", key);
    *out = (int64_t)d;
    return SF_OK;
}

static sf_status_t json_float(const cJSON *root, const char *key, double *out, const char *path,
                              sf_err_t *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (v == NULL || cJSON_IsNull(v))
        return SF_OK;
    if (!cJSON_IsNumber(v))
        return sf_err_set(err, SF_ERR_INPUT, &(sf_pos_t){path, 0, 0},
                          "config.json: '%s' is not a number", key);
    *out = v->valuedouble;
    return SF_OK;
}

static sf_status_t config_from_json(const char *folder, sf_model_config_t *c, sf_err_t *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", folder);
    struct stat sb;
    if (stat(folder, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "model '%s' is neither synthetic:NAME nor a checkpoint folder", folder);
    size_t len = 0;
    char *text = NULL;
    sf_err_t why = {0};
    sf_status_t got = sf_file_load(path, CONFIG_MAX_BYTES, &text, &len, &why);
    if (got != SF_OK)
        return sf_err_set(err, got, NULL,
                          "model '%s': %s; a Hugging Face folder needs config.json", folder,
                          why.msg);
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (root == NULL || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return sf_err_set(err, SF_ERR_PARSE, &(sf_pos_t){path, 0, 0},
                          "not a JSON object (a Hugging Face config.json)");
    }
    sf_status_t st = SF_OK;
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const cJSON *a0 = cJSON_IsArray(archs) ? cJSON_GetArrayItem(archs, 0) : NULL;
    if (!cJSON_IsString(a0))
        st = sf_err_set(err, SF_ERR_INPUT, &(sf_pos_t){path, 0, 0},
                        "config.json has no architectures[0] (supported: LlamaForCausalLM, "
                        "Qwen3ForCausalLM)");
    else if (strcmp(a0->valuestring, "llama") == 0 || strcmp(a0->valuestring, "qwen3") == 0 ||
             !arch_parse(a0->valuestring, &c->arch))
        st = sf_err_set(err, SF_ERR_INPUT, &(sf_pos_t){path, 0, 0},
                        "architecture '%s' is not supported (supported: LlamaForCausalLM, "
                        "Qwen3ForCausalLM)",
                        a0->valuestring);
    if (st == SF_OK)
        st = json_int(root, "hidden_size", true, &c->hidden_size, path, err);
    if (st == SF_OK)
        st = json_int(root, "intermediate_size", true, &c->intermediate_size, path, err);
    if (st == SF_OK)
        st = json_int(root, "num_hidden_layers", true, &c->num_hidden_layers, path, err);
    if (st == SF_OK)
        st = json_int(root, "num_attention_heads", true, &c->num_attention_heads, path, err);
    /* HF's default: no GQA. */
    c->num_key_value_heads = c->num_attention_heads;
    if (st == SF_OK)
        st = json_int(root, "num_key_value_heads", false, &c->num_key_value_heads, path, err);
    if (st == SF_OK)
        st = json_int(root, "head_dim", false, &c->head_dim, path, err);
    if (st == SF_OK)
        st = json_int(root, "vocab_size", true, &c->vocab_size, path, err);
    /* LlamaConfig's and Qwen3Config's defaults. */
    c->rms_norm_eps = 1e-6;
    c->rope_theta = 10000.0;
    if (st == SF_OK)
        st = json_float(root, "rms_norm_eps", &c->rms_norm_eps, path, err);
    if (st == SF_OK)
        st = json_float(root, "rope_theta", &c->rope_theta, path, err);
    const cJSON *tie = cJSON_GetObjectItemCaseSensitive(root, "tie_word_embeddings");
    c->tie_word_embeddings = cJSON_IsTrue(tie);
    /* Newer transformers write "dtype", older "torch_dtype"; a config
     * without either is taken as bf16, what both families ship. */
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(root, "torch_dtype");
    if (!cJSON_IsString(dt))
        dt = cJSON_GetObjectItemCaseSensitive(root, "dtype");
    c->dtype = SF_DTYPE_BF16;
    if (st == SF_OK && cJSON_IsString(dt) &&
        (!sf_dtype_parse(dt->valuestring, &c->dtype) || !sf_dtype_is_float(c->dtype)))
        st = sf_err_set(err, SF_ERR_INPUT, &(sf_pos_t){path, 0, 0},
                        "config.json: torch_dtype '%s', expected bfloat16, float16 or float32",
                        dt->valuestring);
    c->synthetic_seed = 0;
    cJSON_Delete(root);
    if (st != SF_OK)
        return st;
    return config_finish(c, folder, path, err);
}

sf_status_t sf_model_config_load(const char *model, const char *graph_dir,
                                 sf_model_config_t *cfg, sf_err_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    if (sf_model_is_synthetic(model))
        return config_from_preset(model, graph_dir, cfg, err);
    return config_from_json(model, cfg, err);
}

sf_status_t sf_model_config_check_tp(const sf_model_config_t *c, int world, sf_err_t *err)
{
    long long tp = world;
    if (world < 1)
        return sf_err_set(err, SF_ERR_INPUT, NULL, "tensor-parallel size %d, expected >= 1",
                          world);
    if (c->num_attention_heads % world != 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "num_attention_heads %lld does not divide by tp %lld",
                          (long long)c->num_attention_heads, tp);
    if (c->num_key_value_heads >= world && c->num_key_value_heads % world != 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "num_key_value_heads %lld does not divide by tp %lld",
                          (long long)c->num_key_value_heads, tp);
    /* Fewer kv heads than ranks: SGLang gives each kv head to tp/kv ranks. */
    if (c->num_key_value_heads < world && world % c->num_key_value_heads != 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "tp %lld does not divide by num_key_value_heads %lld (kv heads are "
                          "replicated over tp/kv ranks when fewer than tp)",
                          tp, (long long)c->num_key_value_heads);
    if (c->intermediate_size % world != 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "intermediate_size %lld does not divide by tp %lld",
                          (long long)c->intermediate_size, tp);
    if (c->vocab_padded % world != 0)
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "the padded vocab %lld does not divide by tp %lld",
                          (long long)c->vocab_padded, tp);
    return SF_OK;
}

/* --- the provider ---------------------------------------------------------------- */

#define MODEL_N_PARAMS 20

/* Every param the provider defines, in the order it defines them: the
 * loader checks --set keys against this list before the provider runs. */
static const char *const model_param_names[MODEL_N_PARAMS] = {
    "arch", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "vocab_size", "vocab_padded", "rms_norm_eps",
    "rope_theta", "tie_word_embeddings", "model_dtype", "qk_norm", "aux_layers",
    "synthetic_seed", "heads_per_rank", "kv_heads_per_rank", "intermediate_per_rank",
    "vocab_per_rank",
};

typedef struct defs_builder {
    sf_param_def_t *defs; /* owned until handed to the caller */
    int n;
} defs_builder_t;

static sf_value_t *def_add(defs_builder_t *b, const char *name, sf_value_type_t t)
{
    /* The list the loader was given must be what is defined, in order. */
    SF_ASSERT(b->n < MODEL_N_PARAMS && strcmp(name, model_param_names[b->n]) == 0);
    sf_param_def_t *d = &b->defs[b->n++];
    d->name = strdup(name);
    SF_ASSERT(d->name != NULL);
    memset(&d->value, 0, sizeof d->value);
    d->value.type = t;
    return &d->value;
}

static void def_int(defs_builder_t *b, const char *name, int64_t v)
{
    def_add(b, name, SF_VALUE_INT)->i = v;
}

static void def_float(defs_builder_t *b, const char *name, double v)
{
    def_add(b, name, SF_VALUE_FLOAT)->f = v;
}

static void def_bool(defs_builder_t *b, const char *name, bool v)
{
    def_add(b, name, SF_VALUE_BOOL)->b = v;
}

static void def_str(defs_builder_t *b, const char *name, const char *v)
{
    sf_value_t *val = def_add(b, name, SF_VALUE_STRING);
    val->s = strdup(v);
    SF_ASSERT(val->s != NULL);
}

sf_status_t sf_model_provider(const char *model, const char *graph_dir, int world,
                              sf_param_def_t **defs, int *n, sf_err_t *err)
{
    *defs = NULL;
    *n = 0;
    sf_model_config_t c;
    sf_status_t st = sf_model_config_load(model, graph_dir, &c, err);
    if (st != SF_OK)
        return st;
    /* The TP split is checked here, at load, so a bad tp fails before any
     * buffer of the run exists. */
    if ((st = sf_model_config_check_tp(&c, world, err)) != SF_OK)
        return st;
    defs_builder_t b = {calloc(MODEL_N_PARAMS, sizeof *b.defs), 0};
    SF_ASSERT(b.defs != NULL);
    int64_t tp = world, L = c.num_hidden_layers;
    def_str(&b, "arch", sf_model_arch_name(c.arch));
    def_int(&b, "hidden_size", c.hidden_size);
    def_int(&b, "intermediate_size", c.intermediate_size);
    def_int(&b, "num_hidden_layers", L);
    def_int(&b, "num_attention_heads", c.num_attention_heads);
    def_int(&b, "num_key_value_heads", c.num_key_value_heads);
    def_int(&b, "head_dim", c.head_dim);
    def_int(&b, "vocab_size", c.vocab_size);
    def_int(&b, "vocab_padded", c.vocab_padded);
    def_float(&b, "rms_norm_eps", c.rms_norm_eps);
    def_float(&b, "rope_theta", c.rope_theta);
    def_bool(&b, "tie_word_embeddings", c.tie_word_embeddings);
    def_str(&b, "model_dtype", sf_dtype_name(c.dtype));
    def_bool(&b, "qk_norm", c.arch == SF_MODEL_ARCH_QWEN3);
    /* Eagle3 captures the residual stream entering these layers. */
    sf_value_t *aux = def_add(&b, "aux_layers", SF_VALUE_LIST);
    aux->items = calloc(3, sizeof *aux->items);
    SF_ASSERT(aux->items != NULL);
    aux->n_items = 3;
    const int64_t aux_at[3] = {2, L / 2, L - 3};
    for (int i = 0; i < 3; i++) {
        aux->items[i].type = SF_VALUE_INT;
        aux->items[i].i = aux_at[i];
    }
    def_int(&b, "synthetic_seed", c.synthetic_seed);
    def_int(&b, "heads_per_rank", c.num_attention_heads / tp);
    def_int(&b, "kv_heads_per_rank",
            c.num_key_value_heads >= tp ? c.num_key_value_heads / tp : 1);
    def_int(&b, "intermediate_per_rank", c.intermediate_size / tp);
    def_int(&b, "vocab_per_rank", c.vocab_padded / tp);
    SF_ASSERT(b.n == MODEL_N_PARAMS);
    *defs = b.defs;
    *n = b.n;
    return SF_OK;
}

void sf_model_register(void)
{
    sf_graph_set_model_provider(sf_model_provider, model_param_names, MODEL_N_PARAMS);
}
