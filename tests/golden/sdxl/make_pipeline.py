#!/usr/bin/env python3
"""Golden data for tests/test_sdxl_pipeline.c: complete SDXL runs of diffusers'
StableDiffusionXLPipeline assembled from the tiny random-weight model.

Components (no hub downloads; configs matching tools/mkmodel "tiny"):
  text_encoder    transformers CLIPTextModel (quick_gelu), diffusers convert_ldm_clip_checkpoint
  text_encoder_2  transformers CLIPTextModelWithProjection (gelu), convert_open_clip_checkpoint
  unet            diffusers UNet2DConditionModel, convert_ldm_unet_checkpoint
  vae             diffusers AutoencoderKL (scaling_factor 0.13025), convert_ldm_vae_checkpoint
  tokenizer(_2)   transformers CLIPTokenizer from a vocab.json / merges.txt derived here from
                  common/text/data/bpe_simple_vocab_16e6.txt.gz (openai/CLIP simple_tokenizer's
                  construction); tokenizer_2 pads with "!" (id 0) as the SDXL repo's does
  scheduler       EulerDiscreteScheduler with the SDXL base scheduler_config.json values, or
                  DPMSolverMultistepScheduler.from_config(..., use_karras_sigmas=True)
every state dict loaded with strict=True (every tensor of the file used, every parameter set).
force_zeros_for_empty_prompt=True (SDXL base), add_watermarker=False.

Each case passes OUR initial noise (stored, standard normal) as `latents=`, so both pipelines
start equal (diffusers multiplies it by init_noise_sigma, as we do). Recorded: the latents after
every step (callback_on_step_end), the output_type="np" images, all from a float64 run (the
reference) and the float32 run's images and uint8 pixels (numpy_to_pil rounding) for scale.

Usage:
  build/bin/ourvidz-mkmodel sdxl --preset tiny --out /tmp/sdxl_tiny
  /work/venv/bin/python tests/golden/sdxl/make_pipeline.py /tmp/sdxl_tiny/model.safetensors
Writes pipeline_golden.bin.gz beside this script: gzip of records {u32 name_len, name,
u32 dtype (0 f32, 1 i32, 2 utf-8 bytes), u32 ndim, i64 shape[ndim], little-endian data}.
"""
import gzip
import json
import os
import struct
import sys
import tempfile

import numpy as np
import torch
import diffusers
import transformers
from safetensors.torch import load_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer
from diffusers import (AutoencoderKL, DPMSolverMultistepScheduler, EulerDiscreteScheduler,
                       StableDiffusionXLPipeline, UNet2DConditionModel)
from diffusers.loaders.single_file_utils import (convert_ldm_clip_checkpoint, convert_ldm_unet_checkpoint,
                                                 convert_ldm_vae_checkpoint, convert_open_clip_checkpoint)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
P1 = "conditioner.embedders.0.transformer."
P2 = "conditioner.embedders.1.model."
BOS, EOS, VOCAB, CTX = 49406, 49407, 49408, 77

SDXL_SCHED = dict(beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085, interpolation_type="linear",
                  num_train_timesteps=1000, prediction_type="epsilon", steps_offset=1, timestep_spacing="leading",
                  trained_betas=None, use_karras_sigmas=False)

# (name, prompt, negative (None = empty), sampler, steps, cfg, width, height, count)
CASES = [
    ("c0", "a photo of a cat", None, "euler", 4, 6.0, 64, 64, 1),
    ("c1", "a red car on a street at night, rain", "blurry, low quality", "euler", 4, 7.5, 96, 64, 2),
    ("c2", "a photo of a cat", None, "dpmpp_2m_karras", 4, 6.0, 64, 64, 1),
    ("c3", "an astronaut riding a horse", None, "euler", 4, 1.0, 64, 64, 1),
]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def make_tokenizers(tmp):
    """openai/CLIP simple_tokenizer.py: 256 byte symbols, the same with </w>, the first 48,894
    merges, then <|startoftext|>, <|endoftext|> (49,408 ids)."""
    lines = gzip.open(os.path.join(ROOT, "common/text/data/bpe_simple_vocab_16e6.txt.gz")).read().decode().split("\n")
    merges = lines[1:49152 - 256 - 2 + 1]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == VOCAB
    vpath, mpath = os.path.join(tmp, "vocab.json"), os.path.join(tmp, "merges.txt")
    with open(vpath, "w") as f:
        json.dump({v: i for i, v in enumerate(vocab)}, f)
    with open(mpath, "w") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    tok1 = CLIPTokenizer(vocab=vpath, merges=mpath, model_max_length=CTX)
    tok2 = CLIPTokenizer(vocab=vpath, merges=mpath, model_max_length=CTX, pad_token="!")
    ids = tok1("a photo of a cat").input_ids
    assert ids == [49406, 320, 1125, 539, 320, 2368, 49407], ids  # REFERENCE-MODELS.md B.5
    assert tok2.pad_token_id == 0 and tok1.pad_token_id == EOS
    return tok1, tok2


