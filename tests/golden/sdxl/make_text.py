#!/usr/bin/env python3
"""Golden outputs for the SDXL text encoders (tests/test_sdxl_text.c).

Reads the tiny te1 + te2 checkpoint written by tools/mkmodel/sdxl_te.c (sgm single-file names:
`build/tests/test_sdxl_text --write-te FILE`, or the full tiny model from
`ourvidz-mkmodel sdxl --preset tiny`, which holds the same tensors) and runs the independent
references on it, in float64 on the CPU:

  te1: transformers CLIPTextModel, weights through diffusers' convert_ldm_clip_checkpoint, strict
       load; context = hidden_states[-2] (sgm FrozenCLIPEmbedder layer="hidden", layer_idx=11).
  te2: open_clip TextTransformer (the bigG text tower, open_clip names), strict load;
       context = the output of block N-2 (forward_intermediates, sgm layer="penultimate"),
       pooled = ln_final(last)[argmax ids] @ text_projection.
       Cross-checked against transformers CLIPTextModelWithProjection loaded through diffusers'
       convert_open_clip_checkpoint (strict): the two must agree to 1e-10.
  tokens: open_clip's SimpleTokenizer (its own bundled vocabulary), weighted segments tokenized
       one by one (A1111 / ComfyUI), 75-token chunks wrapped BOS + chunk + EOS + pad
       (pad 49407 for te1, 0 for te2), pooled from the first chunk.
  emphasis: A1111 modules/sd_emphasis.py EmphasisOriginal, in numpy, per encoder and chunk:
       z *= w[:, None]; z *= mean(z_before) / mean(z_after).
  ADM: diffusers StableDiffusionXLPipeline._get_add_time_ids + the UNet's add_time_proj
       Timesteps(32, flip_sin_to_cos=True, downscale_freq_shift=0), concatenated after pooled.

Usage: make_text.py TE_FILE [OUT]   (OUT default: text_golden.bin.gz beside this script)
Output: gzip of records {u32 name_len, name, u32 dtype (0 f32, 1 i32, 2 utf-8), u32 ndim,
i64 shape[ndim], little-endian data}.
"""
import gzip
import os
import struct
import sys
import types

import numpy as np
import torch
from safetensors.torch import load_file

import open_clip
from open_clip.tokenizer import SimpleTokenizer
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection
from diffusers.loaders.single_file_utils import convert_ldm_clip_checkpoint, convert_open_clip_checkpoint
from diffusers.models.embeddings import Timesteps
from diffusers.pipelines.stable_diffusion_xl.pipeline_stable_diffusion_xl import StableDiffusionXLPipeline

BOS, EOS, PAD_L, PAD_G, CHUNK, CTX = 49406, 49407, 49407, 0, 75, 77
WIDTH, LAYERS, HEADS, MLP, PROJ, VOCAB = 128, 3, 2, 512, 128, 49408
TIME_DIM = 32
P1 = "conditioner.embedders.0.transformer."
P2 = "conditioner.embedders.1.model."

# (prompt as the C test passes it, weighted flag, A1111 segments [(text, weight)] for weighted ones).
# The segments are A1111 parse_prompt_attention's result for the prompt, written out by hand:
# "(x)" multiplies by 1.1, "[x]" divides by 1.1, "(x:w)" multiplies by w, nesting multiplies.
LONG = ("a majestic medieval castle on a misty hill at golden sunset, dramatic clouds, "
        "volumetric light, ultra detailed stone walls, tiny windows glowing warm, a winding road "
        "with travellers and horses, pine forest in the foreground, snowy mountains far away, "
        "birds over the lake, reflections in the water, oil painting by an old master, "
        "intricate, highly detailed, sharp focus, 8k, trending on artstation, cinematic composition, "
        "masterpiece, best quality")
PROMPTS = [
    ("a photo of a cat", 0, None),
    ("", 0, None),
    (LONG, 0, None),
    ("(red:1.3) cat", 1, [("red", 1.3), (" cat", 1.0)]),
    ("a (very (detailed:1.2)) [dark] forest, masterpiece", 1,
     [("a ", 1.0), ("very ", 1.1), ("detailed", 1.1 * 1.2), (" ", 1.0), ("dark", 1 / 1.1),
      (" forest, masterpiece", 1.0)]),
    ("(" + LONG + ":0.8), (glowing windows:1.4)", 1,
     [(LONG, 0.8), (", ", 1.0), ("glowing windows", 1.4)]),
]
TIME_IDS = ((1024, 768), (16, 32), (1024, 1024))  # original (h, w), crop (top, left), target (h, w)


