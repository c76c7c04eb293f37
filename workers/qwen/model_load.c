/* Qwen2 loading: dims from config.json or GGUF qwen2.* keys, weights by HF or llama.cpp names,
 * tokenizer from the folder or the GGUF tokenizer.ggml.* metadata, KV cache and arena sizing.
 * References: transformers models/qwen2/configuration_qwen2.py (defaults), llama.cpp
 * src/llama-arch.cpp (LLM_ARCH_QWEN2 tensor names) and convert_hf_to_gguf.py (Qwen2Model keys). */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/error.h"
#include "common/formats/gguf.h"
#include "common/model/weights.h"
#include "common/tensor/ops.h"
#include "workers/qwen/qwen_internal.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int fail(char *err, size_t cap, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t cap, int code, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- tensor names: HF (modeling_qwen2.py state dict) and llama.cpp (LLM_ARCH_QWEN2) ---- */

enum tname {
    T_EMBED,
    T_NORM,
    T_LM_HEAD,
    T_IN_NORM,
    T_Q_W,
    T_Q_B,
    T_K_W,
    T_K_B,
    T_V_W,
    T_V_B,
    T_O_W,
    T_POST_NORM,
    T_GATE,
    T_UP,
    T_DOWN,
    T_COUNT
};

static const char *const HF_NAMES[T_COUNT] = {
    "model.embed_tokens.weight",
    "model.norm.weight",
    "lm_head.weight",
    "model.layers.%d.input_layernorm.weight",
    "model.layers.%d.self_attn.q_proj.weight",
    "model.layers.%d.self_attn.q_proj.bias",
    "model.layers.%d.self_attn.k_proj.weight",
    "model.layers.%d.self_attn.k_proj.bias",
    "model.layers.%d.self_attn.v_proj.weight",
    "model.layers.%d.self_attn.v_proj.bias",
    "model.layers.%d.self_attn.o_proj.weight",
    "model.layers.%d.post_attention_layernorm.weight",
    "model.layers.%d.mlp.gate_proj.weight",
    "model.layers.%d.mlp.up_proj.weight",
    "model.layers.%d.mlp.down_proj.weight",
};

static const char *const GGUF_NAMES[T_COUNT] = {
    "token_embd.weight",       "output_norm.weight",        "output.weight",
    "blk.%d.attn_norm.weight", "blk.%d.attn_q.weight",      "blk.%d.attn_q.bias",
    "blk.%d.attn_k.weight",    "blk.%d.attn_k.bias",        "blk.%d.attn_v.weight",
    "blk.%d.attn_v.bias",      "blk.%d.attn_output.weight", "blk.%d.ffn_norm.weight",
    "blk.%d.ffn_gate.weight",  "blk.%d.ffn_up.weight",      "blk.%d.ffn_down.weight",
};

static void tensor_name(int gguf, int t, int layer, char *buf, size_t cap)
{
    const char *fmt = gguf ? GGUF_NAMES[t] : HF_NAMES[t];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(buf, cap, fmt, layer);
#pragma GCC diagnostic pop
}

/* ---- config ---- */

static int json_int(json_t *cfg, const char *key, int64_t def, int64_t *out)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        if (def < 0)
            return OV_ENOENT;
        *out = def;
        return 0;
    }
    if (!json_is_integer(v))
        return OV_EFORMAT;
    *out = json_integer_value(v);
    return 0;
}

static int json_num(json_t *cfg, const char *key, double def, double *out)
{
    json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_number(v))
        return OV_EFORMAT;
    *out = json_number_value(v);
    return 0;
}

/* Collect an eos_token_id value (int or list of ints) into the stop set. */
static void add_eos_json(ov_qwen *q, json_t *v)
{
    if (json_is_integer(v)) {
        int32_t id = (int32_t)json_integer_value(v);
        for (size_t i = 0; i < q->n_eos; i++)
            if (q->eos_ids[i] == id)
                return;
        if (q->n_eos < sizeof q->eos_ids / sizeof q->eos_ids[0])
            q->eos_ids[q->n_eos++] = id;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) add_eos_json(q, e);
    }
}

static void add_eos(ov_qwen *q, int32_t id)
{
    if (id < 0)
        return;
    json_t *v = json_integer(id);
    add_eos_json(q, v);
    json_decref(v);
}

