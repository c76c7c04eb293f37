/* The ops model code calls: checked once here, then run by the tensors' backend (CPU or CUDA). */
#ifndef OV_OPS_H
#define OV_OPS_H

#include <stdint.h>

#include "common/tensor/tensor.h"

/* Conventions for every ov_op_*:
 * - Returns 0, or OV_EINVAL (shapes/dtypes/params wrong; nothing written), OV_EUNSUPP (the
 *   backend cannot run this op or dtype), OV_ENOMEM (scratch), OV_EGPU (device failure). The
 *   message (op name, tensor names and shapes) is in ov_tensor_last_error().
 * - All operands must live on the same backend. The caller allocates the output `y` with the
 *   exact shape documented (no implicit resize) and owns every tensor.
 * - "act" = activation dtype: F32 on the CPU backend (bf16/f16 may be accepted by CUDA).
 *   "weight" = any float dtype (f32/f16/bf16/f8 with scale) or Q8_0/Q4_K/Q6_K, converted or
 *   dequantised on the fly.
 * - Unless stated, inputs may be any strided view whose last dim is contiguous only where said;
 *   outputs must be contiguous. In-place (y and x the same bytes) is allowed where marked. */

enum ov_gelu_kind {
    OV_GELU_ERF = 0,   /* x·Φ(x) exact (torch GELU(), SDXL GEGLU, bigG MLP) */
    OV_GELU_TANH = 1,  /* torch GELU(approximate='tanh') (WAN, umT5) */
    OV_GELU_QUICK = 2, /* x·sigmoid(1.702x) (CLIP ViT-L quick_gelu) */
};

typedef struct ov_conv2d_params {
    int stride_h, stride_w;     /* >= 1 */
    int pad_h, pad_w;           /* zero padding on both sides, >= 0 */
    int dilation_h, dilation_w; /* >= 1 (0 is read as 1) */
    int groups;                 /* >= 1 (0 is read as 1); C_in and C_out divisible by it */
} ov_conv2d_params;

typedef struct ov_conv3d_params {
    int stride_t, stride_h, stride_w; /* >= 1 (0 is read as 1) */
    int pad_t_front;  /* zero frames before the first one; none after (WAN CausalConv3d: 2·pad) */
    int pad_h, pad_w; /* zero padding on both sides */
} ov_conv3d_params;

typedef struct ov_attn_params {
    float scale;          /* multiplies q·k; 0 means 1/sqrt(D). umT5 wants 1 (pass 1.0f). */
    int causal;           /* key j visible to query i iff j <= q_pos_offset + i */
    int64_t q_pos_offset; /* position of query 0 among the keys (KV cache: Lk - Lq) */
    /* Optional additive bias on the scores, logical shape [B|1, H|1, Lq, Lk] f32 (umT5 relative
     * position bias, key padding masks with -INFINITY). NULL for none. A row whose keys are all
     * masked (-inf) gives zeros. */
    const ov_tensor *bias;
} ov_attn_params;

typedef struct ov_timestep_params {
    int flip_sin_to_cos;        /* 1: [cos, sin] (SDXL, WAN); 0: [sin, cos] */
    float downscale_freq_shift; /* diffusers freq_shift: exponent divides by (half - shift) */
    float max_period;           /* 10000 */
    float scale;                /* multiplies the angles; 1 */
} ov_timestep_params;

/* ---- copies and layout ---- */

/* y = x converted to y's dtype. x any strided view (any float/quant dtype, its scale applied),
 * y same shape, any strided view of an act dtype. This is how permute/slice views become
 * contiguous, how rows are scattered into a KV cache and how weights are turned into f32. */
int ov_op_copy(ov_tensor *y, const ov_tensor *x);
/* y = concat(a, b) along `dim` (other dims equal). y contiguous. */
int ov_op_concat(ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int dim);
/* y = x padded with `value`: before[i]/after[i] elements on dim i (>= 0). y shape =
 * x.shape + before + after. */
int ov_op_pad(ov_tensor *y, const ov_tensor *x, const int64_t *before, const int64_t *after, float value);
/* Nearest-neighbour ×2 on the last two dims: x [..., H, W] -> y [..., 2H, 2W]. */
int ov_op_upsample_nearest2x(ov_tensor *y, const ov_tensor *x);

/* ---- GEMM ---- */

/* y = x·Wᵀ + b, the checkpoint layout: x [..., in] (act; rows may be strided, last dim contiguous),
 * W [out, in] (weight, contiguous), b [out] or NULL (f32/f16/bf16), y [..., out]. */
