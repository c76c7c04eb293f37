/* ourvidz-mkmodel qwen: a random-weight Qwen2ForCausalLM in the real HF folder layout plus its GGUF.
 * Files as Hugging Face ships Qwen2.5 (config.json, generation_config.json, model.safetensors,
 * tokenizer.json, tokenizer_config.json) and model.gguf as llama.cpp's convert_hf_to_gguf.py
 * writes it. Reference: transformers models/qwen2/configuration_qwen2.py. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/tensor/dtype.h"
#include "tools/mkmodel/mkmodel_qwen.h"

/* Qwen2.5-*-Instruct tokenizer_config.json chat_template (ChatML, with the tools branch and the
 * default system prompt). */
const char ov_mk_qwen_chat_template[] =
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    "    {%- endif %}\n"
    "    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou "
    "are "
    "provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n"
    "    {%- for tool in tools %}\n"
    "        {{- \"\\n\" }}\n"
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    "    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function name and "
    "arguments "
    "within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>, "
    "\\\"arguments\\\": "
    "<args-json-object>}\\n</tool_call><|im_end|>\\n\" }}\n"
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first) or "
    "(message.role == "
    "\"assistant\" and not message.tool_calls) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n"
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n"
    "        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    "            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n"
    "            {{- tool_call.name }}\n"
    "            {{- '\", \"arguments\": ' }}\n"
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- elif message.role == \"tool\" %}\n"
    "        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n"
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n"
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n";

/* Qwen2.5 added tokens end here (151665+ are Qwen3's <tool_response>, <think>...). */
#define QWEN25_LAST_ADDED 151664
#define QWEN_ENDOFTEXT 151643
#define QWEN_IM_END 151645

int ov_mk_qwen_specs(ov_mk_list *l, const ov_mk_qwen_cfg *c)
{
    int64_t H = c->hidden, hd = c->hidden / c->heads, qd = (int64_t)c->heads * hd,
            kvd = (int64_t)c->kv_heads * hd, I = c->intermediate;
    int rc = ov_mk_weight(l, c->embed_std, c->vocab, H, 0, 0, "model.embed_tokens.weight");
    for (int i = 0; !rc && i < c->layers; i++) {
        float ps = c->proj_std;
        if ((rc = ov_mk_gain(l, H, "model.layers.%d.input_layernorm.weight", i)) ||
            (rc = ov_mk_weight(l, ps, qd, H, 0, 0, "model.layers.%d.self_attn.q_proj.weight", i)) ||
            (rc = ov_mk_add(l, OV_MK_NORMAL, 0.0f, c->bias_std, 1, &qd,
                            "model.layers.%d.self_attn.q_proj.bias", i)) ||
            (rc = ov_mk_weight(l, ps, kvd, H, 0, 0, "model.layers.%d.self_attn.k_proj.weight", i)) ||
            (rc = ov_mk_add(l, OV_MK_NORMAL, 0.0f, c->bias_std, 1, &kvd,
                            "model.layers.%d.self_attn.k_proj.bias", i)) ||
            (rc = ov_mk_weight(l, ps, kvd, H, 0, 0, "model.layers.%d.self_attn.v_proj.weight", i)) ||
            (rc = ov_mk_add(l, OV_MK_NORMAL, 0.0f, c->bias_std, 1, &kvd,
                            "model.layers.%d.self_attn.v_proj.bias", i)) ||
            (rc = ov_mk_weight(l, ps, H, qd, 0, 0, "model.layers.%d.self_attn.o_proj.weight", i)) ||
            (rc = ov_mk_gain(l, H, "model.layers.%d.post_attention_layernorm.weight", i)) ||
            (rc = ov_mk_weight(l, ps, I, H, 0, 0, "model.layers.%d.mlp.gate_proj.weight", i)) ||
            (rc = ov_mk_weight(l, ps, I, H, 0, 0, "model.layers.%d.mlp.up_proj.weight", i)) ||
            (rc = ov_mk_weight(l, ps, H, I, 0, 0, "model.layers.%d.mlp.down_proj.weight", i)))
            break;
    }
    if (!rc)
        rc = ov_mk_gain(l, H, "model.norm.weight");
    if (!rc && !c->tied)
        rc = ov_mk_weight(l, c->embed_std, c->vocab, H, 0, 0, "lm_head.weight");
    return rc;
}

static int write_text(const char *dir, const char *file, const char *text)
{
    char path[1024];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return OV_ERANGE;
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "mkmodel qwen: cannot write %s\n", path);
        return OV_EIO;
    }
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    ok &= fclose(f) == 0;
    return ok ? 0 : OV_EIO;
}

