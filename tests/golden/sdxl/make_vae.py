#!/usr/bin/env python3
"""Golden data for workers/sdxl/vae.c (tests/test_sdxl_vae.c).

The tiny VAE's weights are the ones the C test writes (`test_sdxl_vae --write-model PATH`:
tools/mkmodel/sdxl_vae.c's "tiny" list, seed 42, f32, single-file names first_stage_model.*).
They are converted with diffusers' own convert_ldm_vae_checkpoint and loaded strictly into a
diffusers AutoencoderKL built from the tiny config (no downloads), run on the CPU in float64.

Writes raw little-endian float32 files next to this script:
  vae_dec_z_8x8.f32     [1,4,8,8]    randn (seed 1)      vae_dec_img_8x8.f32   [1,3,64,64]
  vae_dec_z_8x12.f32    [1,4,8,12]   randn (seed 2)      vae_dec_img_8x12.f32  [1,3,64,96]
  vae_enc_img_64.f32    [1,3,64,64]  uniform(-1,1) (seed 3)
  vae_enc_mean_64.f32   [1,4,8,8]    encode(img).latent_dist.mean
and prints the parameter count of the real SDXL VAE config (asserted by the C test against the
"full" mkmodel list).

Usage: /work/venv/bin/python tests/golden/sdxl/make_vae.py build-sdxlvae/tests/test_sdxl_vae
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from diffusers import AutoencoderKL
from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))

TINY = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4,
    block_out_channels=[32, 64, 64, 64],
    layers_per_block=2,
    act_fn="silu",
    latent_channels=4,
    norm_num_groups=32,
    sample_size=64,
    scaling_factor=0.13025,
)
FULL = dict(TINY, block_out_channels=[128, 256, 512, 512], sample_size=1024)


def save(name, t):
    a = t.detach().to(torch.float32).contiguous().numpy().astype("<f4")
    a.tofile(os.path.join(HERE, name))
    print(f"{name}: {list(t.shape)} max|x| {float(t.abs().max()):.4f}")


def main():
    test_bin = sys.argv[1] if len(sys.argv) > 1 else "build-sdxlvae/tests/test_sdxl_vae"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "vae.safetensors")
        subprocess.run([test_bin, "--write-model", path], check=True)
        sd = load_file(path)
    conv = convert_ldm_vae_checkpoint(sd, TINY)
    vae = AutoencoderKL(**TINY)
    vae.load_state_dict(conv, strict=True)  # every tensor used, every parameter provided
    assert len(conv) == len(sd), (len(conv), len(sd))
    vae = vae.double().eval()

    with torch.no_grad():
        for seed, (h, w) in ((1, (8, 8)), (2, (8, 12))):
            g = torch.Generator().manual_seed(seed)
            z = torch.randn(1, 4, h, w, generator=g, dtype=torch.float64)
            z = z.float().double()  # the stored f32 input is exactly what was decoded
            img = vae.decode(z).sample
            save(f"vae_dec_z_{h}x{w}.f32", z)
            save(f"vae_dec_img_{h}x{w}.f32", img)
        g = torch.Generator().manual_seed(3)
        x = (torch.rand(1, 3, 64, 64, generator=g, dtype=torch.float64) * 2 - 1).float().double()
        mean = vae.encode(x).latent_dist.mean
        save("vae_enc_img_64.f32", x)
        save("vae_enc_mean_64.f32", mean)

    full = AutoencoderKL(**FULL)
    print("full SDXL VAE parameters:", sum(p.numel() for p in full.parameters()))
    print("versions: torch", torch.__version__, "diffusers", __import__("diffusers").__version__,
          "numpy", np.__version__)


if __name__ == "__main__":
    main()
