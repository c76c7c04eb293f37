#!/usr/bin/env python3
"""Golden data for tests/test_sdxl_img2img.c: complete SDXL image-to-image runs of diffusers'
StableDiffusionXLImg2ImgPipeline assembled from the tiny random-weight model (the same components,
configs and strict loads as make_pipeline.py, imported from it).

Each case passes a deterministic RGB init image (PIL, already at the output size, so diffusers'
VaeImageProcessor does no resize), a strength, and one generator per image. The random draws are
replaced by OURS (stored, standard normal) so both pipelines see the same numbers:
  * retrieve_latents(vae.encode(image[i:i+1]), generator[i]) -> mean + std * eps[i]
    (DiagonalGaussianDistribution.sample with our eps),
  * randn_tensor(...) in prepare_latents -> noise (scheduler.add_noise's noise).
The VAE's force_upcast is switched off so the float64 run encodes in float64 too.
Recorded: the init latents after add_noise, the latents after every step that runs
(callback_on_step_end), the output_type="np" images (float64 reference), and the float32 run's
uint8 pixels (numpy_to_pil rounding).

Usage:
  build/bin/ourvidz-mkmodel sdxl --preset tiny --out /tmp/sdxl_tiny
  /work/venv/bin/python tests/golden/sdxl/make_img2img.py /tmp/sdxl_tiny/model.safetensors
Writes img2img_golden.bin.gz beside this script (record format as make_pipeline.py).
"""
import os
import sys
import tempfile

import numpy as np
import torch
import diffusers
import transformers
from PIL import Image
from safetensors.torch import load_file
from diffusers import StableDiffusionXLImg2ImgPipeline
from diffusers.pipelines.stable_diffusion_xl import pipeline_stable_diffusion_xl_img2img as i2i_mod

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_pipeline as mp  # noqa: E402  (build, make_tokenizers, scheduler, model_hash)

# (name, prompt, negative (None = empty), sampler, steps, strength, cfg, width, height, count)
CASES = [
    ("i0", "a photo of a cat", None, "euler", 8, 0.6, 6.0, 64, 64, 1),
    ("i1", "a red car on a street at night, rain", "blurry, low quality", "dpmpp_2m_karras", 6, 0.5, 7.5, 96, 64, 2),
    ("i2", "an astronaut riding a horse", None, "euler", 4, 1.0, 5.0, 64, 64, 1),
    ("i3", "a photo of a cat", None, "dpmpp_2m", 5, 0.35, 6.0, 64, 64, 1),
]


def scheduler(name):
    if name == "dpmpp_2m":
        return diffusers.DPMSolverMultistepScheduler.from_config(mp.scheduler("euler").config)
    return mp.scheduler(name)