int ov_op_linear(ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b);
/* y = x·Wᵀ (+ b) + r: a linear whose output lands on a residual (o_proj/down_proj into the hidden
 * state, SDXL's to_out/ff output). x, w, b and y as ov_op_linear; r has y's shape and dtype, is
 * contiguous, and is either y itself (exactly the same view: the in-place residual) or does not
 * overlap y. x must not overlap y. Backends fold r into the GEMM (beta = 1, or the decode GEMV's
 * store); the result may differ from linear + add by one rounding of y's dtype. */
int ov_op_linear_add(ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                     const ov_tensor *r);
/* y = SiLU(x·W_gateᵀ) · (x·W_upᵀ): the Qwen2MLP / LLaMA MLP before down_proj, without the two
 * [..., I] intermediates. x [..., K] as ov_op_linear's x, w_gate and w_up [I, K] (weight dtypes,
 * contiguous; may differ in dtype/scale), y [..., I] contiguous, not overlapping x. No biases. */
int ov_op_linear_swiglu(ov_tensor *y, const ov_tensor *x, const ov_tensor *w_gate, const ov_tensor *w_up);
/* Batched y[i] = alpha · op(a[i])·op(b[i]): a [B|1, M, K] (or [B|1, K, M] if trans_a),
 * b [B|1, K, N] (or [B|1, N, K] if trans_b), y [B, M, N], act dtype, last dims contiguous. */
int ov_op_matmul(ov_tensor *y, const ov_tensor *a, const ov_tensor *b, int trans_a, int trans_b, float alpha);

/* ---- convolution ---- */

/* x [N, C, H, W] act, w [O, C/groups, kh, kw] weight, b [O] or NULL, y [N, O, Ho, Wo] with
 * Ho = (H + 2·pad_h − dil_h·(kh−1) − 1)/stride_h + 1 (likewise Wo). */
int ov_op_conv2d(ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                 const ov_conv2d_params *p);
/* Causal 3D conv (WAN): x [N, C, T, H, W], w [O, C, kt, kh, kw], b [O] or NULL,
 * y [N, O, To, Ho, Wo], To = (T + pad_t_front − kt)/stride_t + 1. For a streaming decode the
 * caller concatenates the cached frames in front of x and passes pad_t_front = 0. */
int ov_op_conv3d_causal(ov_tensor *y, const ov_tensor *x, const ov_tensor *w, const ov_tensor *b,
                        const ov_conv3d_params *p);

/* ---- normalisation (statistics in f32 or better) ---- */

/* Over the last dim: y = (x − mean)/sqrt(var + eps)·gamma + beta; gamma/beta [C] or NULL
 * (no affine). x, y [..., C], contiguous. In-place allowed. */
int ov_op_layer_norm(ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma, const ov_tensor *beta,
                     float eps);
/* Over the last dim: y = x/sqrt(mean(x²) + eps)·gamma (gamma [C] or NULL). Full-width: x
 * [..., dim]; per head: view x as [..., heads, head_dim] with gamma [head_dim]. In-place allowed. */
int ov_op_rms_norm(ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma, float eps);
/* x [N, C, *spatial] (2..5 dims), groups | C: stats over (C/groups · spatial) per (n, group);
 * y = norm·gamma[c] + beta[c] (gamma/beta [C] or NULL). In-place allowed. */
int ov_op_group_norm(ov_tensor *y, const ov_tensor *x, int groups, const ov_tensor *gamma,
                     const ov_tensor *beta, float eps);
/* y = SiLU(group_norm(x)): the norm + nonlinearity pair of SDXL's and the VAE's ResnetBlocks, one
 * pass over y where the backend fuses it (CUDA), else the two ops. Same rules as ov_op_group_norm. */
int ov_op_group_norm_silu(ov_tensor *y, const ov_tensor *x, int groups, const ov_tensor *gamma,
                          const ov_tensor *beta, float eps);
/* WAN VAE RMS_norm over the channel dim at each position: x [N, C, *spatial],
 * y = x / max(‖x[n,:,pos]‖₂, eps) · sqrt(C) · gamma[c] (gamma [C] or NULL). eps 1e-12 in WAN. */
int ov_op_channel_rms_norm(ov_tensor *y, const ov_tensor *x, const ov_tensor *gamma, float eps);

/* ---- element-wise (contiguous x, y of equal shape; in-place allowed) ---- */

int ov_op_silu(ov_tensor *y, const ov_tensor *x);
int ov_op_gelu(ov_tensor *y, const ov_tensor *x, int kind /* enum ov_gelu_kind */);
/* y = x·alpha + beta */
int ov_op_scale(ov_tensor *y, const ov_tensor *x, float alpha, float beta);
/* y = min(max(x, lo), hi) */
int ov_op_clamp(ov_tensor *y, const ov_tensor *x, float lo, float hi);
/* Broadcasting binary ops (numpy rules, right-aligned dims, size-1 dims broadcast):
 * y has the broadcast shape; a, b any strided views. y may alias a (same view). */