/* config.json (Qwen2Config): defaults as in configuration_qwen2.py where the key is optional. */
static int read_hf_config(ov_qwen *q, const char *dir, char *err, size_t cap)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/config.json", dir) >= sizeof path)
        return fail(err, cap, OV_EINVAL, "qwen: path too long: %s", dir);
    json_error_t je;
    json_t *cfg = json_load_file(path, 0, &je);
    if (!cfg) {
        FILE *f = fopen(path, "rb");
        if (!f)
            return fail(err, cap, OV_ENOENT, "qwen: %s: no config.json (not a HF model folder?)", path);
        fclose(f);
        return fail(err, cap, OV_EFORMAT, "qwen: %s: line %d: %s", path, je.line, je.text);
    }
    int rc = 0;
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    if (!mt || strcmp(mt, "qwen2") != 0) {
        rc = fail(err, cap, OV_EUNSUPP, "qwen: %s: model_type is '%s', want 'qwen2'", path,
                  mt ? mt : "(none)");
        goto out;
    }
    int64_t hidden, layers, heads, kv, inter, vocab, maxpos, head_dim;
    double theta, eps;
    if (json_int(cfg, "hidden_size", -1, &hidden) || json_int(cfg, "num_hidden_layers", -1, &layers) ||
        json_int(cfg, "num_attention_heads", -1, &heads) || json_int(cfg, "intermediate_size", -1, &inter) ||
        json_int(cfg, "vocab_size", -1, &vocab)) {
        rc = fail(err, cap, OV_EFORMAT,
                  "qwen: %s: needs integer hidden_size, num_hidden_layers, num_attention_heads, "
                  "intermediate_size and vocab_size",
                  path);
        goto out;
    }
    if (json_int(cfg, "num_key_value_heads", heads, &kv) ||
        json_int(cfg, "max_position_embeddings", 32768, &maxpos) ||
        json_int(cfg, "head_dim", heads > 0 ? hidden / heads : 0, &head_dim) ||
        json_num(cfg, "rope_theta", 10000.0, &theta) || json_num(cfg, "rms_norm_eps", 1e-6, &eps)) {
        rc = fail(err, cap, OV_EFORMAT, "qwen: %s: a numeric key has the wrong type", path);
        goto out;
    }
    /* transformers 5 nests rope_theta in rope_parameters */
    json_t *rp = json_object_get(cfg, "rope_parameters");
    if (json_is_object(rp) && json_is_number(json_object_get(rp, "rope_theta")))
        theta = json_number_value(json_object_get(rp, "rope_theta"));
    json_t *rs = json_object_get(cfg, "rope_scaling");
    if (rs && !json_is_null(rs)) {
        const char *rt = json_string_value(json_object_get(rs, "rope_type"));
        if (!rt)
            rt = json_string_value(json_object_get(rs, "type"));
        if (!rt || strcmp(rt, "default") != 0) {
            rc = fail(err, cap, OV_EUNSUPP,
                      "qwen: %s: rope_scaling '%s' is not supported (remove it for <= 32K)", path,
                      rt ? rt : "?");
            goto out;
        }
    }
    q->info.hidden = (int)hidden;
    q->info.n_layers = (int)layers;
    q->info.n_heads = (int)heads;
    q->info.n_kv_heads = (int)kv;
    q->info.head_dim = (int)head_dim;
    q->info.intermediate = (int)inter;
    q->info.vocab = vocab;
    q->info.max_positions = maxpos;
    q->info.rope_theta = (float)theta;
    q->info.rms_eps = (float)eps;
    q->info.tied_embeddings = json_is_true(json_object_get(cfg, "tie_word_embeddings"));
    add_eos_json(q, json_object_get(cfg, "eos_token_id"));
out:
    json_decref(cfg);
    return rc;
}

/* generation_config.json eos ids and tokenizer_config.json's chat template (both optional). */
static void read_hf_extras(ov_qwen *q, const char *dir)
{
    char path[4096];
    json_error_t je;
    if ((size_t)snprintf(path, sizeof path, "%s/generation_config.json", dir) < sizeof path) {
        json_t *g = json_load_file(path, 0, &je);
        if (g)
            add_eos_json(q, json_object_get(g, "eos_token_id"));
        json_decref(g);
    }
    if ((size_t)snprintf(path, sizeof path, "%s/tokenizer_config.json", dir) < sizeof path) {
        json_t *t = json_load_file(path, 0, &je);
        const char *ct = json_string_value(json_object_get(t, "chat_template"));
        q->info.has_chat_template = ct && strstr(ct, "<|im_start|>") != NULL;
        json_decref(t);
    }
}

