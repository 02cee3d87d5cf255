/* shardflow export-model: write a synthetic model as a Hugging Face
 * checkpoint folder (config.json, safetensors shards, the index), with the
 * exact values the weight op computes, so reading the folder back gives a
 * synthetic run's weights bit for bit. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "commands.h"
#include "model_config.h"
#include "model_tensors.h"
#include "outfile.h"
#include "safetensors.h"

static void print_help(FILE *f)
{
    fprintf(f,
            "usage: shardflow export-model MODEL DIR [--shards N] [--dtype bf16|f16|f32]\n"
            "                              [--overwrite] [--graph-dir DIR]\n"
            "\n"
            "Writes the synthetic model MODEL (synthetic:NAME, a preset in GRAPH_DIR/models)\n"
            "as a Hugging Face checkpoint folder DIR: config.json, the tensors spread in\n"
            "checkpoint order over N files model-0000k-of-0000N.safetensors and\n"
            "model.safetensors.index.json (N = 1: one model.safetensors, no index, as\n"
            "transformers writes it). Values are those the weight op computes.\n"
            "\n"
            "  --shards N       number of safetensors files (default 1)\n"
            "  --dtype DT       dtype of the tensors and torch_dtype (default: the model's)\n"
            "  --overwrite      write into an existing non-empty DIR\n"
            "  --graph-dir DIR  folder holding models/NAME.yaml (default: ./graphs, else\n"
            "                   the graphs folder next to the command's build folder)\n");
}

static bool is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Where the presets are when --graph-dir is not given. */
static void default_graph_dir(char *out, size_t n)
{
    if (is_dir("graphs/models")) {
        snprintf(out, n, "graphs");
        return;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            static const char up[] = "/../graphs";
            size_t l = (size_t)(slash - exe);
            if (l + sizeof up <= n) {
                memcpy(out, exe, l);
                memcpy(out + l, up, sizeof up);
                return;
            }
        }
    }
    snprintf(out, n, "graphs");
}

static bool dir_is_empty(const char *p)
{
    DIR *d = opendir(p);
    if (d == NULL)
        return true;
    struct dirent *e;
    bool is_empty = true;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            is_empty = false;
    closedir(d);
    return is_empty;
}