static int write_json(const char *dir, const char *file, json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    if (!s)
        return OV_ENOMEM;
    int rc = write_text(dir, file, s);
    free(s);
    return rc;
}

static int write_configs(const char *dir, const ov_mk_qwen_cfg *c, int dtype, const char *preset)
{
    json_t *cfg = json_pack(
        "{s:[s],s:f,s:i,s:s,s:i,s:f,s:i,s:i,s:s,s:i,s:i,s:i,s:n,s:f,s:f,s:n,s:i,s:b,s:s,s:s,"
        "s:b,s:b,s:i}",
        "architectures", "Qwen2ForCausalLM", "attention_dropout", 0.0, "bos_token_id", QWEN_ENDOFTEXT,
        "hidden_act", "silu", "hidden_size", c->hidden, "initializer_range", 0.02, "intermediate_size",
        c->intermediate, "max_position_embeddings", (int)c->max_positions, "model_type", "qwen2",
        "num_attention_heads", c->heads, "num_hidden_layers", c->layers, "num_key_value_heads", c->kv_heads,
        "rope_scaling", "rms_norm_eps", c->rms_eps, "rope_theta", c->rope_theta, "sliding_window",
        "max_window_layers", c->layers, "tie_word_embeddings", c->tied, "torch_dtype",
        dtype == OV_DTYPE_BF16  ? "bfloat16"
        : dtype == OV_DTYPE_F16 ? "float16"
                                : "float32",
        "transformers_version", "4.43.1", "use_cache", 1, "use_sliding_window", 0, "vocab_size",
        (int)c->vocab);
    json_object_set_new(cfg, "eos_token_id", json_integer(QWEN_IM_END));
    json_object_set_new(
        cfg, "ourvidz_note",
        json_sprintf("random weights from ourvidz-mkmodel --preset %s (not a trained model)", preset));
    json_t *gen =
        json_pack("{s:i,s:i,s:[i,i],s:b,s:f,s:f,s:i,s:f}", "bos_token_id", QWEN_ENDOFTEXT, "pad_token_id",
                  QWEN_ENDOFTEXT, "eos_token_id", QWEN_IM_END, QWEN_ENDOFTEXT, "do_sample", 1, "temperature",
                  0.7, "top_p", 0.8, "top_k", 20, "repetition_penalty", 1.05);
    json_t *tc = json_pack("{s:b,s:b,s:n,s:s,s:b,s:s,s:s,s:i,s:s,s:b,s:s,s:n}", "add_bos_token", 0,
                           "add_prefix_space", 0, "bos_token", "chat_template", ov_mk_qwen_chat_template,
                           "clean_up_tokenization_spaces", 0, "eos_token", "<|im_end|>", "errors", "replace",
                           "model_max_length", 131072, "pad_token", "<|endoftext|>", "split_special_tokens",
                           0, "tokenizer_class", "Qwen2Tokenizer", "unk_token");
    int rc = (!cfg || !gen || !tc) ? OV_ENOMEM : 0;
    if (!rc)
        rc = write_json(dir, "config.json", cfg);
    if (!rc)
        rc = write_json(dir, "generation_config.json", gen);
    if (!rc)
        rc = write_json(dir, "tokenizer_config.json", tc);
    json_decref(cfg);
    json_decref(gen);
    json_decref(tc);
    return rc;
}

/* The real Qwen vocabulary: --tokenizer PATH, else $OURVIDZ_SOURCE_DIR or this source tree's
 * common/text/data/qwen-tokenizer.json.gz, else the installed copy (PREFIX/share/ourvidz/qwen/,
 * found from this executable's PREFIX/bin). */