static int gguf_int(const ov_gguf *g, const char *key, int64_t def, int64_t *out, char *err, size_t cap)
{
    int rc = ov_gguf_get_int(g, key, out);
    if (rc == OV_ENOENT && def >= 0) {
        *out = def;
        return 0;
    }
    if (rc)
        return fail(err, cap, OV_EFORMAT, "qwen: %s: metadata %s %s", ov_gguf_path(g), key,
                    rc == OV_ENOENT ? "missing" : "has the wrong type");
    return 0;
}

/* qwen2.* keys (llama.cpp LLM_KV names) -> info. */
static int read_gguf_config(ov_qwen *q, const ov_gguf *g, char *err, size_t cap)
{
    const char *arch;
    size_t alen;
    if (ov_gguf_get_str(g, "general.architecture", &arch, &alen) || alen != 5 ||
        memcmp(arch, "qwen2", 5) != 0)
        return fail(err, cap, OV_EUNSUPP, "qwen: %s: general.architecture is not 'qwen2'", ov_gguf_path(g));
    int64_t layers, hidden, heads, kv, inter, ctx, kl = -1;
    double theta = 10000.0, eps = 1e-6;
    int rc;
    if ((rc = gguf_int(g, "qwen2.block_count", -1, &layers, err, cap)) ||
        (rc = gguf_int(g, "qwen2.embedding_length", -1, &hidden, err, cap)) ||
        (rc = gguf_int(g, "qwen2.attention.head_count", -1, &heads, err, cap)) ||
        (rc = gguf_int(g, "qwen2.attention.head_count_kv", heads, &kv, err, cap)) ||
        (rc = gguf_int(g, "qwen2.feed_forward_length", -1, &inter, err, cap)) ||
        (rc = gguf_int(g, "qwen2.context_length", 32768, &ctx, err, cap)))
        return rc;
    if (ov_gguf_get_int(g, "qwen2.attention.key_length", &kl) != 0)
        kl = heads > 0 ? hidden / heads : 0;
    if (ov_gguf_get_float(g, "qwen2.rope.freq_base", &theta) == OV_EINVAL ||
        ov_gguf_get_float(g, "qwen2.attention.layer_norm_rms_epsilon", &eps) == OV_EINVAL)
        return fail(err, cap, OV_EFORMAT, "qwen: %s: rope.freq_base / layer_norm_rms_epsilon not a float",
                    ov_gguf_path(g));
    q->info.n_layers = (int)layers;
    q->info.hidden = (int)hidden;
    q->info.n_heads = (int)heads;
    q->info.n_kv_heads = (int)kv;
    q->info.head_dim = (int)kl;
    q->info.intermediate = (int)inter;
    q->info.max_positions = ctx;
    q->info.rope_theta = (float)theta;
    q->info.rms_eps = (float)eps;
    const ov_gguf_tensor *emb = ov_gguf_find(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2)
        return fail(err, cap, OV_EFORMAT, "qwen: %s: tensor token_embd.weight missing or not 2-D",
                    ov_gguf_path(g));
    q->info.vocab = emb->ne[1];
    q->info.tied_embeddings = ov_gguf_find(g, "output.weight") == NULL;
    const char *ct;
    size_t ctl;
    if (ov_gguf_get_str(g, "tokenizer.chat_template", &ct, &ctl) == 0) {
        for (size_t i = 0; i + 12 <= ctl; i++)
            if (memcmp(ct + i, "<|im_start|>", 12) == 0) {
                q->info.has_chat_template = 1;
                break;
            }
    }
    return 0;
}

