/* Model configs: presets carry the real sizes, an HF config.json gives the
 * same params as its preset, tensor-parallel errors name both numbers,
 * absurd sizes and a missing config.json are refused, and a checkpoint
 * index never names a file outside its folder. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_index.h"
#include "model_harness.h"
#include "test_util.h"

/* --- param helpers ------------------------------------------------------------ */

static void expect_aux(const md_defs_t *d, int64_t a, int64_t b, int64_t c)
{
    const sf_value_t *v = md_def_get(d, "aux_layers");
    ck_assert_int_eq(v->type, SF_VALUE_LIST);
    ck_assert_int_eq(v->n_items, 3);
    ck_assert_int_eq(v->items[0].i, a);
    ck_assert_int_eq(v->items[1].i, b);
    ck_assert_int_eq(v->items[2].i, c);
}

static void expect_str(const md_defs_t *d, const char *name, const char *want)
{
    const sf_value_t *v = md_def_get(d, name);
    ck_assert_int_eq(v->type, SF_VALUE_STRING);
    ck_assert_str_eq(v->s, want);
}

static void expect_bool(const md_defs_t *d, const char *name, bool want)
{
    const sf_value_t *v = md_def_get(d, name);
    ck_assert_int_eq(v->type, SF_VALUE_BOOL);
    ck_assert_int_eq(v->b, want);
}

static void expect_float(const md_defs_t *d, const char *name, double want)
{
    const sf_value_t *v = md_def_get(d, name);
    ck_assert_int_eq(v->type, SF_VALUE_FLOAT);
    ck_assert_double_eq(v->f, want);
}

/* --- provider tests ----------------------------------------------------------- */

START_TEST(test_model_preset_qwen3_8b_real_sizes)
{
    md_defs_t d = md_provide_ok("synthetic:qwen3-8b", 8);
    ck_assert_int_eq(d.n, 20);
    expect_str(&d, "arch", "qwen3");
    ck_assert_int_eq(md_def_int(&d, "hidden_size"), 4096);
    ck_assert_int_eq(md_def_int(&d, "intermediate_size"), 12288);
    ck_assert_int_eq(md_def_int(&d, "num_hidden_layers"), 36);
    ck_assert_int_eq(md_def_int(&d, "num_attention_heads"), 32);
    ck_assert_int_eq(md_def_int(&d, "num_key_value_heads"), 8);
    ck_assert_int_eq(md_def_int(&d, "head_dim"), 128);
    ck_assert_int_eq(md_def_int(&d, "vocab_size"), 151936);
    ck_assert_int_eq(md_def_int(&d, "vocab_padded"), 151936); /* 2374 * 64 */
    expect_float(&d, "rms_norm_eps", 1e-6);
    expect_float(&d, "rope_theta", 1e6);
    expect_bool(&d, "tie_word_embeddings", false);
    expect_str(&d, "model_dtype", "bf16");
    expect_bool(&d, "qk_norm", true);
    expect_aux(&d, 2, 18, 33); /* [2, 36/2, 36-3] */
    ck_assert_int_eq(md_def_int(&d, "synthetic_seed"), 1);
    ck_assert_int_eq(md_def_int(&d, "heads_per_rank"), 4);
    ck_assert_int_eq(md_def_int(&d, "kv_heads_per_rank"), 1);
    ck_assert_int_eq(md_def_int(&d, "intermediate_per_rank"), 1536);
    ck_assert_int_eq(md_def_int(&d, "vocab_per_rank"), 18992);
    md_defs_free(&d);
}
END_TEST

START_TEST(test_model_preset_llama3_8b_real_sizes)
{
    md_defs_t d = md_provide_ok("synthetic:llama3-8b", 4);
    expect_str(&d, "arch", "llama");
    ck_assert_int_eq(md_def_int(&d, "hidden_size"), 4096);
    ck_assert_int_eq(md_def_int(&d, "intermediate_size"), 14336);
    ck_assert_int_eq(md_def_int(&d, "num_hidden_layers"), 32);
    ck_assert_int_eq(md_def_int(&d, "num_key_value_heads"), 8);
    ck_assert_int_eq(md_def_int(&d, "head_dim"), 128); /* implicit: 4096 / 32 */
    ck_assert_int_eq(md_def_int(&d, "vocab_padded"), 128256); /* 2004 * 64 */
    expect_float(&d, "rms_norm_eps", 1e-5);
    expect_float(&d, "rope_theta", 500000.0);
    expect_bool(&d, "qk_norm", false);
    expect_aux(&d, 2, 16, 29);
    ck_assert_int_eq(md_def_int(&d, "vocab_per_rank"), 32064);
    md_defs_free(&d);
}
END_TEST

