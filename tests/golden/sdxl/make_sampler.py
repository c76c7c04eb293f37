#!/usr/bin/env python3
"""Golden data for tests/test_sdxl_sampler.c: diffusers' SDXL schedulers (our samplers' reference).

Writes sampler_golden.json.gz:
  train: alphas_cumprod[1000], sigmas[1000] (EulerDiscreteScheduler with SDXL's config)
  schedules: for each sampler in (euler, euler_a, dpmpp_2m, dpmpp_2m_karras) and steps in
             STEPS: timesteps (what the UNet gets), sigmas (steps + 1, final 0), init_noise_sigma
  toy: a full step sequence per sampler and steps in TOY_STEPS on a toy denoiser
       eps = 0.1 * x_in + (t / 1000) * w  (x_in = scheduler.scale_model_input(latents, t)),
       driven exactly as StableDiffusionXLPipeline.__call__ drives the scheduler
       (latents = noise * init_noise_sigma; scale_model_input; step), recording latents after
       every step. euler_a draws its per-step noise through randn_tensor, which is patched to
       hand out stored standard-normal tensors in order (the C test injects the same ones).

Schedulers are built from the SDXL base scheduler_config.json values
(stabilityai/stable-diffusion-xl-base-1.0/scheduler/scheduler_config.json), then converted
with from_config the way diffusers users switch samplers:
  euler            EulerDiscreteScheduler(**SDXL)
  euler_a          EulerAncestralDiscreteScheduler.from_config(SDXL)
  dpmpp_2m         DPMSolverMultistepScheduler.from_config(SDXL)  (dpmsolver++, order 2)
  dpmpp_2m_karras  DPMSolverMultistepScheduler.from_config(SDXL, use_karras_sigmas=True)

Run: /work/venv/bin/python tests/golden/sdxl/make_sampler.py   (CPU, deterministic)
"""
import gzip
import json
import os

import numpy as np
import torch
import diffusers
import diffusers.schedulers.scheduling_euler_ancestral_discrete as ea_mod
from diffusers import DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler

SDXL = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "use_karras_sigmas": False,
}
STEPS = [1, 2, 3, 4, 7, 10, 15, 20, 25, 30, 40, 50, 100, 150]
TOY_STEPS = [1, 4, 15, 25]
TOY_SHAPE = (1, 4, 4, 4)


def make(name):
    base = EulerDiscreteScheduler(**{k: v for k, v in SDXL.items() if k not in ("clip_sample", "set_alpha_to_one",
                                                                                 "skip_prk_steps", "sample_max_value")})
    if name == "euler":
        return base
    if name == "euler_a":
        return EulerAncestralDiscreteScheduler.from_config(base.config)
    if name == "dpmpp_2m":
        return DPMSolverMultistepScheduler.from_config(base.config)
    if name == "dpmpp_2m_karras":
        return DPMSolverMultistepScheduler.from_config(base.config, use_karras_sigmas=True)
    raise ValueError(name)


def f32list(a):
    return [float(np.float32(x)) for x in np.asarray(a, dtype=np.float32).reshape(-1)]


class NoiseFeed:
    def __init__(self, arrays):
        self.arrays = list(arrays)
        self.i = 0

    def __call__(self, shape, generator=None, device=None, dtype=None, layout=None):
        a = self.arrays[self.i]
        self.i += 1
        assert tuple(shape) == a.shape, (shape, a.shape)
        return torch.from_numpy(a).to(dtype or torch.float32)


def main():
    torch.set_grad_enabled(False)
    out = {"versions": {"torch": torch.__version__, "diffusers": diffusers.__version__, "numpy": np.__version__}}
    eu = make("euler")
    ac = eu.alphas_cumprod.numpy()
    out["train"] = {
        "alphas_cumprod": f32list(ac),
        "sigmas": f32list((((1 - eu.alphas_cumprod) / eu.alphas_cumprod) ** 0.5).numpy()),
    }
    scheds = []
    for name in ("euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras"):
        for n in STEPS:
            s = make(name)
            s.set_timesteps(n)
            scheds.append({
                "sampler": name,
                "steps": n,
                "timesteps": f32list(s.timesteps.numpy().astype(np.float32)),
                "sigmas": f32list(s.sigmas.numpy()),
                "init_noise_sigma": float(np.float32(float(s.init_noise_sigma))),
            })
    out["schedules"] = scheds

    rng = np.random.default_rng(20261127)
    n_el = int(np.prod(TOY_SHAPE))
    w = rng.standard_normal(TOY_SHAPE).astype(np.float32)
    toys = []
    for name in ("euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras"):
        for n in TOY_STEPS:
            s = make(name)
            s.set_timesteps(n)
            noise0 = rng.standard_normal(TOY_SHAPE).astype(np.float32)
            step_noise = [rng.standard_normal(TOY_SHAPE).astype(np.float32) for _ in range(n)] if name == "euler_a" else []
            feed = NoiseFeed(step_noise)
            ea_mod.randn_tensor = feed
            wt = torch.from_numpy(w)
            latents = torch.from_numpy(noise0) * s.init_noise_sigma  # prepare_latents
            traj = []
            for t in s.timesteps:
                x_in = s.scale_model_input(latents, t)
                eps = x_in * 0.1 + (t / 1000) * wt
                latents = s.step(eps, t, latents, return_dict=False)[0]
                traj.append(f32list(latents.numpy()))
            assert feed.i == len(step_noise)
            toys.append({
                "sampler": name,
                "steps": n,
                "noise0": f32list(noise0),
                "step_noise": [f32list(a) for a in step_noise],
                "latents": traj,
            })
    out["toy"] = {"shape": list(TOY_SHAPE), "w": f32list(w), "runs": toys}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sampler_golden.json.gz")
    with gzip.GzipFile(path, "wb", mtime=0) as fh:
        fh.write(json.dumps(out, separators=(",", ":")).encode())
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