/* The tokenizer from tokenizer.ggml.* (what llama.cpp's convert_hf_to_gguf.py writes). */
static int load_gguf_tokenizer(ov_qwen *q, const ov_gguf *g, char *err, size_t cap)
{
    uint64_t n_tok = 0, n_merges = 0, n_types = 0;
    const char *path = ov_gguf_path(g);
    if (ov_gguf_get_arr_count(g, "tokenizer.ggml.tokens", &n_tok) ||
        ov_gguf_get_arr_count(g, "tokenizer.ggml.merges", &n_merges))
        return fail(err, cap, OV_EFORMAT, "qwen: %s: no tokenizer.ggml.tokens / merges arrays", path);
    char model[32] = "", pre[32] = "";
    const char *s;
    size_t n;
    if (ov_gguf_get_str(g, "tokenizer.ggml.model", &s, &n) == 0 && n < sizeof model)
        memcpy(model, s, n);
    if (ov_gguf_get_str(g, "tokenizer.ggml.pre", &s, &n) == 0 && n < sizeof pre)
        memcpy(pre, s, n);
    int has_types = ov_gguf_get_arr_count(g, "tokenizer.ggml.token_type", &n_types) == 0 && n_types == n_tok;
    ov_tok_str *toks = calloc(n_tok ? n_tok : 1, sizeof *toks);
    ov_tok_str *merges = calloc(n_merges ? n_merges : 1, sizeof *merges);
    int32_t *types = has_types ? calloc(n_tok ? n_tok : 1, sizeof *types) : NULL;
    int rc = 0;
    if (!toks || !merges || (has_types && !types)) {
        rc = fail(err, cap, OV_ENOMEM, "qwen: %s: out of memory for the vocabulary", path);
        goto out;
    }
    for (uint64_t i = 0; i < n_tok && !rc; i++) {
        int64_t ty;
        if (ov_gguf_get_arr_str(g, "tokenizer.ggml.tokens", i, &toks[i].s, &toks[i].n))
            rc = OV_EFORMAT;
        else if (has_types && !ov_gguf_get_arr_int(g, "tokenizer.ggml.token_type", i, &ty))
            types[i] = (int32_t)ty;
    }
    for (uint64_t i = 0; i < n_merges && !rc; i++)
        if (ov_gguf_get_arr_str(g, "tokenizer.ggml.merges", i, &merges[i].s, &merges[i].n))
            rc = OV_EFORMAT;
    if (rc) {
        rc = fail(err, cap, OV_EFORMAT, "qwen: %s: bad tokenizer.ggml arrays", path);
        goto out;
    }
    ov_tok_gguf_vocab v = {.model = model,
                           .pre = pre[0] ? pre : NULL,
                           .tokens = toks,
                           .n_tokens = n_tok,
                           .merges = merges,
                           .n_merges = n_merges,
                           .token_type = types,
                           .bos_id = -1,
                           .eos_id = -1,
                           .pad_id = -1};
    ov_gguf_get_int(g, "tokenizer.ggml.bos_token_id", &v.bos_id);
    ov_gguf_get_int(g, "tokenizer.ggml.eos_token_id", &v.eos_id);
    ov_gguf_get_int(g, "tokenizer.ggml.padding_token_id", &v.pad_id);
    if (has_types) {
        for (uint64_t i = 0; i < n_tok; i++) {
            if (types[i] != OV_GGUF_TOK_UNUSED)
                continue;
            if (!q->unused && !(q->unused = calloc((size_t)(n_tok + 7) / 8, 1))) {
                rc = fail(err, cap, OV_ENOMEM, "qwen: out of memory");
                goto out;
            }
            q->unused[i >> 3] |= (uint8_t)(1u << (i & 7));
        }
    }
    if ((rc = ov_tok_qwen_load_gguf(&q->tok, &v)))
        rc = fail(err, cap, rc, "qwen: %s: tokenizer.ggml.* metadata rejected (model '%s', pre '%s')", path,
                  model, pre);
    else
        add_eos(q, (int32_t)v.eos_id);
out:
    free(toks);
    free(merges);
    free(types);
    return rc;
}

/* ---- weights ---- */

static int load_one(ov_qwen *q, ov_weights *w, int gguf, int t, int layer, int want, int ndim, int64_t d0,
                    int64_t d1, ov_tensor *out, char *err, size_t cap)
{
    char name[OV_WEIGHTS_NAME_MAX];
    tensor_name(gguf, t, layer, name, sizeof name);
    int64_t shape[2] = {d0, d1};
    int rc = ov_weights_load(w, &q->mem, name, want, ndim, shape, out);
    if (rc)
        return fail(err, cap, rc, "qwen: %s%s", ov_tensor_last_error(),
                    rc == OV_EFORMAT ? gguf ? " (GGUF qwen2.* metadata and tensors disagree)"
                                            : " (config.json and the weights disagree)"
                                     : "");
    return 0;
}