def tokenize(tok, prompt, segments):
    if segments is None:
        segments = [(prompt, 1.0)]
    ids, wts = [], []
    for text, w in segments:
        t = tok.encode(text)
        ids += t
        wts += [w] * len(t)
    return ids, wts


def chunks(ids, wts, pad):
    n = max(1, (len(ids) + CHUNK - 1) // CHUNK)
    out_ids, out_w = [], []
    for c in range(n):
        part, pw = ids[c * CHUNK:(c + 1) * CHUNK], wts[c * CHUNK:(c + 1) * CHUNK]
        row = [BOS] + part + [EOS] + [pad] * (CTX - 2 - len(part))
        out_ids.append(row)
        out_w.append([1.0] + pw + [1.0] * (CTX - 1 - len(pw)))
    return np.array(out_ids, dtype=np.int64), np.array(out_w, dtype=np.float64)


def fit_keys(model, state):
    """transformers 5 CLIPTextModel has no `text_model.` wrapper any more; its from_pretrained
    strips that prefix (conversion_mapping.py PrefixChange). Do the same for a strict load."""
    want = set(model.state_dict().keys())
    if any(k.startswith("text_model.") for k in want):
        return state
    return {(k[len("text_model."):] if k.startswith("text_model.") else k): v for k, v in state.items()}


def emphasis(z, w):
    """A1111 EmphasisOriginal.after_transformers on one chunk z [77, C]."""
    original_mean = z.mean()
    z = z * w[:, None]
    new_mean = z.mean()
    return z * (original_mean / new_mean)


def main():
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                            "text_golden.bin.gz")
    torch.manual_seed(0)
    sd = load_file(src)
    te_keys = [k for k in sd if k.startswith(P1) or k.startswith(P2)]

    # te1: transformers CLIPTextModel (quick_gelu) through diffusers' single-file converter
    cfg1 = CLIPTextConfig(vocab_size=VOCAB, hidden_size=WIDTH, intermediate_size=MLP, num_hidden_layers=LAYERS,
                          num_attention_heads=HEADS, max_position_embeddings=CTX, hidden_act="quick_gelu",
                          layer_norm_eps=1e-5, bos_token_id=BOS, eos_token_id=EOS, pad_token_id=PAD_L)
    cfg1._attn_implementation = "sdpa"
    te1 = CLIPTextModel(cfg1)
    sd1 = convert_ldm_clip_checkpoint({k: sd[k] for k in te_keys if k.startswith(P1)})
    te1.load_state_dict(fit_keys(te1, sd1), strict=True)
    te1 = te1.double().eval()

    # te2: open_clip's text tower with the open_clip names as stored (logit_scale belongs to the
    # CLIP wrapper, not the text tower)
    te2 = open_clip.transformer.TextTransformer(context_length=CTX, vocab_size=VOCAB, width=WIDTH, heads=HEADS,
                                                layers=LAYERS, mlp_ratio=MLP / WIDTH, output_dim=PROJ,
                                                act_layer=torch.nn.GELU, pad_id=PAD_G, pool_type="argmax")
    sd2 = {k[len(P2):]: sd[k] for k in te_keys if k.startswith(P2) and k != P2 + "logit_scale"}
    te2.load_state_dict(sd2, strict=True)
    te2 = te2.double().eval()

    # te2 again as diffusers would load it (CLIPTextModelWithProjection, erf GELU)
    cfg2 = CLIPTextConfig(vocab_size=VOCAB, hidden_size=WIDTH, intermediate_size=MLP, num_hidden_layers=LAYERS,
                          num_attention_heads=HEADS, max_position_embeddings=CTX, hidden_act="gelu",
                          layer_norm_eps=1e-5, projection_dim=PROJ, bos_token_id=BOS, eos_token_id=EOS,
                          pad_token_id=1)
    cfg2._attn_implementation = "sdpa"
    te2h = CLIPTextModelWithProjection(cfg2)
    sd2h = convert_open_clip_checkpoint(te2h, {k: sd[k] for k in te_keys if k.startswith(P2)}, prefix=P2)
    te2h.load_state_dict(fit_keys(te2h, sd2h), strict=True)
    te2h = te2h.double().eval()

    tok = SimpleTokenizer()
    recs = []

    def rec(name, arr, dtype):
        recs.append((name, np.ascontiguousarray(arr), dtype))

    pooled0 = None
    with torch.no_grad():
        for i, (prompt, weighted, segments) in enumerate(PROMPTS):
            ids, wts = tokenize(tok, prompt, segments)
            ids_l, w = chunks(ids, wts, PAD_L)
            ids_g, _ = chunks(ids, wts, PAD_G)
            ctx = []
            pooled = None
            for c in range(ids_l.shape[0]):
                o1 = te1(input_ids=torch.from_numpy(ids_l[c:c + 1]), output_hidden_states=True)
                z1 = o1.hidden_states[-2][0].numpy()
                r2 = te2.forward_intermediates(torch.from_numpy(ids_g[c:c + 1]), output_fmt="NLC")
                z2 = r2["text_intermediates"][-2][0].numpy()
                o2h = te2h(input_ids=torch.from_numpy(ids_g[c:c + 1]), output_hidden_states=True)
                d_ctx = np.abs(o2h.hidden_states[-2][0].numpy() - z2).max()
                d_pool = np.abs(o2h.text_embeds[0].numpy() - r2["text_features"][0].numpy()).max()
                assert d_ctx < 1e-10 and d_pool < 1e-10, (d_ctx, d_pool)
                if c == 0:
                    pooled = r2["text_features"].numpy()
                if weighted:
                    print(f"  chunk {c}: mean restore ratio te1 {z1.mean() / (z1 * w[c][:, None]).mean():.4f}, "
                          f"te2 {z2.mean() / (z2 * w[c][:, None]).mean():.4f}")
                    z1, z2 = emphasis(z1, w[c]), emphasis(z2, w[c])
                ctx.append(np.concatenate([z1, z2], axis=1))
            context = np.concatenate(ctx, axis=0)[None]
            print(f"p{i}: {len(ids)} tokens, {ids_l.shape[0]} chunk(s), context {context.shape}, "
                  f"|ctx| max {np.abs(context).max():.3f}, pooled {pooled.shape}")
            rec(f"p{i}.prompt", np.frombuffer(prompt.encode(), dtype=np.uint8), 2)
            rec(f"p{i}.weighted", np.array([weighted], dtype=np.int32), 1)
            rec(f"p{i}.ids_l", ids_l.astype(np.int32), 1)
            rec(f"p{i}.ids_g", ids_g.astype(np.int32), 1)
            rec(f"p{i}.weights", w.astype(np.float32), 0)
            rec(f"p{i}.context", context.astype(np.float32), 0)
            rec(f"p{i}.pooled", pooled.astype(np.float32), 0)
            if i == 0:
                pooled0 = pooled

        # ADM vector for prompt 0's pooled vector: diffusers' own _get_add_time_ids (on a stand-in
        # `self` carrying the two config values it reads) and the UNet's add_time_proj
        fake = types.SimpleNamespace(unet=types.SimpleNamespace(
            config=types.SimpleNamespace(addition_time_embed_dim=TIME_DIM),
            add_embedding=types.SimpleNamespace(linear_1=types.SimpleNamespace(in_features=PROJ + 6 * TIME_DIM))))
        time_ids = StableDiffusionXLPipeline._get_add_time_ids(fake, TIME_IDS[0], TIME_IDS[1], TIME_IDS[2],
                                                               dtype=torch.float64, text_encoder_projection_dim=PROJ)
        add_time_proj = Timesteps(TIME_DIM, flip_sin_to_cos=True, downscale_freq_shift=0)
        time_embeds = add_time_proj(time_ids.flatten()).reshape(1, -1).double()
        y = torch.cat([torch.from_numpy(pooled0), time_embeds], dim=-1).numpy()
        rec("adm.time_ids", time_ids.numpy().astype(np.float32).reshape(6), 0)
        rec("adm.y", y.astype(np.float32), 0)
        print(f"adm: time_ids {time_ids.tolist()}, y {y.shape}")

    with gzip.open(out, "wb", compresslevel=9) as f:
        for name, arr, dtype in recs:
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<II", dtype, arr.ndim))
            f.write(struct.pack(f"<{arr.ndim}q", *arr.shape))
            f.write(arr.astype({0: "<f4", 1: "<i4", 2: "u1"}[dtype]).tobytes())
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