START_TEST(test_model_preset_qwen3_06b_and_tiny)
{
    md_defs_t d = md_provide_ok("synthetic:qwen3-0.6b", 2);
    ck_assert_int_eq(md_def_int(&d, "hidden_size"), 1024);
    ck_assert_int_eq(md_def_int(&d, "intermediate_size"), 3072);
    ck_assert_int_eq(md_def_int(&d, "num_hidden_layers"), 28);
    ck_assert_int_eq(md_def_int(&d, "num_attention_heads"), 16);
    ck_assert_int_eq(md_def_int(&d, "head_dim"), 128);
    expect_bool(&d, "tie_word_embeddings", true);
    expect_aux(&d, 2, 14, 25);
    md_defs_free(&d);
    /* tiny at tp 4: 2 kv heads < 4 ranks, each replicated on 2 ranks. */
    d = md_provide_ok("synthetic:tiny", 4);
    ck_assert_int_eq(md_def_int(&d, "vocab_size"), 1000);
    ck_assert_int_eq(md_def_int(&d, "vocab_padded"), 1024);
    ck_assert_int_eq(md_def_int(&d, "heads_per_rank"), 1);
    ck_assert_int_eq(md_def_int(&d, "kv_heads_per_rank"), 1);
    ck_assert_int_eq(md_def_int(&d, "intermediate_per_rank"), 32);
    ck_assert_int_eq(md_def_int(&d, "vocab_per_rank"), 256);
    expect_aux(&d, 2, 4, 5);
    md_defs_free(&d);
}
END_TEST

#define TINY_JSON                                                                               \
    "{\"architectures\": [\"%s\"], \"hidden_size\": 64, \"intermediate_size\": 128,\n"           \
    " \"num_hidden_layers\": 8, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,\n"       \
    " \"head_dim\": 16, \"vocab_size\": 1000, \"rms_norm_eps\": 1e-06, \"rope_theta\": 10000.0,\n" \
    " \"tie_word_embeddings\": false, \"torch_dtype\": \"bfloat16\", \"model_type\": \"qwen3\"}\n"

static const char *write_config(const char *text)
{
    const char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    ck_assert_int_eq(tu_write_file(path, text), 0);
    return dir;
}

START_TEST(test_model_hf_config_gives_preset_params)
{
    char text[1024];
    snprintf(text, sizeof text, TINY_JSON, "Qwen3ForCausalLM");
    const char *dir = write_config(text);
    md_defs_t hf = md_provide_ok(dir, 2);
    md_defs_t syn = md_provide_ok("synthetic:tiny", 2);
    ck_assert_int_eq(hf.n, syn.n);
    for (int i = 0; i < hf.n; i++) {
        ck_assert_str_eq(hf.d[i].name, syn.d[i].name);
        char a[128], b[128];
        sf_value_format(&hf.d[i].value, a, sizeof a);
        sf_value_format(&syn.d[i].value, b, sizeof b);
        if (strcmp(hf.d[i].name, "synthetic_seed") == 0) {
            ck_assert_str_eq(a, "0");
            ck_assert_str_eq(b, "1");
        } else {
            ck_assert_msg(strcmp(a, b) == 0, "%s: hf %s, preset %s", hf.d[i].name, a, b);
        }
    }
    md_defs_free(&hf);
    md_defs_free(&syn);
}
END_TEST

START_TEST(test_model_hf_llama_defaults_head_dim_and_kv)
{
    /* No head_dim, no num_key_value_heads: 256 / 8 = 32 and no GQA. */
    const char *dir = write_config(
        "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 256,"
        " \"intermediate_size\": 512, \"num_hidden_layers\": 6, \"num_attention_heads\": 8,"
        " \"vocab_size\": 130, \"rms_norm_eps\": 1e-05, \"torch_dtype\": \"float16\"}");
    md_defs_t d = md_provide_ok(dir, 2);
    expect_str(&d, "arch", "llama");
    ck_assert_int_eq(md_def_int(&d, "head_dim"), 32);
    ck_assert_int_eq(md_def_int(&d, "num_key_value_heads"), 8);
    ck_assert_int_eq(md_def_int(&d, "vocab_padded"), 192); /* 130 -> 3 * 64 */
    expect_float(&d, "rope_theta", 10000.0);
    expect_str(&d, "model_dtype", "f16");
    expect_aux(&d, 2, 3, 3);
    md_defs_free(&d);
}
END_TEST