static sf_status_t mkdir_p(const char *path, sf_err_t *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return sf_err_set(err, SF_ERR_IO, NULL, "cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return sf_err_set(err, SF_ERR_IO, NULL, "cannot create %s: %s", tmp, strerror(errno));
    return SF_OK;
}

/* JSON text to path via a temporary name and rename, like sf_st_write. */
static sf_status_t write_json(const char *path, cJSON *doc, sf_err_t *err)
{
    char *text = cJSON_Print(doc);
    if (text == NULL)
        return sf_err_set(err, SF_ERR_NOMEM, NULL, "out of host memory writing %s", path);
    sf_outfile_t out;
    sf_status_t st = sf_outfile_open(path, 0, &out, err);
    if (st == SF_OK) {
        fputs(text, out.fp);
        fputc('\n', out.fp);
        st = sf_outfile_commit(&out, err); /* reports a failed write */
    }
    free(text);
    return st;
}

static cJSON *config_json(const sf_model_config_t *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *archs = cJSON_AddArrayToObject(j, "architectures");
    cJSON_AddItemToArray(archs, cJSON_CreateString(sf_model_arch_hf_name(c->arch)));
    cJSON_AddStringToObject(j, "model_type", sf_model_arch_name(c->arch));
    cJSON_AddStringToObject(j, "hidden_act", "silu");
    cJSON_AddNumberToObject(j, "hidden_size", (double)c->hidden_size);
    cJSON_AddNumberToObject(j, "intermediate_size", (double)c->intermediate_size);
    cJSON_AddNumberToObject(j, "num_hidden_layers", (double)c->num_hidden_layers);
    cJSON_AddNumberToObject(j, "num_attention_heads", (double)c->num_attention_heads);
    cJSON_AddNumberToObject(j, "num_key_value_heads", (double)c->num_key_value_heads);
    cJSON_AddNumberToObject(j, "head_dim", (double)c->head_dim);
    cJSON_AddNumberToObject(j, "vocab_size", (double)c->vocab_size);
    cJSON_AddNumberToObject(j, "rms_norm_eps", c->rms_norm_eps);
    cJSON_AddNumberToObject(j, "rope_theta", c->rope_theta);
    cJSON_AddBoolToObject(j, "tie_word_embeddings", c->tie_word_embeddings);
    cJSON_AddBoolToObject(j, "attention_bias", false);
    const char *torch = c->dtype == SF_DTYPE_F32 ? "float32"
                        : c->dtype == SF_DTYPE_F16 ? "float16"
                                                   : "bfloat16";
    cJSON_AddStringToObject(j, "torch_dtype", torch);
    return j;
}

/* One shard file: tensors [first, last) of the table, computed, written, freed. */
static sf_status_t write_shard(const char *path, const sf_model_tensor_t *t, int first, int last,
                               const sf_model_config_t *c, bool overwrite, uint64_t *bytes,
                               sf_err_t *err)
{
    int n = last - first;
    sf_tensor_t *tensors = calloc((size_t)n, sizeof *tensors);
    sf_buffer_t *bufs = calloc((size_t)n, sizeof *bufs);
    sf_st_entry_t *entries = calloc((size_t)n, sizeof *entries);
    sf_status_t st = SF_OK;
    if (tensors == NULL || bufs == NULL || entries == NULL)
        st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of host memory for %s", path);
    for (int k = 0; st == SF_OK && k < n; k++) {
        const sf_model_tensor_t *e = &t[first + k];
        tensors[k] = sf_tensor_make(c->dtype, e->ndim, e->shape);
        bufs[k].nbytes = sf_tensor_nbytes(&tensors[k]);
        bufs[k].dtype = c->dtype;
        bufs[k].data = malloc(bufs[k].nbytes > 0 ? bufs[k].nbytes : 1);
        if (bufs[k].data == NULL) {
            st = sf_err_set(err, SF_ERR_NOMEM, NULL, "out of host memory for %s (%llu bytes)",
                            e->name, (unsigned long long)bufs[k].nbytes);
            break;
        }
        tensors[k].buf = &bufs[k];
        /* The checkpoint holds the unpadded tensor: the tp = 1 slice, no padding. */
        sf_weight_slice_t s;
        char why[200];
        SF_ASSERT(sf_weight_slice_make(e->ndim, e->shape, 0, -1, 0, 0, 1, &s, why, sizeof why));
        sf_weight_synth_fill(&s, (uint64_t)c->synthetic_seed, e->name, e->init, &tensors[k]);
        entries[k] = (sf_st_entry_t){e->name, &tensors[k]};
        *bytes += bufs[k].nbytes;
    }
    if (st == SF_OK)
        st = sf_st_write(path, entries, n, overwrite, err);
    for (int k = 0; bufs != NULL && k < n; k++)
        free(bufs[k].data);
    free(entries);
    free(bufs);
    free(tensors);
    return st;
}

static sf_status_t export_model(const char *model, const char *dir, int n_shards,
                                const char *dtype, bool overwrite, const char *graph_dir,
                                sf_err_t *err)
{
    if (!sf_model_is_synthetic(model))
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "export-model: MODEL '%s' must be synthetic:NAME", model);
    sf_model_config_t c;
    sf_status_t st = sf_model_config_load(model, graph_dir, &c, err);
    if (st != SF_OK)
        return st;
    if (dtype != NULL &&
        (!sf_dtype_parse(dtype, &c.dtype) || !sf_dtype_is_float(c.dtype)))
        return sf_err_set(err, SF_ERR_INPUT, NULL, "--dtype %s, expected bf16, f16 or f32",
                          dtype);
    sf_model_tensor_t *t = NULL;
    int n = 0;
    sf_model_tensors_list(&c, &t, &n);
    if (n_shards < 1 || n_shards > n) {
        free(t);
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "--shards %d, expected 1..%d (the model has %d tensors)", n_shards, n,
                          n);
    }
    if (is_dir(dir) && !dir_is_empty(dir) && !overwrite) {
        free(t);
        return sf_err_set(err, SF_ERR_INPUT, NULL,
                          "%s exists and is not empty (--overwrite to write into it)", dir);
    }
    if ((st = mkdir_p(dir, err)) != SF_OK) {
        free(t);
        return st;
    }
    cJSON *index = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(index, "metadata");
    cJSON *map = cJSON_AddObjectToObject(index, "weight_map");
    uint64_t total = 0;
    char path[PATH_MAX + 64], file[64];
    for (int k = 0; st == SF_OK && k < n_shards; k++) {
        /* Contiguous runs of the table, balanced by count. */
        int first = (int)((int64_t)n * k / n_shards), last = (int)((int64_t)n * (k + 1) / n_shards);
        if (n_shards == 1)
            snprintf(file, sizeof file, "model.safetensors");
        else
            snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", k + 1, n_shards);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        st = write_shard(path, t, first, last, &c, overwrite, &total, err);
        for (int i = first; st == SF_OK && i < last; i++)
            cJSON_AddStringToObject(map, t[i].name, file);
    }
    cJSON_AddNumberToObject(meta, "total_size", (double)total);
    if (st == SF_OK && n_shards > 1) {
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        st = write_json(path, index, err);
    }
    cJSON_Delete(index);
    if (st == SF_OK) {
        cJSON *cfg = config_json(&c);
        snprintf(path, sizeof path, "%s/config.json", dir);
        st = write_json(path, cfg, err);
        cJSON_Delete(cfg);
    }
    if (st == SF_OK) {
        char size[32];
        sf_cli_format_bytes(total, size, sizeof size);
        printf("wrote %s: %s, %d tensors, %s %s in %d file%s\n", dir, model, n, size,
               sf_dtype_name(c.dtype), n_shards, n_shards == 1 ? "" : "s");
    }
    free(t);
    return st;
}

