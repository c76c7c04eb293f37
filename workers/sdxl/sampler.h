/* SDXL samplers: the discrete DDPM schedule SDXL was trained with, and Euler, Euler-ancestral and
 * DPM++ 2M (optionally with Karras sigmas) exactly as diffusers runs them for SDXL.
 * References (huggingface/diffusers 0.42): schedulers/scheduling_euler_discrete.py,
 * scheduling_euler_ancestral_discrete.py, scheduling_dpmsolver_multistep.py, with the SDXL base
 * scheduler_config.json (scaled_linear 0.00085..0.012, 1000 steps, timestep_spacing "leading",
 * steps_offset 1, interpolation "linear", epsilon prediction). */
#ifndef OV_SDXL_SAMPLER_H
#define OV_SDXL_SAMPLER_H

#include <stddef.h>

#define OV_SDXL_TRAIN_STEPS 1000
#define OV_SDXL_STEPS_MAX 150

enum ov_sdxl_sampler_kind {
    OV_SDXL_EULER = 0,       /* EulerDiscreteScheduler (SDXL's default) */
    OV_SDXL_EULER_A,         /* EulerAncestralDiscreteScheduler */
    OV_SDXL_DPMPP_2M,        /* DPMSolverMultistepScheduler, dpmsolver++, order 2 */
    OV_SDXL_DPMPP_2M_KARRAS, /* the same with use_karras_sigmas */
    OV_SDXL_SAMPLER_COUNT
};

/* Sampler name -> kind. Accepted (case-insensitive; ' ' and '-' read as '_'): our names
 * euler | euler_a | dpmpp_2m | dpmpp_2m_karras (supervisor/job_contract.h), A1111 names ("Euler",
 * "Euler a", "DPM++ 2M", "DPM++ 2M Karras", "k_euler", "k_euler_a", "k_dpmpp_2m"), ComfyUI's
 * "euler_ancestral", and the diffusers class names (EulerDiscreteScheduler,
 * EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler = dpmpp_2m). NULL or "" -> euler.
 * 0, or OV_EINVAL with err naming the value and the accepted names. */
int ov_sdxl_sampler_parse(const char *name, int *kind, char *err, size_t errlen);
/* Canonical name ("euler_a"), A1111 display name ("Euler a"), diffusers class name. Never NULL. */
const char *ov_sdxl_sampler_name(int kind);
const char *ov_sdxl_sampler_a1111_name(int kind);
const char *ov_sdxl_sampler_diffusers_name(int kind);

/* The training schedule as diffusers computes it in float32: betas = linspace(√0.00085, √0.012,
 * 1000)² (torch's CPU linspace: fma from each end), alphas_cumprod = cumprod(1 − betas)
 * (accumulated in double, stored float, as torch does), sigmas = √((1 − ā)/ā). Either pointer may
 * be NULL. */
void ov_sdxl_train_schedule(float alphas_cumprod[OV_SDXL_TRAIN_STEPS], float sigmas[OV_SDXL_TRAIN_STEPS]);

/* One inference schedule. timesteps[i] is what the UNet gets at step i (integers for every kind
 * here), sigmas[0..steps] the noise levels (sigmas[steps] = 0). init_noise_sigma: the initial
 * latents are N(0, 1) · init_noise_sigma (√(σ₀² + 1) for the Euler kinds with "leading"
 * spacing, 1 for DPM++, which works in the variance-preserving parametrisation). */
typedef struct ov_sdxl_schedule {
    int kind;
    int steps;
    float timesteps[OV_SDXL_STEPS_MAX];
    float sigmas[OV_SDXL_STEPS_MAX + 1];
    float init_noise_sigma;
} ov_sdxl_schedule;

/* Fill s for kind and steps (1..OV_SDXL_STEPS_MAX). 0 or OV_EINVAL (unknown kind, steps out of
 * range). */
int ov_sdxl_schedule_init(ov_sdxl_schedule *s, int kind, int steps);

/* scale_model_input: the UNet input at step i is x / divisor (√(σᵢ² + 1) for the Euler kinds,
 * 1 for DPM++). */
float ov_sdxl_schedule_input_divisor(const ov_sdxl_schedule *s, int i);

/* Image-to-image (diffusers StableDiffusionXLImg2ImgPipeline.get_timesteps, denoising_start None):
 * the schedule step the run starts at for denoise `strength` in [0, 1]:
 * t_start = steps − min(int(steps · strength), steps). diffusers refuses a strength that leaves no
 * step (int(steps · strength) == 0, strength 0 included); here that is clamped to one step
 * (t_start = steps − 1), the smallest change the model can make. Returns −1 for steps or strength out of range. */
int ov_sdxl_img2img_begin(int steps, double strength);

/* scheduler.add_noise at schedule step i (set_begin_index(i), as the img2img pipeline calls it):
 * Euler kinds: out = x0 + noise · σᵢ; DPM++: out = αᵢ·x0 + σ'ᵢ·noise with αᵢ = 1/√(σᵢ² + 1),
 * σ'ᵢ = σᵢ·αᵢ. Float32 in diffusers' order. out may be x0. */
void ov_sdxl_schedule_add_noise(const ov_sdxl_schedule *s, int i, const float *x0, const float *noise, float *out,
                                size_t n);

/* Per-run state (DPM++ keeps the previous x0 prediction). */
typedef struct ov_sdxl_sampler {
    const ov_sdxl_schedule *sch;
    size_t n;       /* elements per latent buffer */
    float *prev_x0; /* DPM++: previous model output (converted to x0), n floats; owned */
    int lower_order_nums;
    int next_step;
} ov_sdxl_sampler;

/* Start a run over latent buffers of n floats. The schedule must outlive the sampler.
 * 0, OV_EINVAL, OV_ENOMEM. Free with ov_sdxl_sampler_free (a zeroed sampler is fine). */
int ov_sdxl_sampler_init(ov_sdxl_sampler *sp, const ov_sdxl_schedule *s, size_t n);
void ov_sdxl_sampler_free(ov_sdxl_sampler *sp);
/* Start at schedule step `begin` instead of 0 (image-to-image: scheduler.set_begin_index). Call
 * after init, before the first step. DPM++ treats its first step as first order wherever it
 * starts, as diffusers does (lower_order_nums counts the steps run). 0 or OV_EINVAL. */
int ov_sdxl_sampler_begin_at(ov_sdxl_sampler *sp, int begin);

/* Whether step() needs a noise buffer (Euler-ancestral). */
int ov_sdxl_sampler_needs_noise(int kind);

/* scheduler.step for step i (must be called for i = begin, begin + 1, ... in order; begin 0 unless
 * ov_sdxl_sampler_begin_at): eps is the (guided)
 * model output for x at sigmas[i]; x [n] is replaced by the latents at sigmas[i+1]. noise [n]:
 * standard normal draws for Euler-ancestral (required there, ignored otherwise). Arithmetic in
 * float32 in diffusers' operation order. 0 or OV_EINVAL (out of order, missing noise). */
int ov_sdxl_sampler_step(ov_sdxl_sampler *sp, int i, const float *eps, float *x, const float *noise);

#endif
