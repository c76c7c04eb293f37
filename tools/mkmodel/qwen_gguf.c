/* ourvidz-mkmodel qwen: the GGUF twin of model.safetensors, keys and names as llama.cpp expects.
 * References: llama.cpp convert_hf_to_gguf.py (Qwen2Model, get_vocab_base), gguf-py
 * gguf/constants.py (MODEL_ARCH.QWEN2 tensor list, Keys), src/llama-arch.cpp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/formats/gguf.h"
#include "common/tensor/dtype.h"
#include "tools/mkmodel/mkmodel_qwen.h"

int ov_mk_qwen_gguf_name(const char *hf, char *out, size_t cap)
{
    static const struct {
        const char *hf, *gg;
    } glob[] = {{"model.embed_tokens.weight", "token_embd.weight"},
                {"model.norm.weight", "output_norm.weight"},
                {"lm_head.weight", "output.weight"}};
    static const struct {
        const char *hf, *gg;
    } per[] = {{"input_layernorm.weight", "attn_norm.weight"},
               {"self_attn.q_proj.weight", "attn_q.weight"},
               {"self_attn.q_proj.bias", "attn_q.bias"},
               {"self_attn.k_proj.weight", "attn_k.weight"},
               {"self_attn.k_proj.bias", "attn_k.bias"},
               {"self_attn.v_proj.weight", "attn_v.weight"},
               {"self_attn.v_proj.bias", "attn_v.bias"},
               {"self_attn.o_proj.weight", "attn_output.weight"},
               {"post_attention_layernorm.weight", "ffn_norm.weight"},
               {"mlp.gate_proj.weight", "ffn_gate.weight"},
               {"mlp.up_proj.weight", "ffn_up.weight"},
               {"mlp.down_proj.weight", "ffn_down.weight"}};
    for (size_t i = 0; i < sizeof glob / sizeof glob[0]; i++)
        if (!strcmp(hf, glob[i].hf))
            return (size_t)snprintf(out, cap, "%s", glob[i].gg) < cap ? 0 : OV_ERANGE;
    const char *pre = "model.layers.";
    if (strncmp(hf, pre, strlen(pre)) != 0)
        return OV_ENOENT;
    char *end;
    long layer = strtol(hf + strlen(pre), &end, 10);
    if (end == hf + strlen(pre) || *end != '.' || layer < 0)
        return OV_ENOENT;
    for (size_t i = 0; i < sizeof per / sizeof per[0]; i++)
        if (!strcmp(end + 1, per[i].hf))
            return (size_t)snprintf(out, cap, "blk.%ld.%s", layer, per[i].gg) < cap ? 0 : OV_ERANGE;
    return OV_ENOENT;
}

/* llama_ftype for general.file_type */
static uint32_t file_type(int dtype)
{
    switch (dtype) {
    case OV_DTYPE_F16: return 1;
    case OV_DTYPE_Q8_0: return 7;
    case OV_DTYPE_Q4_K: return 15; /* LLAMA_FTYPE_MOSTLY_Q4_K_M */
    case OV_DTYPE_BF16: return 32;
    default: return 0;
    }
}