int sf_cmd_export_model(int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL};
    int n_pos = 0, n_shards = 1;
    const char *dtype = NULL, *graph_dir = NULL;
    bool overwrite = false;
    sf_err_t err;
    sf_err_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help(stdout);
            return 0;
        }
        if (strcmp(a, "--overwrite") == 0) {
            overwrite = true;
        } else if (sf_cli_is_option(a, "--shards")) {
            const char *v = sf_cli_option_value(argc, argv, &i, &err);
            if (v == NULL)
                return sf_cli_fail(&err);
            char *end;
            long s = strtol(v, &end, 10);
            if (*end != '\0' || end == v || s < 1 || s > 99999) {
                sf_err_set(&err, SF_ERR_INPUT, NULL, "--shards '%s', expected 1..99999", v);
                return sf_cli_fail(&err);
            }
            n_shards = (int)s;
        } else if (sf_cli_is_option(a, "--dtype")) {
            if ((dtype = sf_cli_option_value(argc, argv, &i, &err)) == NULL)
                return sf_cli_fail(&err);
        } else if (sf_cli_is_option(a, "--graph-dir")) {
            if ((graph_dir = sf_cli_option_value(argc, argv, &i, &err)) == NULL)
                return sf_cli_fail(&err);
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "error: export-model: unknown option '%s'\n", a);
            print_help(stderr);
            return 2;
        } else if (n_pos < 2) {
            pos[n_pos++] = a;
        } else {
            fprintf(stderr, "error: export-model: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (n_pos != 2) {
        print_help(stderr);
        return 2;
    }
    char gdir[PATH_MAX];
    if (graph_dir == NULL) {
        default_graph_dir(gdir, sizeof gdir);
        graph_dir = gdir;
    }
    if (export_model(pos[0], pos[1], n_shards, dtype, overwrite, graph_dir, &err) != SF_OK)
        return sf_cli_fail(&err);
    return 0;
}
