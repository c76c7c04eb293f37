#!/usr/bin/env python3
"""Golden data for the SDXL UNet (tests/test_sdxl_unet.c).

Reference: diffusers UNet2DConditionModel built from a config matching the mkmodel "tiny" UNet
(tools/mkmodel/sdxl_unet.c), weights = our single-file tensors (model.diffusion_model.*)
converted by diffusers' own convert_ldm_unet_checkpoint and loaded with strict=True, so every
tensor of the file is proven used and every module parameter proven present. CPU, float32.

Usage:
  build/tests/test_sdxl_unet --write-model /tmp/unet_tiny.safetensors
  # (or: build/bin/ourvidz-mkmodel sdxl --preset tiny --out /tmp/sdxl; use /tmp/sdxl/model.safetensors)
  /work/venv/bin/python tests/golden/sdxl/make_unet.py /tmp/unet_tiny.safetensors tests/golden/sdxl

Writes raw little-endian f32 files unet_*.f32 (shapes in README.md).

  /work/venv/bin/python tests/golden/sdxl/make_unet.py --check-full FILE
checks instead that the UNet tensors of a full-preset file (ourvidz-mkmodel sdxl --preset full, or
what bench_sdxl_unet writes) have exactly the names and shapes diffusers' converter expects for the
real SDXL base UNet config (built on the meta device: no weights are read or allocated).
"""
import os
import sys

import numpy as np
import torch
from diffusers import UNet2DConditionModel
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint
from safetensors.torch import load_file


SDXL_BASE = dict(  # stabilityai/stable-diffusion-xl-base-1.0 unet/config.json
    sample_size=128, in_channels=4, out_channels=4,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    block_out_channels=(320, 640, 1280), layers_per_block=2, transformer_layers_per_block=(1, 2, 10),
    attention_head_dim=(5, 10, 20), cross_attention_dim=2048, use_linear_projection=True,
    addition_embed_type="text_time", addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816,
    norm_num_groups=32, norm_eps=1e-5, flip_sin_to_cos=True, freq_shift=0, act_fn="silu",
)


def check_full(path):
    from safetensors import safe_open

    with safe_open(path, "np") as f:
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys() if k.startswith("model.diffusion_model.")}
    with torch.device("meta"):
        unet = UNet2DConditionModel(**SDXL_BASE)
        fake = {k: torch.empty(s) for k, s in shapes.items()}
    conv = convert_ldm_unet_checkpoint(fake, unet.config)
    want = {k: tuple(v.shape) for k, v in unet.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in conv.items()}
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    bad = sorted(k for k in set(want) & set(got) if want[k] != got[k])
    print("%d file tensors, %d converted, %d model params; missing %d, unexpected %d, wrong shape %d"
          % (len(shapes), len(conv), len(want), len(missing), len(extra), len(bad)))
    for k in (missing + extra + bad)[:20]:
        print("  ", k, want.get(k), got.get(k))
    n = sum(int(np.prod(s)) for s in shapes.values())
    print("UNet parameters: %d (%.3f B)" % (n, n / 1e9))
    return 0 if not (missing or extra or bad) and len(conv) == len(shapes) else 1


def main():
    if sys.argv[1] == "--check-full":
        sys.exit(check_full(sys.argv[2]))
    src, out_dir = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    sd = {k: v.float() for k, v in load_file(src).items() if k.startswith("model.diffusion_model.")}

    # SDXL base expressed in diffusers terms: its sgm transformer_depth [0, 2, 10] is
    # transformer_layers_per_block [1, 2, 10] on (DownBlock2D, CrossAttn, CrossAttn) (the first
    # entry is unused by DownBlock2D); mid depth = the last entry. attention_head_dim is diffusers'
    # historical name for the NUMBER of heads per level (SDXL [5, 10, 20] = width / 64).
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(64, 128, 256),
        layers_per_block=2,
        transformer_layers_per_block=(1, 1, 2),
        attention_head_dim=(1, 2, 4),
        cross_attention_dim=256,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=32,
        projection_class_embeddings_input_dim=320,
        norm_num_groups=32,
        norm_eps=1e-5,
        flip_sin_to_cos=True,
        freq_shift=0,
        act_fn="silu",
    )
    conv = convert_ldm_unet_checkpoint(sd, unet.config)
    unet.load_state_dict(conv, strict=True)
    # every file tensor went somewhere: the converter's output has one entry per file tensor
    assert len(conv) == len(sd), (len(conv), len(sd))
    unet.eval()

    g = torch.Generator().manual_seed(1234)
    B = 2
    t = torch.tensor([999.0, 261.5])
    context = torch.randn(B, 77, 256, generator=g)
    text_embeds = torch.randn(B, 128, generator=g)
    time_ids = torch.tensor([[1024.0, 1024.0, 0.0, 0.0, 1024.0, 1024.0], [768.0, 1344.0, 16.0, 32.0, 768.0, 1344.0]])
    # sgm y = cat(pooled text, fourier(time ids)) — exactly what diffusers builds inside forward
    y = torch.cat([text_embeds, unet.add_time_proj(time_ids.flatten()).reshape(B, -1)], dim=-1)
    assert y.shape == (B, 320)

    outs = {}
    with torch.no_grad():
        for name, (h, w) in (("sq", (8, 8)), ("wide", (8, 16))):
            x = torch.randn(B, 4, h, w, generator=g)
            o = unet(x, t, encoder_hidden_states=context,
                     added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids}).sample
            outs[name] = (x, o)
            print(name, "out std %.4f max|.| %.4f" % (o.std().item(), o.abs().max().item()))

    def save(n, a):
        np.ascontiguousarray(a.detach().numpy().astype("<f4")).tofile(os.path.join(out_dir, n))

    save("unet_t.f32", t)
    save("unet_context.f32", context)
    save("unet_y.f32", y)
    for name, (x, o) in outs.items():
        save("unet_x_%s.f32" % name, x)
        save("unet_out_%s.f32" % name, o)


if __name__ == "__main__":
    main()