int ov_op_add(ov_tensor *y, const ov_tensor *a, const ov_tensor *b);
int ov_op_mul(ov_tensor *y, const ov_tensor *a, const ov_tensor *b);
/* Adaptive-norm modulation y = x·(1 + scale) + shift; scale/shift broadcast to x like ov_op_add
 * (WAN: x [B, L, C], scale/shift [B, 1, C] views of the modulation chunks). y may alias x. */
int ov_op_modulate(ov_tensor *y, const ov_tensor *x, const ov_tensor *shift, const ov_tensor *scale);
/* GEGLU (SDXL): x [..., 2n] -> y [..., n] = x[..., :n] · GELU_erf(x[..., n:]). */
int ov_op_geglu(ov_tensor *y, const ov_tensor *x);
/* SwiGLU (Qwen): y = SiLU(gate) · up, all [..., n]. y may alias gate or up. */
int ov_op_swiglu(ov_tensor *y, const ov_tensor *gate, const ov_tensor *up);
/* Softmax over the last dim of x·scale (max-subtracted). In-place allowed. */
int ov_op_softmax(ov_tensor *y, const ov_tensor *x, float scale);

/* ---- attention ---- */

/* Scaled dot-product attention without an L×L matrix (tiled online softmax).
 * Logical shapes as torch SDPA: q [B, Hq, Lq, D], k and v [B, Hkv, Lk, D], o [B, Hq, Lq, D];
 * any strides with a contiguous last dim, so the [B, L, H, D] output of a linear is passed as a
 * permuted view (ov_tensor_permute perm {0,2,1,3}) without a copy. Hq % Hkv == 0 (GQA: query
 * head h reads kv head h / (Hq/Hkv)). Cross-attention: Lk != Lq. KV cache: k/v are slices of
 * the cache up to the current length, q_pos_offset = Lk − Lq, causal = 1. */
int ov_op_attention(ov_tensor *o, const ov_tensor *q, const ov_tensor *k, const ov_tensor *v,
                    const ov_attn_params *p);

/* ---- positions ---- */

/* RoPE, NEOX / rotate-half (Qwen2, HF): x [B, L, H, D] (any strides, last dim contiguous),
 * y contiguous, same shape; token l has position pos_offset + l; pairs (i, i + D/2) rotate by
 * pos·theta^(−2i/D). In-place allowed when y and x are the same contiguous view. */
int ov_op_rope_neox(ov_tensor *y, const ov_tensor *x, int64_t pos_offset, float theta);
/* WAN 3D RoPE (wan/modules/model.py rope_apply): x [B, L, H, D], interleaved pairs
 * (x[2j], x[2j+1]); the D/2 pairs split [c − 2⌊c/3⌋, ⌊c/3⌋, ⌊c/3⌋] between the t, h, w axes
 * (44/42/42 real dims at D = 128), each axis with its own table theta^(−2j/D_axis). Token
 * index f·(gh·gw) + h·gw + w; tokens past gt·gh·gw are copied unchanged. In-place allowed. */
int ov_op_rope_wan3d(ov_tensor *y, const ov_tensor *x, int64_t grid_t, int64_t grid_h, int64_t grid_w,
                     float theta);
/* Sinusoidal timestep embedding (diffusers get_timestep_embedding; WAN's
 * sinusoidal_embedding_1d is flip_sin_to_cos = 1, shift 0): t [N] f32, y [N, dim].
 * half = dim/2, freq_i = exp(−ln(max_period)·i/(half − shift)), angles = scale·t·freq; an odd
 * dim gets a trailing zero column. */
int ov_op_timestep_embedding(ov_tensor *y, const ov_tensor *t, const ov_timestep_params *p);
/* Rows of a table: ids [N] I32 (values checked: 0 <= id < V, else OV_EINVAL naming the id),
 * table [V, D] weight, y [N, D] act. */
int ov_op_embedding(ov_tensor *y, const ov_tensor *table, const ov_tensor *ids);
/* The same with the n ids in host memory (checked on the host; OV_EINVAL names the first bad one):
 * no trip of the ids to the device and back for the check (CUDA: a decode token's embedding was a
 * 0.14 ms stream round trip). y [n, D]. */
int ov_op_embedding_host(ov_tensor *y, const ov_tensor *table, const int32_t *ids, int64_t n);

#endif