def init_image(w, h, rng):
    """Smooth colour gradients plus a little noise: an image the VAE maps to non-trivial latents."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 127 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0)
    g = 255 * x / max(w - 1, 1)
    b = 255 * (1 - y / max(h - 1, 1))
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (h, w, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def run(pipe, case, img, eps, noise, dtype):
    name, prompt, neg, sampler, steps, strength, cfg, w, h, count = case
    pipe.scheduler = scheduler(sampler)
    pipe.to(dtype)
    eps_rows = iter(range(count))
    added = []

    def fake_retrieve(enc, generator=None, sample_mode="sample"):
        i = next(eps_rows)
        d = enc.latent_dist
        return d.mean + d.std * torch.from_numpy(eps[i:i + 1]).to(d.mean.dtype)

    def fake_randn(shape, generator=None, device=None, dtype=None, layout=None):
        assert tuple(shape) == noise.shape, (shape, noise.shape)
        return torch.from_numpy(noise).to(dtype)

    orig_add = pipe.scheduler.add_noise

    def add_noise(x0, nz, t):
        out = orig_add(x0, nz, t)
        added.append(out.detach().to(torch.float64).numpy().copy())
        return out

    pipe.scheduler.add_noise = add_noise
    i2i_mod.retrieve_latents, i2i_mod.randn_tensor = fake_retrieve, fake_randn
    steps_lat = []

    def on_step(p, i, t, kw):
        steps_lat.append(kw["latents"].detach().to(torch.float64).numpy().copy())
        return kw

    with torch.no_grad():
        out = pipe(prompt=prompt, negative_prompt=neg, image=Image.fromarray(img), strength=strength,
                   num_inference_steps=steps, guidance_scale=cfg, width=w, height=h, num_images_per_prompt=count,
                   generator=[torch.Generator().manual_seed(k) for k in range(count)], output_type="np",
                   callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"])
    assert len(added) == 1
    return added[0], np.stack(steps_lat), np.asarray(out.images, dtype=np.float64)


def main():
    model = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "img2img_golden.bin.gz")
    torch.manual_seed(0)
    sd = load_file(model)
    recs = []

    def rec(name, arr, dtype):
        recs.append((name, np.ascontiguousarray(arr), dtype))

    with tempfile.TemporaryDirectory() as tmp:
        tok1, tok2 = mp.make_tokenizers(tmp)
        te1, te2, unet, vae = mp.build(sd)
        vae.register_to_config(force_upcast=False)
        pipe = StableDiffusionXLImg2ImgPipeline(vae=vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tok1,
                                                tokenizer_2=tok2, unet=unet, scheduler=scheduler("euler"),
                                                force_zeros_for_empty_prompt=True, add_watermarker=False,
                                                requires_aesthetics_score=False)
        pipe.set_progress_bar_config(disable=True)
        rng = np.random.default_rng(20261128)
        h = mp.model_hash(model)
        rec("model_hash", np.frombuffer(h.encode(), dtype=np.uint8), 2)
        for case in CASES:
            name, prompt, neg, sampler, steps, strength, cfg, w, hh, count = case
            img = init_image(w, hh, rng)
            eps = rng.standard_normal((count, 4, hh // 8, w // 8)).astype(np.float32)
            noise = rng.standard_normal((count, 4, hh // 8, w // 8)).astype(np.float32)
            x0_64, lat64, img64 = run(pipe, case, img, eps, noise, torch.float64)
            x0_32, lat32, img32 = run(pipe, case, img, eps, noise, torch.float32)
            u8 = (img32.astype(np.float32) * 255).round().astype(np.uint8)
            begin = steps - min(int(steps * strength), steps)
            assert lat64.shape[0] == steps - begin, (lat64.shape, steps, begin)
            print("%s: %s steps %d strength %.2f (begin %d) cfg %.1f %dx%d x%d | f32 vs f64: init latents max|d| %.3g, "
                  "latents %.3g, image %.3g" % (name, sampler, steps, strength, begin, cfg, w, hh, count,
                                                np.abs(x0_32 - x0_64).max(), np.abs(lat32 - lat64).max(),
                                                np.abs(img32 - img64).max()))
            rec(name + ".prompt", np.frombuffer(prompt.encode(), dtype=np.uint8), 2)
            rec(name + ".negative", np.frombuffer((neg or "").encode(), dtype=np.uint8), 2)
            rec(name + ".sampler", np.frombuffer(sampler.encode(), dtype=np.uint8), 2)
            rec(name + ".params", np.array([steps, w, hh, count, begin], dtype=np.int32), 1)
            rec(name + ".cfg", np.array([cfg], dtype=np.float32), 0)
            rec(name + ".strength", np.array([strength], dtype=np.float32), 0)
            rec(name + ".init_rgb", img, 2)  # [H, W, 3] bytes
            rec(name + ".eps", eps, 0)
            rec(name + ".noise", noise, 0)
            rec(name + ".x_init", x0_64.astype(np.float32), 0)  # [count, 4, h/8, w/8] after add_noise
            rec(name + ".latents", lat64.astype(np.float32), 0)  # [steps run, count, 4, h/8, w/8]
            rec(name + ".image", img64.astype(np.float32), 0)  # [count, H, W, 3] in [0, 1]
            rec(name + ".rgb8", u8, 2)  # [count, H, W, 3] bytes
    rec("versions", np.frombuffer(("torch %s diffusers %s transformers %s numpy %s" % (
        torch.__version__, diffusers.__version__, transformers.__version__, np.__version__)).encode(), dtype=np.uint8), 2)
    mp.write_records(out, recs)
    print("wrote %s (%d bytes), model hash %s" % (out, os.path.getsize(out), h))


if __name__ == "__main__":
    main()