START_TEST(test_model_unknown_architecture_names_supported)
{
    char text[1024];
    snprintf(text, sizeof text, TINY_JSON, "MistralForCausalLM");
    md_defs_t d;
    sf_err_t err;
    sf_status_t st = md_provide(write_config(text), 1, &d, &err);
    md_expect_err(st, &err, SF_ERR_INPUT, "architecture 'MistralForCausalLM' is not supported");
    md_expect_err(st, &err, SF_ERR_INPUT, "LlamaForCausalLM, Qwen3ForCausalLM");
    ck_assert_ptr_null(d.d);
}
END_TEST

START_TEST(test_model_heads_not_divisible_by_tp)
{
    md_defs_t d;
    sf_err_t err;
    md_expect_err(md_provide("synthetic:tiny", 3, &d, &err), &err, SF_ERR_INPUT,
                  "num_attention_heads 4 does not divide by tp 3");
    md_expect_err(md_provide("synthetic:qwen3-8b", 7, &d, &err), &err, SF_ERR_INPUT,
                  "num_attention_heads 32 does not divide by tp 7");
}
END_TEST

START_TEST(test_model_padded_vocab_not_divisible_by_tp)
{
    /* 14 heads, 7 kv heads, 3584 = 7 * 512: only the vocab fails at tp 7. */
    const char *dir = write_config(
        "{\"architectures\": [\"Qwen3ForCausalLM\"], \"hidden_size\": 896, \"head_dim\": 64,"
        " \"intermediate_size\": 3584, \"num_hidden_layers\": 4, \"num_attention_heads\": 14,"
        " \"num_key_value_heads\": 7, \"vocab_size\": 151936}");
    md_defs_t d;
    sf_err_t err;
    md_expect_err(md_provide(dir, 7, &d, &err), &err, SF_ERR_INPUT,
                  "the padded vocab 151936 does not divide by tp 7");
    md_defs_t ok = md_provide_ok(dir, 1);
    md_defs_free(&ok);
}
END_TEST

START_TEST(test_model_kv_heads_fewer_than_tp_must_divide)
{
    /* 12 heads, 4 kv heads, tp 6: 12 % 6 = 0 but 6 ranks cannot share 4 kv heads. */
    const char *dir = write_config(
        "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 384,"
        " \"intermediate_size\": 768, \"num_hidden_layers\": 4, \"num_attention_heads\": 12,"
        " \"num_key_value_heads\": 4, \"vocab_size\": 384}");
    md_defs_t d;
    sf_err_t err;
    md_expect_err(md_provide(dir, 6, &d, &err), &err, SF_ERR_INPUT,
                  "tp 6 does not divide by num_key_value_heads 4");
    /* tp 12 works: each kv head on 3 ranks. */
    d = md_provide_ok(dir, 12);
    ck_assert_int_eq(md_def_int(&d, "kv_heads_per_rank"), 1);
    md_defs_free(&d);
}
END_TEST

/* Issue 10, case 7: hidden_size 10^12 used to load, and run then failed
 * allocating 2048000000000000 bytes (exit 1); a size past the stated
 * limits is bad input, refused before anything is allocated. */