def fit_keys(model, state):
    """transformers 5 CLIPTextModel has no `text_model.` wrapper; strip it for a strict load."""
    want = set(model.state_dict().keys())
    if any(k.startswith("text_model.") for k in want):
        return state
    return {(k[len("text_model."):] if k.startswith("text_model.") else k): v for k, v in state.items()}


def build(sd):
    te_cfg = dict(vocab_size=VOCAB, hidden_size=128, intermediate_size=512, num_hidden_layers=3, num_attention_heads=2,
                  max_position_embeddings=CTX, layer_norm_eps=1e-5, bos_token_id=BOS, eos_token_id=EOS)
    cfg1 = CLIPTextConfig(hidden_act="quick_gelu", pad_token_id=EOS, **te_cfg)
    cfg1._attn_implementation = "eager"
    te1 = CLIPTextModel(cfg1)
    sd1 = convert_ldm_clip_checkpoint({k: v for k, v in sd.items() if k.startswith(P1)})
    te1.load_state_dict(fit_keys(te1, sd1), strict=True)

    cfg2 = CLIPTextConfig(hidden_act="gelu", projection_dim=128, pad_token_id=1, **te_cfg)
    cfg2._attn_implementation = "eager"
    te2 = CLIPTextModelWithProjection(cfg2)
    sd2 = convert_open_clip_checkpoint(te2, {k: v for k, v in sd.items() if k.startswith(P2)}, prefix=P2)
    te2.load_state_dict(fit_keys(te2, sd2), strict=True)

    unet = UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(64, 128, 256), layers_per_block=2, transformer_layers_per_block=(1, 1, 2),
        attention_head_dim=(1, 2, 4), cross_attention_dim=256, use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=32, projection_class_embeddings_input_dim=320,
        norm_num_groups=32, norm_eps=1e-5, flip_sin_to_cos=True, freq_shift=0, act_fn="silu")
    su = {k: v for k, v in sd.items() if k.startswith("model.diffusion_model.")}
    cu = convert_ldm_unet_checkpoint(su, unet.config)
    unet.load_state_dict(cu, strict=True)
    assert len(cu) == len(su)

    vae_cfg = dict(in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
                   up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=[32, 64, 64, 64], layers_per_block=2,
                   act_fn="silu", latent_channels=4, norm_num_groups=32, sample_size=64, scaling_factor=0.13025)
    vae = AutoencoderKL(**vae_cfg)
    sv = {k: v for k, v in sd.items() if k.startswith("first_stage_model.")}
    cv = convert_ldm_vae_checkpoint(sv, vae_cfg)
    vae.load_state_dict(cv, strict=True)
    assert len(cv) == len(sv)
    return te1, te2, unet, vae


def scheduler(name):
    s = EulerDiscreteScheduler(**SDXL_SCHED)
    if name == "euler":
        return s
    if name == "dpmpp_2m_karras":
        return DPMSolverMultistepScheduler.from_config(s.config, use_karras_sigmas=True)
    raise ValueError(name)


def model_hash(path):
    """pipeline.c model_hash: FNV-1a 64 over the first MiB, top 40 bits as 10 hex digits."""
    h = 0xCBF29CE484222325
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%010x" % (h >> 24)