static json_t *load_tokenizer(const char *given)
{
    char cand[4][1024];
    int n = 0;
    if (given)
        snprintf(cand[n++], sizeof cand[0], "%s", given);
    const char *env = getenv("OURVIDZ_SOURCE_DIR");
    if (env)
        snprintf(cand[n++], sizeof cand[0], "%s/common/text/data/qwen-tokenizer.json.gz", env);
    const char *self = __FILE__, *tail = strstr(self, "tools/mkmodel/mkmodel_qwen.c");
    if (tail)
        snprintf(cand[n++], sizeof cand[0], "%.*scommon/text/data/qwen-tokenizer.json.gz", (int)(tail - self),
                 self);
    char exe[900];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(cand[n++], sizeof cand[0], "%s/../share/ourvidz/qwen/qwen-tokenizer.json.gz", exe);
        }
    }
    for (int i = 0; i < n; i++) {
        gzFile f = gzopen(cand[i], "rb");
        if (!f)
            continue;
        ov_buf b;
        ov_buf_init(&b, (size_t)64 << 20);
        char chunk[65536];
        int k, bad = 0;
        while ((k = gzread(f, chunk, sizeof chunk)) > 0)
            if (ov_buf_append(&b, chunk, (size_t)k))
                bad = 1;
        gzclose(f);
        json_error_t e;
        json_t *j = (bad || k < 0) ? NULL : json_loadb(b.data, b.len, 0, &e);
        ov_buf_free(&b);
        if (j)
            return j;
        fprintf(stderr, "mkmodel qwen: %s is not a readable tokenizer.json(.gz)\n", cand[i]);
        return NULL;
    }
    fprintf(stderr, "mkmodel qwen: cannot find qwen-tokenizer.json.gz (pass --tokenizer PATH or set "
                    "OURVIDZ_SOURCE_DIR to the source tree)\n");
    return NULL;
}

/* Keep Qwen2.5's added tokens only (ids <= 151664), as its tokenizer.json has them. */
static void filter_added(json_t *tok)
{
    json_t *added = json_object_get(tok, "added_tokens");
    for (size_t i = json_array_size(added); i-- > 0;) {
        json_int_t id = json_integer_value(json_object_get(json_array_get(added, i), "id"));
        if (id > QWEN25_LAST_ADDED)
            json_array_remove(added, i);
    }
}

/* tokenizer.json -> GGUF arrays (strings point into tok; pads into the returned storage). */
static int build_vocab(json_t *tok, int64_t n_vocab, ov_mk_qwen_vocab *v, char **pad_store,
                       char ***merge_store)
{
    memset(v, 0, sizeof *v);
    v->n_tokens = (size_t)n_vocab;
    v->tokens = calloc(v->n_tokens, sizeof *v->tokens);
    v->types = calloc(v->n_tokens, sizeof *v->types);
    *pad_store = malloc(v->n_tokens * 16);
    json_t *model = json_object_get(tok, "model"), *merges = json_object_get(model, "merges");
    v->n_merges = json_array_size(merges);
    *merge_store = calloc(v->n_merges ? v->n_merges : 1, sizeof **merge_store);
    v->merges = (const char **)*merge_store;
    if (!v->tokens || !v->types || !*pad_store || !*merge_store)
        return OV_ENOMEM;
    const char *key;
    json_t *val;
    json_object_foreach(json_object_get(model, "vocab"), key, val)
    {
        json_int_t id = json_integer_value(val);
        if (id >= 0 && id < n_vocab) {
            v->tokens[id] = key;
            v->types[id] = 1; /* NORMAL */
        }
    }
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(tok, "added_tokens"), i, a)
    {
        json_int_t id = json_integer_value(json_object_get(a, "id"));
        if (id >= 0 && id < n_vocab) {
            v->tokens[id] = json_string_value(json_object_get(a, "content"));
            v->types[id] =
                json_is_true(json_object_get(a, "special")) ? 3 /* CONTROL */ : 4 /* USER_DEFINED */;
        }
    }
    for (i = 0; i < v->n_tokens; i++)
        if (!v->tokens[i]) {
            snprintf(*pad_store + i * 16, 16, "[PAD%u]", (unsigned)(i % 100000000u));
            v->tokens[i] = *pad_store + i * 16;
            v->types[i] = 5; /* UNUSED */
        }
    json_t *m;
    json_array_foreach(merges, i, m)
    {
        ov_buf b;
        ov_buf_init(&b, 4096);
        if (json_is_string(m))
            ov_buf_puts(&b, json_string_value(m));
        else if (ov_buf_puts(&b, json_string_value(json_array_get(m, 0))) || ov_buf_puts(&b, " ") ||
                 ov_buf_puts(&b, json_string_value(json_array_get(m, 1))))
            return OV_EFORMAT;
        (*merge_store)[i] = b.data; /* ownership moves to merge_store */
        if (!b.data)
            return OV_EFORMAT;
    }
    v->bos_id = QWEN_ENDOFTEXT;
    v->eos_id = QWEN_IM_END;
    v->pad_id = QWEN_ENDOFTEXT;
    return 0;
}

/* The sharded HF layout big checkpoints use: model-0000K-of-0000N.safetensors, tensors split in
 * file order into N runs of about equal bytes, plus model.safetensors.index.json
 * ({"metadata": {"total_size"}, "weight_map": {name: file}}). */