START_TEST(test_model_config_absurd_sizes_refused)
{
    static const struct {
        const char *from, *to, *frag;
    } cases[] = {
        {"\"hidden_size\": 64", "\"hidden_size\": 1000000000000", "hidden_size is 1000000000000, more than the limit of 1048576"},
        {"\"vocab_size\": 1000", "\"vocab_size\": 100000000", "vocab_size is 100000000, more than the limit"},
        {"\"num_hidden_layers\": 8", "\"num_hidden_layers\": 1e30", "'num_hidden_layers' is not an integer"},
        {"\"head_dim\": 16", "\"head_dim\": 4194304", "head_dim is 4194304, more than the limit"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[1024], edited[1200];
        snprintf(text, sizeof text, TINY_JSON, "Qwen3ForCausalLM");
        char *at = strstr(text, cases[i].from);
        ck_assert_ptr_nonnull(at);
        snprintf(edited, sizeof edited, "%.*s%s%s", (int)(at - text), text, cases[i].to,
                 at + strlen(cases[i].from));
        const char *dir = write_config(edited);
        md_defs_t d;
        sf_err_t err;
        sf_err_clear(&err);
        md_expect_err(md_provide(dir, 1, &d, &err), &err, SF_ERR_INPUT, cases[i].frag);
    }
}
END_TEST

START_TEST(test_model_missing_config_json)
{
    const char *dir = tu_tmpdir();
    md_defs_t d;
    sf_err_t err;
    sf_status_t st = md_provide(dir, 1, &d, &err);
    md_expect_err(st, &err, SF_ERR_INPUT, "config.json");
    ck_assert_msg(strstr(err.msg, dir) != NULL, "message '%s' lacks the folder", err.msg);
    md_expect_err(md_provide("synthetic:nope", 1, &d, &err), &err, SF_ERR_INPUT,
                  "presets in ");
    ck_assert_msg(strstr(err.msg, "tiny") != NULL, "message '%s' lists no presets", err.msg);
}
END_TEST

START_TEST(test_model_index_entries_stay_in_the_folder)
{
    static const char text[] =
        "{\"weight_map\": {\"a\": \"model-00001.safetensors\", \"b\": \"../x.safetensors\","
        " \"c\": \"\", \"d\": \".hidden\", \"e\": 3, \"f\": \"sub/x.safetensors\"}}";
    sf_model_index_t *ix = NULL;
    sf_err_t err = {0};
    ck_assert_int_eq(sf_model_index_parse(text, sizeof text - 1, "F/index.json", &ix, &err), SF_OK);
    ck_assert_int_eq(sf_model_index_count(ix), 6);
    ck_assert_str_eq(sf_model_index_name(ix, 1), "b");
    const char *file = NULL;
    ck_assert_int_eq(sf_model_index_file(ix, "a", &file, &err), SF_OK);
    ck_assert_str_eq(file, "model-00001.safetensors");
    ck_assert_int_eq(sf_model_index_file(ix, "missing", &file, &err), SF_OK);
    ck_assert_ptr_null(file);
    /* Each of these would reach outside the folder, or names nothing. */
    const char *bad[] = {"b", "c", "d", "e", "f"};
    for (int i = 0; i < 5; i++) {
        sf_err_clear(&err);
        ck_assert_int_eq(sf_model_index_file(ix, bad[i], &file, &err), SF_ERR_INPUT);
        ck_assert_ptr_null(file);
        ck_assert_ptr_nonnull(strstr(err.msg, "is not a file name in the folder"));
    }
    sf_model_index_free(ix);
    sf_err_clear(&err);
    ck_assert_int_eq(sf_model_index_parse("[1,2]", 5, "F/index.json", &ix, &err), SF_ERR_PARSE);
    ck_assert_ptr_null(ix);
    ck_assert_ptr_nonnull(strstr(err.msg, "F/index.json: expected a JSON object"));
}
END_TEST

static Suite *model_config_suite(void)
{
    Suite *s = suite_create("model_config");
    TCase *tc = tcase_create("provider");
    tcase_add_test(tc, test_model_index_entries_stay_in_the_folder);
    tcase_add_test(tc, test_model_preset_qwen3_8b_real_sizes);
    tcase_add_test(tc, test_model_preset_llama3_8b_real_sizes);
    tcase_add_test(tc, test_model_preset_qwen3_06b_and_tiny);
    tcase_add_test(tc, test_model_hf_config_gives_preset_params);
    tcase_add_test(tc, test_model_hf_llama_defaults_head_dim_and_kv);
    tcase_add_test(tc, test_model_unknown_architecture_names_supported);
    tcase_add_test(tc, test_model_heads_not_divisible_by_tp);
    tcase_add_test(tc, test_model_padded_vocab_not_divisible_by_tp);
    tcase_add_test(tc, test_model_kv_heads_fewer_than_tp_must_divide);
    tcase_add_test(tc, test_model_missing_config_json);
    tcase_add_test(tc, test_model_config_absurd_sizes_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    sf_ops_register_all();
    sf_model_register();
    return tu_run_suite(model_config_suite());
}