int ov_mk_qwen_write_gguf(const ov_mk_list *l, const ov_mk_qwen_cfg *c, const ov_mk_qwen_vocab *v,
                          const char *name, uint64_t seed, int st_dtype, int gguf_dtype, const char *path,
                          char *err, size_t err_cap)
{
    if (gguf_dtype != OV_DTYPE_F32 && gguf_dtype != OV_DTYPE_F16 && gguf_dtype != OV_DTYPE_BF16 &&
        gguf_dtype != OV_DTYPE_Q8_0 && gguf_dtype != OV_DTYPE_Q4_K) {
        snprintf(err, err_cap, "mkmodel qwen: --gguf-type %s not writable (f32, f16, bf16, q8_0, q4_K)",
                 ov_dtype_name(gguf_dtype));
        return OV_EINVAL;
    }
    ov_gguf_writer *w = ov_gguf_writer_new();
    void **bufs = calloc(l->n ? l->n : 1, sizeof *bufs);
    int64_t max_n = 1;
    for (size_t i = 0; i < l->n; i++)
        if (ov_mk_nelem(&l->v[i]) > max_n)
            max_n = ov_mk_nelem(&l->v[i]);
    float *f = malloc((size_t)max_n * sizeof *f);
    void *st = malloc((size_t)max_n * 4);
    int rc = 0;
    if (!w || !bufs || !f || !st) {
        snprintf(err, err_cap, "mkmodel qwen: out of memory");
        rc = OV_ENOMEM;
        goto out;
    }
#define SET(x)                                                                                               \
    do {                                                                                                     \
        if (!rc && (rc = (x)) != 0)                                                                          \
            snprintf(err, err_cap, "mkmodel qwen: gguf metadata: %s", #x);                                   \
    } while (0)
    SET(ov_gguf_set_str(w, "general.architecture", "qwen2"));
    SET(ov_gguf_set_str(w, "general.type", "model"));
    SET(ov_gguf_set_str(w, "general.name", name));
    SET(ov_gguf_set_u32(w, "qwen2.block_count", (uint32_t)c->layers));
    SET(ov_gguf_set_u32(w, "qwen2.context_length", (uint32_t)c->max_positions));
    SET(ov_gguf_set_u32(w, "qwen2.embedding_length", (uint32_t)c->hidden));
    SET(ov_gguf_set_u32(w, "qwen2.feed_forward_length", (uint32_t)c->intermediate));
    SET(ov_gguf_set_u32(w, "qwen2.attention.head_count", (uint32_t)c->heads));
    SET(ov_gguf_set_u32(w, "qwen2.attention.head_count_kv", (uint32_t)c->kv_heads));
    SET(ov_gguf_set_f32(w, "qwen2.rope.freq_base", (float)c->rope_theta));
    SET(ov_gguf_set_f32(w, "qwen2.attention.layer_norm_rms_epsilon", (float)c->rms_eps));
    SET(ov_gguf_set_u32(w, "general.file_type", file_type(gguf_dtype)));
    if (ov_dtype_is_quantized(gguf_dtype))
        SET(ov_gguf_set_u32(w, "general.quantization_version", 2));
    SET(ov_gguf_set_str(w, "tokenizer.ggml.model", "gpt2"));
    SET(ov_gguf_set_str(w, "tokenizer.ggml.pre", "qwen2"));
    SET(ov_gguf_set_arr_str(w, "tokenizer.ggml.tokens", v->tokens, v->n_tokens));
    SET(ov_gguf_set_arr_i32(w, "tokenizer.ggml.token_type", v->types, v->n_tokens));
    SET(ov_gguf_set_arr_str(w, "tokenizer.ggml.merges", v->merges, v->n_merges));
    SET(ov_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos_id));
    SET(ov_gguf_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)v->pad_id));
    SET(ov_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos_id));
    SET(ov_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", 0));
    SET(ov_gguf_set_str(w, "tokenizer.chat_template", ov_mk_qwen_chat_template));
#undef SET
    for (size_t i = 0; !rc && i < l->n; i++) {
        const ov_mk_spec *s = &l->v[i];
        int64_t n = ov_mk_nelem(s);
        ov_mk_fill(s, seed, f, n);
        if (st_dtype != OV_DTYPE_F32) { /* the exact values model.safetensors holds */
            ov_dtype_from_f32(st_dtype, f, st, n);
            ov_dtype_to_f32(st_dtype, st, f, n);
        }
        int dt = s->ndim >= 2 ? gguf_dtype : OV_DTYPE_F32;
        if (ov_dtype_is_quantized(dt) && s->shape[s->ndim - 1] % (int64_t)ov_dtype_block_elems(dt))
            dt = OV_DTYPE_F16; /* llama.cpp's fallback for rows that do not fill a block */
        size_t nb = ov_dtype_row_bytes(dt, n);
        if (!(bufs[i] = malloc(nb ? nb : 1))) {
            snprintf(err, err_cap, "mkmodel qwen: out of memory for %s", s->name);
            rc = OV_ENOMEM;
            break;
        }
        ov_dtype_from_f32(dt, f, bufs[i], n);
        char gname[OV_MK_NAME_MAX];
        if ((rc = ov_mk_qwen_gguf_name(s->name, gname, sizeof gname))) {
            snprintf(err, err_cap, "mkmodel qwen: no GGUF name for %s", s->name);
            break;
        }
        int64_t ne[4] = {1, 1, 1, 1};
        for (int d = 0; d < s->ndim; d++)
            ne[d] = s->shape[s->ndim - 1 - d];
        if ((rc = ov_gguf_add_tensor(w, gname, dt, s->ndim, ne, bufs[i])))
            snprintf(err, err_cap, "mkmodel qwen: gguf tensor %s rejected", gname);
    }
    if (!rc)
        rc = ov_gguf_writer_write(w, path, err, err_cap);
out:
    if (bufs)
        for (size_t i = 0; i < l->n; i++)
            free(bufs[i]);
    free(bufs);
    free(f);
    free(st);
    ov_gguf_writer_free(w);
    return rc;
}