static int load_weights(ov_qwen *q, ov_weights *w, int gguf, int want, char *err, size_t cap)
{
    const ov_qwen_info *in = &q->info;
    int64_t H = in->hidden, qd = (int64_t)in->n_heads * in->head_dim,
            kvd = (int64_t)in->n_kv_heads * in->head_dim;
    int64_t I = in->intermediate, V = in->vocab;
    /* norms and biases are tiny: always f32 (what the ops read fastest, exact for every source) */
    int rc;
    if ((rc = load_one(q, w, gguf, T_EMBED, 0, want, 2, V, H, &q->embed_tokens, err, cap)) ||
        (rc = load_one(q, w, gguf, T_NORM, 0, OV_DTYPE_F32, 1, H, 0, &q->norm, err, cap)))
        return rc;
    char name[OV_WEIGHTS_NAME_MAX];
    tensor_name(gguf, T_LM_HEAD, 0, name, sizeof name);
    if (in->tied_embeddings) {
        q->lm_head = q->embed_tokens;
        q->lm_head.flags &= ~(uint32_t)OV_TENSOR_OWNED;
    } else if (!ov_weights_has(w, name)) {
        return fail(err, cap, OV_ENOENT,
                    "qwen: %s: tensor %s not found (config says tie_word_embeddings false)",
                    ov_weights_path(w), name);
    } else if ((rc = load_one(q, w, gguf, T_LM_HEAD, 0, want, 2, V, H, &q->lm_head, err, cap))) {
        return rc;
    }
    for (int l = 0; l < in->n_layers; l++) {
        ov_qwen_layer *L = &q->layers[l];
        if ((rc = load_one(q, w, gguf, T_IN_NORM, l, OV_DTYPE_F32, 1, H, 0, &L->input_layernorm, err, cap)) ||
            (rc = load_one(q, w, gguf, T_Q_W, l, want, 2, qd, H, &L->q_proj_w, err, cap)) ||
            (rc = load_one(q, w, gguf, T_Q_B, l, OV_DTYPE_F32, 1, qd, 0, &L->q_proj_b, err, cap)) ||
            (rc = load_one(q, w, gguf, T_K_W, l, want, 2, kvd, H, &L->k_proj_w, err, cap)) ||
            (rc = load_one(q, w, gguf, T_K_B, l, OV_DTYPE_F32, 1, kvd, 0, &L->k_proj_b, err, cap)) ||
            (rc = load_one(q, w, gguf, T_V_W, l, want, 2, kvd, H, &L->v_proj_w, err, cap)) ||
            (rc = load_one(q, w, gguf, T_V_B, l, OV_DTYPE_F32, 1, kvd, 0, &L->v_proj_b, err, cap)) ||
            (rc = load_one(q, w, gguf, T_O_W, l, want, 2, H, qd, &L->o_proj_w, err, cap)) ||
            (rc = load_one(q, w, gguf, T_POST_NORM, l, OV_DTYPE_F32, 1, H, 0, &L->post_attention_layernorm,
                           err, cap)) ||
            (rc = load_one(q, w, gguf, T_GATE, l, want, 2, I, H, &L->gate_proj, err, cap)) ||
            (rc = load_one(q, w, gguf, T_UP, l, want, 2, I, H, &L->up_proj, err, cap)) ||
            (rc = load_one(q, w, gguf, T_DOWN, l, want, 2, H, I, &L->down_proj, err, cap)))
            return rc;
    }
    return 0;
}