def write_records(out, recs):
    """The golden file: gzip (mtime 0) of (name, array, dtype 0 f32 / 1 i32 / 2 bytes) records."""
    with gzip.GzipFile(out, "wb", compresslevel=9, mtime=0) as f:
        for name, arr, dtype in recs:
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)) + nb + struct.pack("<II", dtype, arr.ndim))
            f.write(struct.pack("<%dq" % arr.ndim, *arr.shape))
            f.write(arr.astype({0: "<f4", 1: "<i4", 2: "u1"}[dtype]).tobytes())


def run(pipe, case, noise, dtype):
    name, prompt, neg, sampler, steps, cfg, w, h, count = case
    pipe.scheduler = scheduler(sampler)
    pipe.to(dtype)
    steps_lat = []

    def on_step(p, i, t, kw):
        steps_lat.append(kw["latents"].detach().to(torch.float64).numpy().copy())
        return kw

    with torch.no_grad():
        out = pipe(prompt=prompt, negative_prompt=neg, num_inference_steps=steps, guidance_scale=cfg, width=w,
                   height=h, num_images_per_prompt=count, latents=torch.from_numpy(noise).to(dtype),
                   output_type="np", callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"])
    return np.stack(steps_lat), np.asarray(out.images, dtype=np.float64)


def main():
    model = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "pipeline_golden.bin.gz")
    torch.manual_seed(0)
    sd = load_file(model)
    recs = []

    def rec(name, arr, dtype):
        recs.append((name, np.ascontiguousarray(arr), dtype))

    with tempfile.TemporaryDirectory() as tmp:
        tok1, tok2 = make_tokenizers(tmp)
        te1, te2, unet, vae = build(sd)
        pipe = StableDiffusionXLPipeline(vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tok1,
                                         tokenizer_2=tok2, unet=unet, scheduler=scheduler("euler"),
                                         force_zeros_for_empty_prompt=True, add_watermarker=False)
        pipe.set_progress_bar_config(disable=True)
        rng = np.random.default_rng(20261127)
        h = model_hash(model)
        rec("model_hash", np.frombuffer(h.encode(), dtype=np.uint8), 2)
        for case in CASES:
            name, prompt, neg, sampler, steps, cfg, w, hh, count = case
            noise = rng.standard_normal((count, 4, hh // 8, w // 8)).astype(np.float32)
            lat64, img64 = run(pipe, case, noise, torch.float64)
            lat32, img32 = run(pipe, case, noise, torch.float32)
            u8 = (img32.astype(np.float32) * 255).round().astype(np.uint8)
            print("%s: %s steps %d cfg %.1f %dx%d x%d | f32 vs f64: latents max|d| %.3g, image max|d| %.3g, "
                  "image range [%.3f, %.3f]" % (name, sampler, steps, cfg, w, hh, count, np.abs(lat32 - lat64).max(),
                                                np.abs(img32 - img64).max(), img64.min(), img64.max()))
            rec(name + ".prompt", np.frombuffer(prompt.encode(), dtype=np.uint8), 2)
            rec(name + ".negative", np.frombuffer((neg or "").encode(), dtype=np.uint8), 2)
            rec(name + ".sampler", np.frombuffer(sampler.encode(), dtype=np.uint8), 2)
            rec(name + ".params", np.array([steps, w, hh, count], dtype=np.int32), 1)
            rec(name + ".cfg", np.array([cfg], dtype=np.float32), 0)
            rec(name + ".noise", noise, 0)
            rec(name + ".latents", lat64.astype(np.float32), 0)  # [steps, count, 4, h/8, w/8]
            rec(name + ".image", img64.astype(np.float32), 0)  # [count, H, W, 3] in [0, 1]
            rec(name + ".image_f32", img32.astype(np.float32), 0)
            rec(name + ".rgb8", u8.astype(np.int32), 1)
    rec("versions", np.frombuffer(("torch %s diffusers %s transformers %s numpy %s" % (
        torch.__version__, diffusers.__version__, transformers.__version__, np.__version__)).encode(), dtype=np.uint8), 2)
    write_records(out, recs)
    print("wrote %s (%d bytes), model hash %s" % (out, os.path.getsize(out), h))


if __name__ == "__main__":
    main()