static int write_shards(const ov_mk_list *l, const char *dir, int shards, int dtype, uint64_t seed,
                        const char *const *meta, size_t n_meta, char *err, size_t cap)
{
    int64_t total = 0;
    for (size_t i = 0; i < l->n; i++)
        total += (int64_t)ov_dtype_row_bytes(dtype, ov_mk_nelem(&l->v[i]));
    json_t *wm = json_object();
    size_t i = 0;
    int rc = wm ? 0 : OV_ENOMEM;
    int64_t done = 0;
    for (int k = 0; k < shards && !rc; k++) {
        ov_mk_list part = {.v = l->v + i, .n = 0, .cap = 0};
        int64_t goal = total * (k + 1) / shards;
        while (i + part.n < l->n && (k == shards - 1 || done < goal || part.n == 0)) {
            done += (int64_t)ov_dtype_row_bytes(dtype, ov_mk_nelem(&l->v[i + part.n]));
            part.n++;
        }
        char file[64], path[1024];
        snprintf(file, sizeof file, "model-%05d-of-%05d.safetensors", k + 1, shards);
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
            return OV_ERANGE;
        for (size_t j = 0; j < part.n; j++)
            json_object_set_new(wm, part.v[j].name, json_string(file));
        rc = ov_mk_write_safetensors(&part, path, dtype, seed, meta, n_meta, err, cap);
        if (!rc)
            printf("mkmodel qwen: %s (%zu tensors, %s)\n", path, part.n, ov_dtype_name(dtype));
        i += part.n;
    }
    json_t *idx =
        rc ? NULL : json_pack("{s:{s:I},s:o}", "metadata", "total_size", (json_int_t)total, "weight_map", wm);
    if (!rc && !idx)
        rc = OV_ENOMEM;
    if (!rc)
        rc = write_json(dir, "model.safetensors.index.json", idx);
    if (idx)
        json_decref(idx);
    else
        json_decref(wm);
    return rc;
}

static const char *flag(const ov_mk_args *a, const char *name)
{
    for (int i = 0; i + 1 < a->argc; i++)
        if (!strcmp(a->argv[i], name))
            return a->argv[i + 1];
    return NULL;
}

/* DIR/{config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
 * model.safetensors, model.gguf}. Presets: tiny (2 layers, hidden 64; tests), tiny-q4k (1 layer,
 * hidden 256, f16 + Q4_K GGUF; the k-quant test), 0.5b (Qwen2.5-0.5B shapes; CPU benchmarks) and 7b
 * (Qwen2.5-7B-Instruct shapes, 15.2 GB bf16; the GPU benchmark).
 * Extra flags: --gguf-type f32|f16|bf16|q8_0|q4_K, --no-gguf, --shards N (sharded safetensors +
 * index.json instead of model.safetensors),
 * --tokenizer PATH (tokenizer.json or .json.gz). */