static int check_dims(const ov_qwen_info *in, const char *path, char *err, size_t cap)
{
    if (in->n_layers < 1 || in->n_layers > 1024 || in->hidden < 1 || in->n_heads < 1 || in->n_kv_heads < 1 ||
        in->head_dim < 1 || in->head_dim % 2 || in->n_heads % in->n_kv_heads || in->intermediate < 1 ||
        in->vocab < 1 || in->max_positions < 1 || !(in->rope_theta > 0) || !(in->rms_eps > 0) ||
        !isfinite(in->rope_theta))
        return fail(err, cap, OV_EFORMAT,
                    "qwen: %s: inconsistent dims: layers %d hidden %d heads %d kv_heads %d head_dim %d "
                    "intermediate %d vocab %lld max_positions %lld theta %g eps %g",
                    path, in->n_layers, in->hidden, in->n_heads, in->n_kv_heads, in->head_dim,
                    in->intermediate, (long long)in->vocab, (long long)in->max_positions,
                    (double)in->rope_theta, (double)in->rms_eps);
    return 0;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int64_t path_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

int ov_qwen_load(const char *path, const ov_qwen_opts *opts, ov_qwen **out, char *err, size_t err_cap)
{
    if (err && err_cap)
        err[0] = '\0';
    if (!path || !out)
        return fail(err, err_cap, OV_EINVAL, "qwen: no model path");
    *out = NULL;
    ov_qwen_opts o = {.backend_kind = OV_BACKEND_CPU, .weight_dtype = -1};
    if (opts)
        o = *opts;
    double t0 = now_s();
    struct stat st;
    if (stat(path, &st) != 0)
        return fail(err, err_cap, OV_ENOENT, "qwen: %s: no such file or folder", path);
    ov_qwen *q = calloc(1, sizeof *q);
    if (!q)
        return fail(err, err_cap, OV_ENOMEM, "qwen: out of memory");
    int rc = 0, gguf = !is_dir(path);
    ov_weights *w = NULL;
    if (!gguf && (rc = read_hf_config(q, path, err, err_cap)))
        goto fail;
    if ((rc = ov_weights_open(path, &w))) {
        rc = fail(err, err_cap, rc, "qwen: %s", ov_tensor_last_error());
        goto fail;
    }
    if (gguf && ov_weights_format(w) != OV_WEIGHTS_GGUF) {
        rc = fail(err, err_cap, OV_EUNSUPP, "qwen: %s: a single file must be GGUF (or pass the HF folder)",
                  path);
        goto fail;
    }
    if (gguf) {
        const ov_gguf *g = ov_weights_gguf(w);
        if ((rc = read_gguf_config(q, g, err, err_cap)) || (rc = load_gguf_tokenizer(q, g, err, err_cap)))
            goto fail;
    } else {
        read_hf_extras(q, path);
        if ((rc = ov_tok_qwen_load_dir(&q->tok, path))) {
            rc = fail(err, err_cap, rc, "qwen: %s: cannot load tokenizer.json (or vocab.json + merges.txt)",
                      path);
            goto fail;
        }
    }
    if ((rc = check_dims(&q->info, path, err, err_cap)))
        goto fail;
    if ((int64_t)ov_tok_qwen_vocab_size(q->tok) > q->info.vocab) {
        rc =
            fail(err, err_cap, OV_EFORMAT, "qwen: %s: tokenizer has %zu tokens but the model's vocab is %lld",
                 path, ov_tok_qwen_vocab_size(q->tok), (long long)q->info.vocab);
        goto fail;
    }
    /* stop ids: <|endoftext|>, the tokenizer's eos, config eos ids, and <|im_end|> for chat models */
    add_eos(q, ov_tok_qwen_token_id(q->tok, "<|endoftext|>"));
    add_eos(q, ov_tok_qwen_eos_id(q->tok));
    if (q->info.has_chat_template)
        add_eos(q, ov_tok_qwen_token_id(q->tok, "<|im_end|>"));

    if ((rc = ov_backend_open(o.backend_kind, o.device, &q->be))) {
        rc = fail(err, err_cap, rc, "qwen: cannot open backend %d device %d: %s", o.backend_kind, o.device,
                  ov_tensor_last_error());
        goto fail;
    }
    q->own_backend = 1;
    ov_mem_init(&q->mem, q->be, o.vram_budget_bytes > 0 ? (size_t)o.vram_budget_bytes : 0);
    q->layers = calloc((size_t)q->info.n_layers, sizeof *q->layers);
    if (!q->layers) {
        rc = fail(err, err_cap, OV_ENOMEM, "qwen: out of memory");
        goto fail;
    }
    /* -1: as stored, but 16/32-bit float matrices in a 16-bit-activation backend's dtype (CUDA: an
     * f16 GGUF becomes bf16 at load, so decode's GEMV reads it directly instead of cuBLAS converting
     * every weight on every token) */
    if ((rc = load_weights(q, w, gguf, o.weight_dtype == -1 ? OV_WEIGHTS_DTYPE_ACT : o.weight_dtype, err,
                           err_cap)))
        goto fail;
    q->info.weight_bytes = (int64_t)q->mem.used_bytes;
    q->info.ctx_max =
        o.ctx_max > 0 ? o.ctx_max : (q->info.max_positions < 8192 ? q->info.max_positions : 8192);
    if (q->info.ctx_max > q->info.max_positions)
        q->info.ctx_max = q->info.max_positions;
    if ((rc = ov_qwen_kv_alloc(q))) {
        rc = fail(err, err_cap, rc, "qwen: KV cache (%lld tokens): %s", (long long)q->info.ctx_max,
                  ov_tensor_last_error());
        goto fail;
    }
    int64_t rows = q->info.ctx_max < OV_QWEN_PREFILL_CHUNK ? q->info.ctx_max : OV_QWEN_PREFILL_CHUNK;
    if ((rc = ov_arena_init(&q->arena, &q->mem, "qwen activations", ov_qwen_arena_bytes(&q->info, rows)))) {
        rc = fail(err, err_cap, rc, "qwen: %s", ov_tensor_last_error());
        goto fail;
    }
    if ((rc = ov_backend_sync(q->be))) {
        rc = fail(err, err_cap, rc, "qwen: backend: %s", ov_tensor_last_error());
        goto fail;
    }
    q->info.load_seconds = now_s() - t0;
    uint64_t bytes = ov_weights_bytes_read(w);
    q->info.load_bytes_per_s = q->info.load_seconds > 0 ? (double)bytes / q->info.load_seconds : 0;
    snprintf(q->info.format, sizeof q->info.format, "%s", gguf ? "gguf" : "safetensors");
    char name[128]; /* the last path component (GGUF: the last two), trailing slashes dropped */
    size_t plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/')
        plen--;
    size_t b0 = plen;
    while (b0 > 0 && path[b0 - 1] != '/')
        b0--;
    if (gguf && b0 > 1) { /* "folder/model.gguf": the file name alone rarely says which model */
        b0--;
        while (b0 > 0 && path[b0 - 1] != '/')
            b0--;
    }
    snprintf(name, sizeof name, "%.*s", (int)(plen - b0), path + b0);
    int64_t fb = gguf ? path_bytes(path) : (int64_t)bytes;
    snprintf(q->info.model_id, sizeof q->info.model_id, "%s (%s, %.1f MB)", name, q->info.format,
             (double)fb / 1e6);
    ov_weights_close(w);
    *out = q;
    return 0;
fail:
    ov_weights_close(w);
    ov_qwen_free(q);
    return rc;
}

void ov_qwen_free(ov_qwen *q)
{
    if (!q)
        return;
    ov_arena_free(&q->arena);
    ov_qwen_kv_free(q);
    if (q->layers) {
        for (int l = 0; l < q->info.n_layers; l++) {
            ov_qwen_layer *L = &q->layers[l];
            ov_tensor *ts[] = {&L->input_layernorm, &L->q_proj_w, &L->q_proj_b,
                               &L->k_proj_w,        &L->k_proj_b, &L->v_proj_w,
                               &L->v_proj_b,        &L->o_proj_w, &L->post_attention_layernorm,
                               &L->gate_proj,       &L->up_proj,  &L->down_proj};
            for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
                ov_mem_free_tensor(&q->mem, ts[i]);
        }
        free(q->layers);
    }
    if (!q->info.tied_embeddings)
        ov_mem_free_tensor(&q->mem, &q->lm_head);
    ov_mem_free_tensor(&q->mem, &q->embed_tokens);
    ov_mem_free_tensor(&q->mem, &q->norm);
    ov_tok_qwen_free(q->tok);
    free(q->unused);
    if (q->own_backend)
        ov_backend_close(q->be);
    free(q);
}

const ov_qwen_info *ov_qwen_get_info(const ov_qwen *q)
{
    return q ? &q->info : NULL;
}

ov_tok_qwen *ov_qwen_tokenizer(ov_qwen *q)
{
    return q ? q->tok : NULL;
}

size_t ov_qwen_stop_ids(const ov_qwen *q, const int32_t **ids)
{
    if (!q) {
        if (ids)
            *ids = NULL;
        return 0;
    }
    if (ids)
        *ids = q->eos_ids;
    return q->n_eos;
}