static int make_qwen(const ov_mk_args *a)
{
    ov_mk_qwen_cfg c;
    int big;
    for (int i = 0; i < a->argc; i++) {
        const char *f = a->argv[i];
        if (!strcmp(f, "--gguf-type") || !strcmp(f, "--tokenizer") || !strcmp(f, "--shards"))
            i++;
        else if (strcmp(f, "--no-gguf") != 0) {
            fprintf(stderr, "mkmodel qwen: unknown flag %s\n", f);
            return OV_EINVAL;
        }
    }
    if (!strcmp(a->preset, "tiny")) {
        big = 0;
        /* std chosen so logits are far from uniform (|logit| ~ 4) and greedy continuations vary */
        c = (ov_mk_qwen_cfg){64, 2, 4, 2, 128, 151936, 32768, 1e6, 1e-6, 1, 0.5f, 0.15f, 0.1f};
    } else if (!strcmp(a->preset, "tiny-q4k")) {
        big = 0; /* rows of 256 and 512 so every matrix can be Q4_K (256-element blocks) */
        c = (ov_mk_qwen_cfg){256, 1, 4, 2, 512, 151936, 32768, 1e6, 1e-6, 1, 0.25f, 0.08f, 0.1f};
    } else if (!strcmp(a->preset, "0.5b")) {
        big = 1; /* Qwen2.5-0.5B config.json */
        c = (ov_mk_qwen_cfg){896, 24, 14, 2, 4864, 151936, 32768, 1e6, 1e-6, 1, 0.02f, 0.02f, 0.02f};
    } else if (!strcmp(a->preset, "7b")) {
        big = 1; /* Qwen2.5-7B-Instruct config.json (untied lm_head, 4 KV heads): 15.2 GB in bf16 */
        c = (ov_mk_qwen_cfg){3584, 28, 28, 4, 18944, 152064, 32768, 1e6, 1e-6, 0, 0.02f, 0.02f, 0.02f};
    } else {
        fprintf(stderr, "mkmodel qwen: unknown preset '%s' (tiny, tiny-q4k, 0.5b, 7b)\n", a->preset);
        return OV_EINVAL;
    }
    int q4k = !strcmp(a->preset, "tiny-q4k");
    int dtype = a->dtype_set ? a->dtype : big ? OV_DTYPE_BF16 : q4k ? OV_DTYPE_F16 : OV_DTYPE_F32;
    const char *gt = flag(a, "--gguf-type");
    int gguf_dtype = gt ? ov_dtype_from_name(gt) : big ? OV_DTYPE_F16 : q4k ? OV_DTYPE_Q4_K : OV_DTYPE_F32;
    if (gguf_dtype < 0) {
        fprintf(stderr, "mkmodel qwen: --gguf-type %s unknown (f32, f16, bf16, q8_0)\n", gt);
        return OV_EINVAL;
    }
    const char *sh = flag(a, "--shards");
    int shards = sh ? (int)strtol(sh, NULL, 10) : 1;
    if (shards < 1 || shards > 99) {
        fprintf(stderr, "mkmodel qwen: --shards wants 1..99\n");
        return OV_EINVAL;
    }
    int want_gguf = 1;
    for (int i = 0; i < a->argc; i++)
        if (!strcmp(a->argv[i], "--no-gguf"))
            want_gguf = 0;

    json_t *tok = load_tokenizer(flag(a, "--tokenizer"));
    if (!tok)
        return OV_ENOENT;
    filter_added(tok);
    ov_mk_list l;
    ov_mk_list_init(&l);
    char err[512] = "", path[1024];
    int rc = ov_mk_qwen_specs(&l, &c);
    if (!rc)
        rc = ov_mk_mkdirs(a->out);
    if (!rc)
        rc = write_configs(a->out, &c, dtype, a->preset);
    if (!rc && (size_t)snprintf(path, sizeof path, "%s/tokenizer.json", a->out) >= sizeof path)
        rc = OV_ERANGE;
    if (!rc && json_dump_file(tok, path, JSON_PRESERVE_ORDER | JSON_COMPACT) != 0) {
        fprintf(stderr, "mkmodel qwen: cannot write %s\n", path);
        rc = OV_EIO;
    }
    const char *meta[] = {"format",         "pt",
                          "ourvidz.preset", a->preset,
                          "ourvidz.note",   "random weights from ourvidz-mkmodel (not a trained model)"};
    if (!rc && shards > 1) {
        rc = write_shards(&l, a->out, shards, dtype, a->seed, meta, 3, err, sizeof err);
    } else if (!rc) {
        if ((size_t)snprintf(path, sizeof path, "%s/model.safetensors", a->out) >= sizeof path)
            rc = OV_ERANGE;
        if (!rc)
            rc = ov_mk_write_safetensors(&l, path, dtype, a->seed, meta, 3, err, sizeof err);
        if (!rc)
            printf("mkmodel qwen: %s (%zu tensors, %s)\n", path, l.n, ov_dtype_name(dtype));
    }
    if (!rc && want_gguf) {
        ov_mk_qwen_vocab v;
        char *pads = NULL, **merges = NULL;
        rc = build_vocab(tok, c.vocab, &v, &pads, &merges);
        if (rc)
            snprintf(err, sizeof err, "mkmodel qwen: cannot build the GGUF vocabulary");
        char name[64];
        snprintf(name, sizeof name, "ourvidz-qwen2-%s-random", a->preset);
        if (!rc && (size_t)snprintf(path, sizeof path, "%s/model.gguf", a->out) >= sizeof path)
            rc = OV_ERANGE;
        if (!rc)
            rc = ov_mk_qwen_write_gguf(&l, &c, &v, name, a->seed, dtype, gguf_dtype, path, err, sizeof err);
        if (!rc)
            printf("mkmodel qwen: %s (%s)\n", path, ov_dtype_name(gguf_dtype));
        if (merges)
            for (size_t i = 0; i < v.n_merges; i++)
                free(merges[i]);
        free(merges);
        free(pads);
        free(v.tokens);
        free(v.types);
    }
    if (rc && err[0])
        fprintf(stderr, "%s\n", err);
    ov_mk_list_free(&l);
    json_decref(tok);
    return rc;
}

const ov_mk_kind ov_mk_kind_qwen = {"qwen", "tiny|tiny-q4k|0.5b|7b", make_qwen};
